/**
 * `npm run bench:trainer`: LoRA training speed of prism-trainer on the bench-size generated model (BENCH_MODEL:
 * 12 blocks, n_embd 1024, GQA 16/4, F16, 135M parameters), compared with node-llama-cpp's prompt evaluation of
 * the same model and thread count:
 *
 *   efficiency = train tok/s ÷ (prompt-eval tok/s ÷ 3)
 *
 * A training step is a forward pass plus a backward pass of about twice its cost, so 1.0 means training runs at
 * the speed the inference kernels allow. Also reports the trainer's peak RSS against the model size.
 * Env: BENCH_THREADS (default: physical cores), BENCH_STEPS (default 6), BENCH_CTX (default 256), BENCH_RANK (16).
 * BENCH_SHAPE=qwen05b|qwen15b trains on Qwen2.5-0.5B's or -1.5B's exact shape instead (realShapeModelPath: 151,936-token
 * vocabulary; BENCH_QUANT F16 by default, or e.g. Q4_K_M) with random-token samples of 40–80 prompt and 100–200
 * answer tokens, window 768 by default, and records peak RSS against the goal of docs/trainer.md §12 (model file +
 * 3 GB) as `<shape>_<quant>_w<window>_*` figures of the trainer result: one point of the memory curve per run.
 * Timings on a shared 2-core box are indicative only; rerun the baseline on the same machine when comparing.
 */
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import {
  BENCH_SHAPES,
  benchModelPath,
  benchShapeFromEnv,
  realShapeQuantizedPath,
  writeBenchResult,
} from "./benchUtil.js";
import {
  BOS,
  EOS,
  bytes,
  eventsOf,
  randomWord,
  rng,
  runTrainer,
  trainerBinary,
  writeJsonl,
} from "../testkit/trainerKit.js";

const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());
const steps = Number(process.env.BENCH_STEPS ?? 6);
const shape = benchShapeFromEnv();
const quant = (process.env.BENCH_QUANT ?? "F16").toUpperCase();
/** One window, or several (`BENCH_CTX=512,768,1024`): one trainer run and one point of the memory curve each. */
const windows = (process.env.BENCH_CTX ?? (shape ? "768" : "256")).split(",").map(Number);
const rank = process.env.BENCH_RANK ?? "16";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function promptEvalTokensPerSecond(modelPath: string, tokens: number[], nCtx: number, runs = 3): Promise<number> {
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: threads, logLevel: "error" as never });
  try {
    const model = await llama.loadModel({ modelPath });
    const ctx = await model.createContext({ contextSize: nCtx * 2, batchSize: nCtx, threads });
    const seq = ctx.getSequence();
    const rates: number[] = [];
    for (let i = 0; i <= runs; i++) {
      await seq.clearHistory();
      const t = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(tokens as never);
      const rate = tokens.length / ((performance.now() - t) / 1000);
      if (i > 0) rates.push(rate); // the first run warms caches and thread pools
    }
    return median(rates);
  } finally {
    await llama.dispose();
  }
}

