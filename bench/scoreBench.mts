/**
 * `npm run bench:score`: the teacher scoring of stage 5 (`engine/scoreTopK`, top-64 at every answer position)
 * on a model with a real 151k vocabulary, against evaluating the same tokens as a prompt.
 *
 * Variants, each in its own child process so that peak RSS is its own:
 * - `prompt`: the tokens evaluated as a prompt (logits of the last position only) — the goal's yardstick;
 * - `native`: the product's scoreTopK (top-k chosen natively, k rows per position reach JS);
 * - `full`: the previous implementation, kept here only as the baseline: full-vocabulary probabilities at
 *   temperature 0, revived by node-llama-cpp into a Map per position. It costs ~150 ms and ~14 MB of heap per
 *   position, so it runs on `BENCH_FULL_POSITIONS` positions (default 128) and is reported per position.
 *
 * Prints ms per position and peak RSS per variant, and the ratios scoring / prompt evaluation. Absolute times on
 * the shared 2-core box are not representative; the ratios measured in one run are the figures.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LlamaContextSequence } from "node-llama-cpp";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { LlamaEngine } from "../src/engine/LlamaEngine.js";
import { machine, median, qwen05bModelPath, writeBenchResult } from "./benchUtil.js";

type Variant = "prompt" | "native" | "full";
interface ChildResult {
  variant: Variant;
  positions: number;
  promptTokens: number;
  ms: number[];
  baseRssMb: number;
  peakRssMb: number;
}

const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());
const answerTokens = Number(process.env.BENCH_ANSWER_TOKENS ?? 512);
const fullPositions = Number(process.env.BENCH_FULL_POSITIONS ?? 128);
const runs = Number(process.env.BENCH_RUNS ?? 3);
// Stage 5's teacher context decodes 256-token batches (src/core/distill/stage5Train.ts); the prompt pass gets the same.
const batchSize = Number(process.env.BENCH_BATCH ?? 256);
const persona = "You are a meticulous senior software engineer who explains trade-offs with concrete examples.";
const query = "How should I structure error handling in a TypeScript service that talks to three databases?";

/** Prose long enough for any answer length; cut to exactly `n` tokens by the model's own tokenizer. */
function answerText(engine: LlamaEngine, modelId: string, n: number): string {
  const paragraph =
    "Keep failures explicit: every function that can fail returns a typed error with a stable code, the caller " +
    "decides whether to retry, and nothing is swallowed. Wrap each database client behind a small port so that " +
    "timeouts, connection loss and constraint violations map to the same three error kinds everywhere. ";
  let text = paragraph;
  while (engine.countTokens(modelId, text) < n + 8) text += paragraph;
  // Shorten word by word until the answer (plus the end-of-turn token) is exactly n tokens.
  const words = text.split(" ");
  while (words.length > 1 && engine.countTokens(modelId, words.join(" ")) > n - 1) words.pop();
  return words.join(" ");
}

