// The README's main job: build PRISM and its trainer, then the reference world end to end — train a 3.5 M-parameter
// model from scratch on the world's corpus, distil the persona with the PRISM pipeline, and evaluate base, persona
// prompt and PRISM on held-out prompts (src/core/world/README.md). Everything is cached in .cache/worlds/.
// PRISM_WORLD=reduced uses the small test world (~8 min instead of ~20 on 2 cores).
// With PRISM_MODEL=/path/to/model.gguf it shows that model instead (info and a chat answer).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { ensureWorld } from "./ensureWorld.mjs";

const step = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const prism = (...args) => {
  console.log(`\n$ prism ${args.map((a) => (a.includes(" ") ? JSON.stringify(a) : a)).join(" ")}`);
  step(process.execPath, ["dist/cli.mjs", ...args]);
};

step(process.execPath, ["esbuild.mjs"]);
if (process.env.PRISM_MODEL) {
  prism("info", process.env.PRISM_MODEL);
  prism(
    "chat",
    "--model",
    process.env.PRISM_MODEL,
    "--max-tokens",
    "128",
    "--timings",
    "Explain what a LoRA adapter is.",
  );
  process.exit(0);
}
step(process.execPath, ["scripts/buildTrainer.mjs"]);
const { worldDir, bundleDir } = ensureWorld({ reduced: process.env.PRISM_WORLD === "reduced" });
// A held-out prompt of each family through the router, both sides shown: the gate's decision and each side's answer.
const heldOut = readFileSync(`${worldDir}/heldout.jsonl`, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));
const examples = ["generative", "discriminative"].map((f) => heldOut.find((p) => p.family === f).prompt);
for (const prompt of examples)
  prism(
    "route",
    "--bundle",
    bundleDir,
    "--model",
    `${worldDir}/model.gguf`,
    "--threads",
    "1",
    "--mode",
    "compare",
    "--max-tokens",
    "96",
    prompt,
  );
console.log(
  `\nThe evaluation is saved in ${bundleDir}/evaluation.json; "npm start" shows it in VS Code (PRISM: Show Bundle Report).`,
);