async function main(nCtx: number): Promise<void> {
  const modelPath = shape ? await realShapeQuantizedPath(shape, quant) : await benchModelPath();
  const modelBytes = statSync(modelPath).size;
  const bin = trainerBinary();

  const r = rng(3);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const tokenSamples = Array.from({ length: 96 }, (_, i) => {
    const prompt = Array.from({ length: int(40, 80) }, () => int(0, 151_642));
    return {
      id: `q${i}`,
      tokens: [...prompt, ...Array.from({ length: int(100, 200) }, () => int(0, 151_642))],
      answer_start: prompt.length,
    };
  });
  const byteSamples = Array.from({ length: 64 }, (_, i) => {
    const prompt = [BOS, ...bytes(`Q: ${randomWord(r, 20, 60)} ${randomWord(r, 20, 60)}\nA:`)];
    return {
      id: `b${i}`,
      tokens: [...prompt, ...bytes(` ${randomWord(r, 30, 80)}.`), EOS],
      answer_start: prompt.length,
    };
  });
  const work = mkdtempSync(join(tmpdir(), "prism-trainer-bench-"));
  const data = writeJsonl(join(work, "bench.jsonl"), shape ? tokenSamples : byteSamples);
  const run = await runTrainer(
    bin,
    [
      "train",
      "--base",
      modelPath,
      "--data",
      data,
      "--out",
      join(work, "bench-lora.gguf"),
      "--threads",
      String(threads),
      "--ctx",
      String(nCtx),
      "--rank",
      rank,
      "--max-steps",
      String(steps),
      "--epochs",
      "100",
      "--eval-fraction",
      "0",
      "--progress-interval",
      "0",
      "--lr",
      "1e-4",
    ],
    { timeoutMs: 60 * 60_000 },
  );
  if (run.code !== 0)
    throw new Error(`trainer failed: ${JSON.stringify(run.events.at(-1))}\n${run.stderr.slice(-2000)}`);
  const stepEvents = eventsOf(run, "step");
  // tokensPerSecond is the running rate of the epoch; the last one covers every step but the first (warm-up)
  const trainRate = stepEvents.at(-1)!.tokensPerSecond as number;
  const done = eventsOf(run, "done")[0]!;
  const start = run.events[0]!;

  const evalTokens = Array.from({ length: nCtx }, (_, i) => 97 + ((i * 7) % 26));
  const evalRate = await promptEvalTokensPerSecond(modelPath, evalTokens, nCtx);
  const efficiency = trainRate / (evalRate / 3);

  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  console.log(
    `model: ${modelPath} (${mib(modelBytes)} MiB, ${shape ? BENCH_SHAPES[shape].label : "BENCH_MODEL"}, ${shape ? quant : "F16"}), threads ${threads}, window ${nCtx}, rank ${rank}`,
  );
  console.log(
    `trainable parameters: ${start.trainableParams}; steps: ${stepEvents.length}; trainer backend: ${start.backend}`,
  );
  console.log(`training: ${trainRate.toFixed(0)} tok/s (window tokens, forward + backward + AdamW)`);
  console.log(`prompt eval (node-llama-cpp prebuilt): ${evalRate.toFixed(0)} tok/s`);
  console.log(`efficiency = train ÷ (prompt-eval ÷ 3) = ${efficiency.toFixed(2)}`);
  console.log(
    `trainer peak RSS: ${mib(done.peakRssBytes as number)} MiB = ${((done.peakRssBytes as number) / modelBytes).toFixed(2)} × model file`,
  );
  if (shape) {
    const peak = done.peakRssBytes as number;
    console.log(
      `peak RSS − model file: ${((peak - modelBytes) / 1e9).toFixed(2)} GB (goal ≤ 3 GB, docs/trainer.md §12); output rows ${start.outputRows} of ${nCtx}`,
    );
    const key = `${shape}_${quant.toLowerCase()}_w${nCtx}`;
    await writeBenchResult("trainer", {
      [`${key}_modelMB`]: modelBytes / 1e6,
      [`${key}_peakRssMB`]: peak / 1e6,
      [`${key}_trainTokPerS`]: trainRate,
      [`${key}_efficiency`]: efficiency,
    });
    return;
  }
  await writeBenchResult("trainer", {
    efficiency,
    trainTokPerS: trainRate,
    promptEvalTokPerS: evalRate,
    threads,
    peakRssOverModel: (done.peakRssBytes as number) / modelBytes,
  });
}

async function all(): Promise<void> {
  for (const nCtx of windows) {
    if (!Number.isInteger(nCtx) || nCtx < 32)
      throw new Error(`BENCH_CTX=${process.env.BENCH_CTX}: not a list of windows`);
    await main(nCtx);
  }
}

all().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