async function child(variant: Variant, modelPath: string): Promise<void> {
  const engine = new LlamaEngine({ log: () => undefined });
  const info = await engine.loadModel({ modelPath, gpu: "false", threads, gpuLayers: 0, pooling: "last" });
  const ctx = await engine.createContext({
    modelId: info.modelId,
    contextSize: 2048,
    sequences: 1,
    adapters: [],
    threads,
    batchSize,
  });
  const messages = [
    { role: "system" as const, content: persona },
    { role: "user" as const, content: query },
  ];
  const answer = answerText(engine, info.modelId, variant === "full" ? fullPositions : answerTokens);
  const { tokens, answerStart } = engine.formatPrompt(info.modelId, messages, answer);
  const positions = tokens.length - answerStart;
  // The bench reaches the engine's context to run the baseline and the prompt pass on the very same sequence.
  const open = (engine as unknown as { contexts: Map<string, { context: { getSequence(): LlamaContextSequence } }> })
    .contexts;
  const sequence = variant === "native" ? undefined : open.get(ctx.contextId)!.context.getSequence();
  const signal = new AbortController().signal;
  const baseRssMb = process.memoryUsage().rss / 2 ** 20;
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    if (variant === "prompt") {
      await sequence!.clearHistory();
      await sequence!.evaluateWithoutGeneratingNewTokens(tokens);
    } else if (variant === "native") {
      const res = await engine.scoreTopK({ contextId: ctx.contextId, messages, answer, k: 64 }, signal);
      if (res.rows.length !== positions) throw new Error(`expected ${positions} rows, got ${res.rows.length}`);
    } else {
      await sequence!.clearHistory();
      const items = tokens.map((token, i) =>
        i >= answerStart - 1 && i < tokens.length - 1
          ? ([token, { generateNext: { probabilities: true, options: { temperature: 0 } } }] as const)
          : token,
      );
      const results = await sequence!.controlledEvaluate(
        items as Parameters<LlamaContextSequence["controlledEvaluate"]>[0],
      );
      let rows = 0;
      for (const r of results) if (r?.next.probabilities) rows++;
      if (rows !== positions) throw new Error(`expected ${positions} rows, got ${rows}`);
    }
    ms.push(performance.now() - t);
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const result: ChildResult = { variant, positions, promptTokens: tokens.length, ms, baseRssMb, peakRssMb };
  console.log(`RESULT ${JSON.stringify(result)}`);
  await engine.dispose();
}

function runChild(variant: Variant, modelPath: string): ChildResult {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "--max-old-space-size=16384", fileURLToPath(import.meta.url), variant, modelPath],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 },
  );
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`bench:score ${variant} failed (exit ${r.status}): ${r.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(7)) as ChildResult;
}

async function main(): Promise<void> {
  const [variant, modelPathArg] = process.argv.slice(2);
  if (variant) return child(variant as Variant, modelPathArg!);
  const modelPath = process.env.BENCH_SCORE_MODEL ?? (await qwen05bModelPath());
  console.log(`machine: ${machine()}`);
  console.log(`model ${modelPath}, threads ${threads}, batch ${batchSize}, ${runs} runs per variant`);
  const prompt = runChild("prompt", modelPath);
  const native = runChild("native", modelPath);
  const full = runChild("full", modelPath);
  const perPos = (r: ChildResult) => median(r.ms) / r.positions;
  const promptPerToken = median(prompt.ms) / prompt.promptTokens;
  // Same tokens: scoring time over the prompt pass of the whole scored sequence.
  const nativeOverPrompt = median(native.ms) / median(prompt.ms);
  for (const r of [prompt, native, full]) {
    console.log(
      `${r.variant.padEnd(6)} ${r.positions} positions (${r.promptTokens} tokens): median ${median(r.ms).toFixed(0)} ms, ` +
        `${perPos(r).toFixed(2)} ms/position, peak RSS ${r.peakRssMb.toFixed(0)} MB (after load ${r.baseRssMb.toFixed(0)} MB)`,
    );
  }
  console.log(
    `peak RSS over the prompt pass: native +${(native.peakRssMb - prompt.peakRssMb).toFixed(0)} MB, full +${(full.peakRssMb - prompt.peakRssMb).toFixed(0)} MB`,
  );
  console.log(`native scoring / prompt evaluation of the same tokens: ${nativeOverPrompt.toFixed(2)} (goal ≤ 1.5)`);
  console.log(`full-vocabulary baseline / native, per position: ${(perPos(full) / perPos(native)).toFixed(1)}×`);
  await writeBenchResult("score", {
    answerPositions: native.positions,
    scoredTokens: native.promptTokens,
    promptMsPerToken: promptPerToken,
    nativeMsPerPosition: perPos(native),
    fullMsPerPosition: perPos(full),
    fullPositions: full.positions,
    nativeOverPrompt,
    fullOverNativePerPosition: perPos(full) / perPos(native),
    nativePeakRssMb: native.peakRssMb,
    fullPeakRssMb: full.peakRssMb,
    promptPeakRssMb: prompt.peakRssMb,
    nativeExtraRssMb: native.peakRssMb - prompt.peakRssMb,
    fullExtraRssMb: full.peakRssMb - prompt.peakRssMb,
  });
}

await main();
