import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors.js";

/**
 * llama.cpp's `llama-server`, built with prism-trainer from the same bundled llama.cpp source (docs/trainer.md §3):
 * `$PRISM_LLAMA_SERVER` if set, else the cached build of the checkout at `root`
 * (`scripts/buildTrainer.mjs --print-server-path`, which hashes the sources without compiling). Not built:
 * `serve/llamaServerNotBuilt`.
 */
export function llamaServerBinary(root: string): string {
  const fromEnv = process.env.PRISM_LLAMA_SERVER;
  if (fromEnv) return fromEnv;
  const script = join(root, "scripts", "buildTrainer.mjs");
  if (existsSync(script)) {
    const r = spawnSync(process.execPath, [script, "--print-server-path"], { cwd: root, encoding: "utf8" });
    const path = r.stdout.trim();
    if (r.status === 0 && path) return path;
  }
  throw new AppError(
    "serve/llamaServerNotBuilt",
    'llama-server is not built for this checkout; run "npm run build:trainer" (needs cmake and a C++ compiler), or set PRISM_LLAMA_SERVER.',
  );
}
