import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "../core/errors.js";

/**
 * The `prism-trainer` binary: `$PRISM_TRAINER` if set, else the cached build of this checkout
 * (`scripts/buildTrainer.mjs --print-path`, which hashes the sources and patches without compiling), else the one
 * a packaged extension carries (`dist/trainer/bin/`, scripts/package.mjs; an installed VSIX has no scripts/).
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
  const exe = process.platform === "win32" ? "prism-trainer.exe" : "prism-trainer";
  const packaged = join(root, "dist", "trainer", "bin", exe);
  if (existsSync(packaged)) return packaged;
  throw new AppError(
    "trainer/notBuilt",
    'The LoRA trainer is not built for this checkout; run "npm run build:trainer" (needs cmake and a C++ compiler), or set PRISM_TRAINER.',
  );
}
