/**
 * `npm run bench:distill`: stage-2 throughput (answers per second) with 1 vs N parallel sequences of one context
 * on the bench-size model. Alternating runs, medians, ratio.
 */
import { resolve } from "node:path";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { ModelSession } from "../src/core/engine/ModelSession.js";
import { runPool } from "../src/core/distill/runPool.js";
import { EngineGenerator } from "../src/core/pipeline/TextGenerator.js";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { benchModelPath, machine, median, writeBenchResult } from "./benchUtil.js";

const runs = Number(process.env.BENCH_RUNS ?? 3);
const parallel = Number(process.env.BENCH_SEQUENCES ?? 4);
const items = Number(process.env.BENCH_ITEMS ?? 8);
const maxTokens = Number(process.env.BENCH_TOKENS ?? 48);
const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());

const modelPath = await benchModelPath();
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
await writeBenchResult("distill", {
  answersPerSecond1: median(r1),
  answersPerSecondN: median(rN),
  sequences: parallel,
  parallelSpeedup: median(rN) / median(r1),
});
await engine.dispose();
