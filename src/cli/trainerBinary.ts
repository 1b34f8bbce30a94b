import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "../core/errors.js";

/**
 * The `prism-trainer` binary: `$PRISM_TRAINER` if set, else the cached build of this checkout
 * (`scripts/buildTrainer.mjs --print-path`, which hashes the sources and patches without compiling).
 */
export function trainerBinary(): string {
  const fromEnv = process.env.PRISM_TRAINER;
  if (fromEnv) return fromEnv;
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const script = join(root, "scripts", "buildTrainer.mjs");
  if (existsSync(script)) {
    const r = spawnSync(process.execPath, [script, "--print-path"], { cwd: root, encoding: "utf8" });
    const path = r.stdout.trim();
    if (r.status === 0 && path) return path;
  }
  throw new AppError(
    "trainer/notBuilt",
    'The LoRA trainer is not built for this checkout; run "npm run build:trainer" (needs cmake and a C++ compiler), or set PRISM_TRAINER.',
  );
}
