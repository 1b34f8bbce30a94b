/**
 * `npm run bench:serve`: N concurrent streaming requests to `prism serve` (the built CLI, on loopback, through the
 * official openai client) against the same requests sent straight to the engine (EngineProcess, the same base
 * context with the same sequences). Reports throughput and p50/p95 time to first token of both, the gate's own
 * cost per request (its feature runs in the same engine), and the endpoint's overhead on time to first token
 * beyond that cost; every answer is compared with the engine's, so a lost or mixed-up request fails the run.
 * Bounded: BENCH_ROUNDS rounds (default 3) of BENCH_REQUESTS requests (8) per path, 1 and BENCH_CONCURRENCY (4) at
 * once, BENCH_TOKENS each (32), and the whole run BENCH_TIMEOUT_S seconds (300).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { ModelSession } from "../src/core/engine/ModelSession.js";
import { readBundle } from "../src/core/bundle/readBundle.js";
import { TINY_MODEL, writeSyntheticModel } from "../src/core/gguf/syntheticModel.js";
import { modelIdentity } from "../src/core/model/modelIdentity.js";
import { createRouter } from "../src/core/routing/createRouter.js";
import { makeBundle } from "../testkit/makeBundle.js";
import { machine, median, writeBenchResult } from "./benchUtil.js";

const requests = Number(process.env.BENCH_REQUESTS ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
const maxTokens = Number(process.env.BENCH_TOKENS ?? 32);
const threads = Number(process.env.BENCH_THREADS ?? 1);
const timeout = setTimeout(
  () => {
    console.error("bench:serve: time limit reached");
    process.exit(1);
  },
  Number(process.env.BENCH_TIMEOUT_S ?? 300) * 1000,
);

/** A small generated model (4 blocks, width 256, 8k context): the endpoint's cost, not the model's, is measured. */
const SHAPE = { ...TINY_MODEL, seed: 3, blocks: 4, embeddingLength: 256, feedForwardLength: 512, contextLength: 8192 };
const cache = resolve(".cache", "bench");
mkdirSync(cache, { recursive: true });
const modelPath = join(cache, "serve-model.gguf");
if (!existsSync(modelPath)) await writeSyntheticModel(modelPath, SHAPE);
const dir = await mkdtemp(join(tmpdir(), "prism-bench-serve-"));
const bundleDir = join(dir, "b.prism");
await makeBundle(bundleDir, modelPath, { width: SHAPE.embeddingLength });
const prompts = Array.from({ length: requests }, (_, i) => `Request ${i}: tell me something about the number ${i}.`);

interface Sample {
  prompt: string;
  text: string;
  ttftMs: number;
  tokens: number;
  gateMs?: number;
}

/** Runs `one` over every prompt, `at` at a time; returns the samples and the wall time. */
async function run(
  one: (prompt: string) => Promise<Sample>,
  at: number,
): Promise<{ samples: Sample[]; wallMs: number }> {
  const started = performance.now();
  const samples: Sample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: at }, async () => {
      while (next < prompts.length) samples.push(await one(prompts[next++]!));
    }),
  );
  return { samples, wallMs: performance.now() - started };
}

// Straight to the engine: one base context with as many sequences as the server gets (--parallel).
const engine = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
const session = new ModelSession(engine, { modelPath, gpu: "false", threads });
const contextId = await session.context("bench", { contextSize: 1024, threads, sequences: concurrency });
const direct = (prompt: string): Promise<Sample> => {
  const t = performance.now();
  let first = 0;
  return engine
    .request(
      "engine/generate",
      { contextId, messages: [{ role: "user", content: prompt }], maxTokens },
      { onChunk: (c) => (first ||= c ? performance.now() - t : 0) },
    )
    .then((r) => ({ prompt, text: r.text, ttftMs: first, tokens: r.timings.generatedTokens }));
};
// The same requests straight to the engine, each after the gate's decision (Router.decide on the same engine): the
// work the endpoint does minus HTTP, so served / this - 1 is the endpoint's own overhead.
const identity = await modelIdentity(modelPath);
const bundle = await readBundle(bundleDir, { identity, embeddingSize: SHAPE.embeddingLength });
const router = createRouter({ session, bundle, featureCacheDir: dir, contextSize: 1024, threads, gpu: "false" });
const gated = async (prompt: string): Promise<Sample> => {
  const t = performance.now();
  const decision = await router.decide(prompt);
  const decidedAfter = performance.now() - t;
  const s = await direct(prompt);
  return { ...s, ttftMs: decidedAfter + s.ttftMs, gateMs: decision.featureMs + decision.gateMs };
};
await direct("warm-up");
await router.decide("warm-up");

