// The README's main job for now: build, generate a demo model + LoRA adapter (no weights can be downloaded
// offline), then show `prism info` and the same prompt answered by the base model and by the adapter.
// With PRISM_MODEL=/path/to/model.gguf it uses that model instead (no adapter).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const run = (args, title) => {
  if (title) console.log(`\n$ prism ${args.map((a) => (a.includes(" ") ? JSON.stringify(a) : a)).join(" ")}`);
  const r = spawnSync(process.execPath, ["dist/cli.mjs", ...args], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const build = spawnSync(process.execPath, ["esbuild.mjs"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const dir = join(".cache", "demo");
mkdirSync(dir, { recursive: true });
let model = process.env.PRISM_MODEL;
let adapter;
if (!model) {
  model = join(dir, "demo-model.gguf");
  adapter = join(dir, "demo-adapter.gguf");
  run(["make-model", "--out", model, "--adapter-out", adapter, "--seed", "1"], true);
  console.log("(a generated random-weight model: its answers are gibberish; it proves the mechanics offline)");
}
const prompt = "Explain what a LoRA adapter is.";
// The generated model is so small that thread hand-offs cost more than the matrix work: one thread is fastest.
// A real model gets the default (one thread per physical core).
const threads = adapter ? ["--threads", "1"] : [];
run(["info", model, ...threads], true);
run(["chat", "--model", model, ...threads, "--max-tokens", "48", "--timings", prompt], true);
if (adapter)
  run(["chat", "--model", model, ...threads, "--adapter", adapter, "--max-tokens", "48", "--timings", prompt], true);
