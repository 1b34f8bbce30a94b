/**
 * `npm run bench:route`: (1) compare view — wall time of base + persona generated concurrently in two contexts
 * vs one stream alone (ratio; 2.0 would mean no overlap at all), and (2) cold start to first token — a fresh
 * engine process, model load, context and the first streamed token, in alternating runs on the bench model.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { readBundle } from "../src/core/bundle/readBundle.js";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { ModelSession } from "../src/core/engine/ModelSession.js";
import { createRouter } from "../src/core/routing/createRouter.js";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { makeBundle } from "../testkit/makeBundle.js";
import { benchModelPath, machine, median, writeBenchResult } from "./benchUtil.js";

const runs = Number(process.env.BENCH_RUNS ?? 5);
const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());
const maxTokens = Number(process.env.BENCH_TOKENS ?? 48);
const dir = await mkdtemp(join(tmpdir(), "prism-bench-route-"));
// BENCH_BUNDLE: a distilled bundle (e.g. bench:distill's quick job on the 0.5B shape) with its real adapter and
// gate; otherwise a hand-made bundle on the bench model.
if (!process.env.BENCH_BUNDLE) await makeBundle(join(dir, "b.prism"), await benchModelPath(), { width: 1024 });
const bundle = await readBundle(process.env.BENCH_BUNDLE ?? join(dir, "b.prism"));
const modelPath = String((bundle.manifest.training as { model: { path: string } }).model.path);

const engine = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
const session = new ModelSession(engine, { modelPath, gpu: "false", threads });
const router = createRouter({ session, bundle, featureCacheDir: dir, contextSize: 1024, threads, gpu: "false" });
const prompt = "Describe the water cycle in a few sentences.";
await router.route(prompt, { mode: "compare", maxTokens: 8 }); // warm-up
const single: number[] = [];
const both: number[] = [];
for (let i = 0; i < runs; i++) {
  for (const mode of i % 2 === 0 ? (["base", "compare"] as const) : (["compare", "base"] as const)) {
    const r = await router.route(prompt, { mode, maxTokens });
    (mode === "compare" ? both : single).push(r.totalMs);
  }
}
await engine.dispose();

const cold: number[] = [];
for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
  const t = performance.now();
  const e = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
  const s = new ModelSession(e, { modelPath, gpu: "false", threads });
  const contextId = await s.context("c", { contextSize: 512, threads });
  let first = 0;
  await e.request(
    "engine/generate",
    { contextId, messages: [{ role: "user", content: prompt }], maxTokens: 2 },
    {
      onChunk: () => (first ||= performance.now() - t),
    },
  );
  cold.push(first);
  await e.dispose();
}
await rm(dir, { recursive: true, force: true });

const ratio = median(both) / median(single);
console.log(
  `machine: ${machine()}; ${modelPath}; threads ${threads}; ${maxTokens} tokens per side; ${runs} alternating runs`,
);
console.log(
  `single stream (base): ${median(single).toFixed(0)} ms; compare (both sides concurrently): ${median(both).toFixed(0)} ms`,
);
console.log(`compare-view wall / single stream: ${ratio.toFixed(2)} (2.00 = no overlap; includes the gate)`);
console.log(
  `cold start to first token (new engine process + model load + first token): median ${median(cold).toFixed(0)} ms`,
);
await writeBenchResult("route", {
  compareOverSingle: ratio,
  singleStreamMs: median(single),
  compareMs: median(both),
  coldStartToFirstTokenMs: median(cold),
  bundle: process.env.BENCH_BUNDLE
    ? `${bundle.manifest.adapter.targets.length} targets r${bundle.manifest.adapter.rank}, ${basename(modelPath)}`
    : "bench",
});
