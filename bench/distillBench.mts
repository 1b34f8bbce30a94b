/**
 * `npm run bench:distill`: stage-2 throughput (answers per second) with 1 vs N parallel sequences of one context,
 * and stage 1's query generations with the persona's shared prefix reused vs evaluated per request
 * (docs/engine.md §11), on the bench-size model (`BENCH_SHAPE=qwen05b`: Qwen2.5-0.5B's shape, 151,936-token
 * vocabulary). Alternating runs, medians, ratios.
 */
import { resolve } from "node:path";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { ModelSession } from "../src/core/engine/ModelSession.js";
import { runPool } from "../src/core/distill/runPool.js";
import { DEFAULT_PERSONAS } from "../src/core/pipeline/personas.js";
import { queryGenerationMessages, queryGenerationPrefix } from "../src/core/pipeline/prompts.js";
import { EngineGenerator, generatorContextKey } from "../src/core/pipeline/TextGenerator.js";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { benchModelPath, machine, median, qwen05bModelPath, writeBenchResult } from "./benchUtil.js";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const parallel = Number(process.env.BENCH_SEQUENCES ?? 4);
const items = Number(process.env.BENCH_ITEMS ?? 8);
const maxTokens = Number(process.env.BENCH_TOKENS ?? 48);
const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());

const modelPath = process.env.BENCH_SHAPE === "qwen05b" ? await qwen05bModelPath() : await benchModelPath();
const engine = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
const session = new ModelSession(engine, { modelPath, gpu: "false", threads });
await session.model();
const generators = [1, parallel].map(
  (sequences) => new EngineGenerator({ session, contextSize: 512, threads, sequences }),
);

async function itemsPerSecond(g: EngineGenerator, round: number): Promise<number> {
  const work = Array.from({ length: items }, (_, i) => i);
  const t = performance.now();
  await runPool(work, g.concurrency, async (i) => {
    await g.generate([{ role: "user", content: `Question ${round}-${i}: explain topic number ${i} in detail.` }], {
      temperature: 0.7,
      maxTokens,
      seed: i,
    });
  });
  return items / ((performance.now() - t) / 1000);
}

await itemsPerSecond(generators[0]!, -1); // warm-up
await itemsPerSecond(generators[1]!, -1);
const r1: number[] = [];
const rN: number[] = [];
for (let i = 0; i < runs; i++) {
  for (const g of i % 2 === 0 ? generators : [...generators].reverse())
    (g.concurrency === 1 ? r1 : rN).push(await itemsPerSecond(g, i));
}
console.log(
  `machine: ${machine()}; threads ${threads}; ${items} answers of ≤ ${maxTokens} tokens per run; ${runs} alternating runs`,
);
console.log(`1 sequence:  ${median(r1).toFixed(3)} answers/s`);
console.log(`${parallel} sequences: ${median(rN).toFixed(3)} answers/s`);
console.log(`ratio ${parallel} / 1: ${(median(rN) / median(r1)).toFixed(2)}`);

// Stage 1: one persona's queries in one sequence, its prompt but "Question i:" shared (reused) or not.
const persona = DEFAULT_PERSONAS[0]!.text;
const queryTokens = Number(process.env.BENCH_QUERY_TOKENS ?? 24);
async function queriesPerSecond(shared: boolean, round: number): Promise<{ rate: number; cached: number }> {
  let cached = 0;
  const t = performance.now();
  for (let i = 0; i < items; i++) {
    const r = await session.engine.request("engine/generate", {
      // the 1-sequence generator's context, warm from the answers above
      contextId: await session.context(generatorContextKey(1), { contextSize: 512, threads, sequences: 1 }),
      messages: queryGenerationMessages(persona, round * items + i + 1),
      temperature: 0.7,
      maxTokens: queryTokens,
      seed: i,
      thoughts: "discourage",
      sharedPrefix: shared ? queryGenerationPrefix(persona) : undefined,
    });
    cached += r.timings.cachedPromptTokens ?? 0;
  }
  return { rate: items / ((performance.now() - t) / 1000), cached };
}
await queriesPerSecond(true, -1); // warm-up
const shared: number[] = [];
const unshared: number[] = [];
let cachedTokens = 0;
for (let i = 0; i < runs; i++) {
  for (const s of i % 2 === 0 ? [true, false] : [false, true]) {
    const r = await queriesPerSecond(s, i);
    (s ? shared : unshared).push(r.rate);
    if (s) cachedTokens = r.cached / items;
  }
}
console.log(
  `stage 1, ${items} queries of ≤ ${queryTokens} tokens, one persona, 1 sequence: shared prefix ${median(shared).toFixed(3)} vs ${median(unshared).toFixed(3)} queries/s ` +
    `(ratio ${(median(shared) / median(unshared)).toFixed(2)}; ${cachedTokens.toFixed(0)} prompt tokens reused per query)`,
);
await writeBenchResult("distill", {
  answersPerSecond1: median(r1),
  answersPerSecondN: median(rN),
  sequences: parallel,
  parallelSpeedup: median(rN) / median(r1),
  queriesPerSecondShared: median(shared),
  queriesPerSecondUnshared: median(unshared),
  sharedPrefixSpeedup: median(shared) / median(unshared),
  sharedPrefixTokens: cachedTokens,
  shape: process.env.BENCH_SHAPE ?? "bench",
});
await engine.dispose();
