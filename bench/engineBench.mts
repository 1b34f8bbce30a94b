/**
 * `npm run bench:engine`: decode speed of one stream through the engine process (fork + IPC + chunk batching)
 * versus the same engine code called in-process, on the bench-size generated model, same threads, in
 * alternating runs. Prints medians and their ratio (goal ≥ 0.97). Absolute numbers on a shared 2-core box
 * are not representative; the ratio is what this measures.
 */
import { resolve } from "node:path";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { LlamaEngine } from "../src/engine/LlamaEngine.js";
import { benchModelPath, machine, median, writeBenchResult } from "./benchUtil.js";

const runs = Number(process.env.BENCH_RUNS ?? 5);
const maxTokens = Number(process.env.BENCH_TOKENS ?? 96);
const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());
const messages = [{ role: "user" as const, content: "Write a detailed essay about the history of computing." }];

async function main(): Promise<void> {
  const modelPath = await benchModelPath();
  const load = { modelPath, gpu: "false" as const, threads, gpuLayers: 0, pooling: "last" as const };

  const local = new LlamaEngine({ log: () => undefined });
  const localModel = await local.loadModel({ ...load, gpuLayers: 0 });
  const localCtx = await local.createContext({
    modelId: localModel.modelId,
    contextSize: 1024,
    sequences: 1,
    adapters: [],
    threads,
  });

  const remote = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
  const remoteModel = await remote.request("engine/loadModel", load);
  const remoteCtx = await remote.request("engine/createContext", {
    modelId: remoteModel.modelId,
    contextSize: 1024,
    threads,
  });

  const params = { messages, maxTokens, temperature: 0 };
  const inProcess = (): Promise<number> =>
    local
      .generate({ contextId: localCtx.contextId, ...params }, new AbortController().signal, () => undefined)
      .then((r) => r.timings.tokensPerSecond);
  let chunks = 0;
  const viaEngine = (): Promise<number> =>
    remote
      .request("engine/generate", { contextId: remoteCtx.contextId, ...params }, { onChunk: () => chunks++ })
      .then((r) => r.timings.tokensPerSecond);

  // Warm-up: first decode pays page faults and thread-pool start-up on both sides.
  const first = await local.generate(
    { contextId: localCtx.contextId, ...params },
    new AbortController().signal,
    () => undefined,
  );
  await viaEngine();
  console.log(`machine: ${machine()}`);
  console.log(
    `model ${(localModel.fileSize / 1e6).toFixed(0)} MB, threads ${threads}, ${first.timings.generatedTokens} tokens per run, ${runs} alternating runs`,
  );

  const a: number[] = [];
  const b: number[] = [];
  chunks = 0;
  for (let i = 0; i < runs; i++) {
    // Alternate the order so drift in machine load hits both sides alike.
    if (i % 2 === 0) {
      a.push(await inProcess());
      b.push(await viaEngine());
    } else {
      b.push(await viaEngine());
      a.push(await inProcess());
    }
  }
  const ratio = median(b) / median(a);
  console.log(`in-process  tok/s: median ${median(a).toFixed(2)}  runs ${a.map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`via engine  tok/s: median ${median(b).toFixed(2)}  runs ${b.map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`IPC messages per run: ${(chunks / runs).toFixed(1)} for ${first.timings.generatedTokens} tokens`);
  console.log(`ratio engine / in-process: ${ratio.toFixed(3)} (goal >= 0.97)`);
  await writeBenchResult("engine", {
    engineOverInProcess: ratio,
    inProcessTokPerS: median(a),
    engineTokPerS: median(b),
  });
  await remote.dispose();
  await local.dispose();
}

await main();
