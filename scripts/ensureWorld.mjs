// Shared by `npm run demo` and `npm start`: makes sure a reference world (src/core/world/README.md) is built, distilled
// and evaluated, through the CLI, reusing whatever is already complete in .cache/worlds/. Returns its paths.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

function prism(args, options = {}) {
  console.log(`\n$ prism ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [join(root, "dist", "cli.mjs"), ...args], {
    stdio: "inherit",
    cwd: root,
    ...options,
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** `reduced`: the test-sized world (~5 min to train on 2 cores) instead of the full one (~15 min). */
export function ensureWorld({ reduced, seed = 1, printEval = true }) {
  const worldDir = join(root, ".cache", "worlds", `${reduced ? "reduced" : "full"}-s${seed}`);
  const bundleDir = join(worldDir, "sunny.prism");
  const args = ["world", "build", "--out", worldDir, "--seed", String(seed), ...(reduced ? ["--reduced"] : [])];
  prism(args);
  if (!existsSync(join(bundleDir, "manifest.json")))
    prism(["world", "distill", "--world", worldDir, "--out", bundleDir]);
  if (printEval || !existsSync(join(bundleDir, "evaluation.json")))
    prism(["eval", "--world", worldDir, "--bundle", bundleDir]);
  return { worldDir, modelPath: join(worldDir, "model.gguf"), bundleDir };
}

/** True when a complete full world (model, bundle and evaluation) is already there. */
export function fullWorldReady(seed = 1) {
  const bundleDir = join(root, ".cache", "worlds", `full-s${seed}`, "sunny.prism");
  return existsSync(join(bundleDir, "evaluation.json"));
}