// Through `prism serve`: the same requests as model prism-base (the gate still runs and is logged per request).
const child = spawn(process.execPath, [
  resolve("dist/cli.mjs"),
  "serve",
  "--bundle",
  bundleDir,
  "--model",
  modelPath,
  "--port",
  "0",
  "--threads",
  String(threads),
  "--gpu",
  "false",
  "--context",
  "1024",
  "--parallel",
  String(concurrency),
]);
let stderr = "";
child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
const baseURL = await new Promise<string>((resolveUrl, reject) => {
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    const line = out.split("\n").find((l) => l.startsWith("http://"));
    if (line) resolveUrl(line.trim());
  });
  child.on("exit", (code) => reject(new Error(`prism serve exited with ${code}: ${stderr}`)));
});
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
const served = async (prompt: string): Promise<Sample> => {
  const t = performance.now();
  let first = 0;
  let text = "";
  let tokens = 0;
  let gateMs: number | undefined;
  const stream = await client.chat.completions.create({
    model: "prism-base",
    messages: [{ role: "user", content: prompt }],
    max_tokens: maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    const prism = (chunk as unknown as { prism?: { featureMs: number; gateMs: number } }).prism;
    if (prism) gateMs = prism.featureMs + prism.gateMs;
    const piece = chunk.choices[0]?.delta.content ?? "";
    if (piece && !first) first = performance.now() - t;
    text += piece;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  return { prompt, text, ttftMs: first, tokens, gateMs };
};
await served("warm-up");

// One request at a time (the endpoint's cost alone), then `concurrency` at once (queueing and batching too). The
// three paths take turns, round after round, so a busy neighbour on a shared machine slows them alike.
type Run = Awaited<ReturnType<typeof run>>;
const LEVELS = [...new Set([1, concurrency])];
const merge = (runs: Run[]): Run => ({
  samples: runs.flatMap((r) => r.samples),
  wallMs: runs.reduce((t, r) => t + r.wallMs, 0),
});
const straight: Array<{ direct: Run; gated: Run }> = [];
const viaServer: Run[] = [];
for (const at of LEVELS) {
  const arms: Record<"direct" | "gated" | "served", Run[]> = { direct: [], gated: [], served: [] };
  for (let round = 0; round < rounds; round++) {
    const order = (["direct", "gated", "served"] as const).map((arm, i) => ({ arm, key: (i + round) % 3 }));
    for (const { arm } of order.sort((x, y) => x.key - y.key))
      arms[arm].push(await run(arm === "direct" ? direct : arm === "gated" ? gated : served, at));
  }
  straight.push({ direct: merge(arms.direct), gated: merge(arms.gated) });
  viaServer.push(merge(arms.served));
}
await engine.dispose();
const exited = new Promise((r) => child.on("exit", r));
child.kill("SIGINT");
await exited;
await rm(dir, { recursive: true, force: true });
clearTimeout(timeout);

const pick = (xs: number[], q: number) =>
  [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const stats = (r: { samples: Sample[]; wallMs: number }) => {
  const ttft = r.samples.map((x) => x.ttftMs);
  const tokens = r.samples.reduce((n, x) => n + x.tokens, 0);
  return {
    p50: median(ttft),
    p95: pick(ttft, 0.95),
    tokPerS: (tokens * 1000) / r.wallMs,
    reqPerS: (r.samples.length * 1000) / r.wallMs,
  };
};
const expected = new Map(straight[0]!.direct.samples.map((x) => [x.prompt, x.text]));
let lost = 0;
let mixed = 0;
const figures: Record<string, number> = { requests, rounds, concurrency, maxTokens };
console.log(
  `machine: ${machine()}; threads ${threads}; ${rounds} rounds of ${requests} requests per path, ${maxTokens} tokens each`,
);
LEVELS.forEach((at, i) => {
  const { direct: d, gated: gd } = straight[i]!;
  const sv = viaServer[i]!;
  lost += requests * rounds - sv.samples.length;
  mixed += [...d.samples, ...gd.samples, ...sv.samples].filter((x) => x.text !== expected.get(x.prompt)).length;
  const a = stats(d);
  const g = stats(gd);
  const b = stats(sv);
  const gate = median(sv.samples.map((x) => x.gateMs ?? 0));
  // What the endpoint adds besides running the gate: HTTP, validation, SSE framing, the client.
  const overhead = b.p50 / g.p50 - 1;
  const line = (name: string, x: ReturnType<typeof stats>) =>
    console.log(
      `  ${name}: ${x.tokPerS.toFixed(1)} tok/s, ${x.reqPerS.toFixed(2)} req/s, TTFT p50 ${x.p50.toFixed(1)} ms, p95 ${x.p95.toFixed(1)} ms`,
    );
  console.log(`${at} at once:`);
  line("engine direct     ", a);
  line("engine, gate first", g);
  line("prism serve (HTTP)", b);
  console.log(
    `  gate per request in the server (feature + MLP, median) ${gate.toFixed(1)} ms; TTFT overhead of the ` +
      `endpoint beyond the gate (served p50 / gate-first p50 - 1): ${(overhead * 100).toFixed(1)} % (goal ≤ 5 %)`,
  );
  const k = at === 1 ? "seq" : "conc";
  Object.assign(figures, {
    [`${k}DirectTokPerS`]: a.tokPerS,
    [`${k}GatedTokPerS`]: g.tokPerS,
    [`${k}ServedTokPerS`]: b.tokPerS,
    [`${k}DirectTtftP50Ms`]: a.p50,
    [`${k}DirectTtftP95Ms`]: a.p95,
    [`${k}GatedTtftP50Ms`]: g.p50,
    [`${k}GatedTtftP95Ms`]: g.p95,
    [`${k}ServedTtftP50Ms`]: b.p50,
    [`${k}ServedTtftP95Ms`]: b.p95,
    [`${k}GateMs`]: gate,
    [`${k}TtftOverheadBeyondGate`]: overhead,
  });
});
console.log(`lost ${lost}, mixed up ${mixed}`);
await writeBenchResult("serve", { ...figures, lost, mixed });
if (lost || mixed) {
  console.error(`bench:serve: ${lost} request(s) lost, ${mixed} answer(s) differ from the engine's`);
  process.exit(1);
}
