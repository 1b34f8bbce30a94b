/**
 * `npm run bench:gate`: the cost of the gate on the bench-size model (`BENCH_SHAPE=qwen05b`: Qwen2.5-0.5B's
 * shape, Q4_K_M or `BENCH_QUANT`) — feature + MLP — with `final` features (a full prompt pass) vs `layer:1` (a
 * one-block truncated model read through its feature head, as the product does), and each as a share of a whole
 * answer (prompt + 128 generated tokens). The same `layer:1` feature as the one-block copy's embedding (how it was
 * read before the feature head) is the before of that change. Alternating runs, medians, ratios.
 */
import { mkdtempSync } from "node:fs";
import { writeTruncatedModel } from "../src/core/gguf/writeTruncatedModel.js";
import { studentMessages } from "../src/core/pipeline/studentPrompt.js";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { FeatureExtractor } from "../src/core/features/FeatureExtractor.js";
import { Gate } from "../src/core/gate/Gate.js";
import { trainGate } from "../src/core/gate/trainGate.js";
import { SeededRandom } from "../src/core/util/SeededRandom.js";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { benchModelPath, machine, median, qwen05bQuantizedPath, writeBenchResult } from "./benchUtil.js";

const runs = Number(process.env.BENCH_RUNS ?? 7);
const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());
const prompts = [
  "Explain how a hash map handles collisions, with an example in Python.",
  "Write a short, warm note thanking a colleague for their help during a difficult release.",
  "What is the derivative of x^3 * sin(x)? Show the steps.",
];

const shape = process.env.BENCH_SHAPE === "qwen05b" ? `qwen05b ${process.env.BENCH_QUANT ?? "Q4_K_M"}` : "bench";
const modelPath =
  process.env.BENCH_SHAPE === "qwen05b"
    ? await qwen05bQuantizedPath(process.env.BENCH_QUANT ?? "Q4_K_M")
    : await benchModelPath();
const engine = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
const cacheDir = mkdtempSync(join(tmpdir(), "prism-bench-gate-"));
const make = (spec: "final" | "layer1") =>
  new FeatureExtractor({
    engine,
    basePath: modelPath,
    baseFingerprint: "bench",
    spec: spec === "final" ? { source: "final", pooling: "last" } : { source: "layer", layer: 1, pooling: "last" },
    cacheDir,
    threads,
    gpu: "false",
  });
const final = make("final");
const layer1 = make("layer1");
const info = await engine.request("engine/loadModel", { modelPath, gpu: "false", threads });
const { contextId } = await engine.request("engine/createContext", {
  modelId: info.modelId,
  contextSize: 1024,
  threads,
});

// A gate of the model's width (weights do not change the cost).
const rng = new SeededRandom(1);
const samples = Array.from({ length: 40 }, (_, i) => ({
  feature: Array.from({ length: info.embeddingSize }, () => rng.normal()),
  label: (i % 2) as 0 | 1,
}));
const gate = new Gate((await trainGate(samples, { minPerClass: 4, epochs: 1 })).weights);

// The before: the one-block copy without the head, embedded (every prompt token through the output layer).
const plainPath = join(cacheDir, "plain-L1.gguf");
await writeTruncatedModel(modelPath, plainPath, 1);
const plain = await engine.request("engine/loadModel", { modelPath: plainPath, gpu: "false", threads });
const embedLayer1 = {
  async extract(prompt: string) {
    const started = performance.now();
    const r = await engine.request("engine/embed", {
      modelId: plain.modelId,
      input: { messages: studentMessages(prompt) },
    });
    return { vector: r.embedding, ms: performance.now() - started };
  },
};

await final.extract(prompts[0]!);
await layer1.extract(prompts[0]!); // warm-up: page faults, truncated-model write and load
await embedLayer1.extract(prompts[0]!);

const tFinal: number[] = [];
const tLayer: number[] = [];
const tEmbed: number[] = [];
const tMlp: number[] = [];
const tAnswer: number[] = [];
for (let i = 0; i < runs; i++) {
  const p = prompts[i % prompts.length]!;
  const all = [final, layer1, embedLayer1];
  const order = i % 2 === 0 ? all : all.reverse();
  for (const fx of order) {
    const f = await fx.extract(p);
    (fx === final ? tFinal : fx === layer1 ? tLayer : tEmbed).push(f.ms);
    const t = performance.now();
    gate.predict(f.vector);
    tMlp.push(performance.now() - t);
  }
  const a = await engine.request("engine/generate", {
    contextId,
    messages: [{ role: "user", content: p }],
    maxTokens: 128,
  });
  tAnswer.push(a.timings.totalMs);
}
const mFinal = median(tFinal) + median(tMlp);
const mLayer = median(tLayer) + median(tMlp);
const mEmbed = median(tEmbed) + median(tMlp);
const mAnswer = median(tAnswer);
console.log(
  `machine: ${machine()}; ${shape} model ${info.layers} blocks, n_embd ${info.embeddingSize}; threads ${threads}; ${runs} alternating runs`,
);
console.log(
  `gate cost, final features:   ${mFinal.toFixed(1)} ms (feature ${median(tFinal).toFixed(1)} + MLP ${median(tMlp).toFixed(2)})`,
);
console.log(
  `gate cost, layer:1 features: ${mLayer.toFixed(1)} ms (feature ${median(tLayer).toFixed(1)} + MLP ${median(tMlp).toFixed(2)})`,
);
console.log(
  `gate cost, layer:1 embedded (before the feature head): ${mEmbed.toFixed(1)} ms; head / embedded ${(mLayer / mEmbed).toFixed(3)}`,
);
console.log(`answer (prompt + 128 tokens): ${mAnswer.toFixed(0)} ms`);
console.log(
  `ratio layer:1 / final: ${(mLayer / mFinal).toFixed(3)} (ideal ≈ 1/${info.layers} = ${(1 / info.layers).toFixed(3)} of the prompt pass)`,
);
console.log(
  `share of an answer: final ${((100 * mFinal) / mAnswer).toFixed(2)} %, layer:1 ${((100 * mLayer) / mAnswer).toFixed(2)} %`,
);
await writeBenchResult("gate", {
  gateFinalMs: mFinal,
  gateLayer1Ms: mLayer,
  layer1OverFinal: mLayer / mFinal,
  gateFinalShareOfAnswer: mFinal / mAnswer,
  gateLayer1ShareOfAnswer: mLayer / mAnswer,
  gateLayer1EmbedMs: mEmbed,
  headOverEmbed: mLayer / mEmbed,
  answerMs: mAnswer,
  shape,
});
await engine.dispose();
