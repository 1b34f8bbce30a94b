/**
 * What the trainer's loss counts (patch 0003): in `sft` mode only answer tokens, in `sft-all` every next token;
 * masked positions add neither loss nor gradient; `kl` distils teacher distributions.
 * The first reported loss (before any update, B = 0) is compared with the base model's cross-entropy computed
 * independently by node-llama-cpp's prebuilt libraries.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BOS,
  EOS,
  byteModel,
  bytes,
  eventsOf,
  fixedAnswerSamples,
  loraArgs,
  runTrainer,
  trainerBinary,
  writeJsonl,
  type TrainerSample,
} from "../../testkit/trainerKit.js";

let bin = "";
let base = "";
let dir = "";

beforeAll(async () => {
  bin = trainerBinary();
  base = await byteModel({ blocks: 2 });
  dir = mkdtempSync(join(tmpdir(), "prism-trainer-loss-"));
}, 15 * 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** -ln p(tokens[i+1] | tokens[..i]) for every position, from node-llama-cpp at temperature 0 (full softmax). */
async function tokenLosses(tokens: number[]): Promise<number[]> {
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 1, logLevel: "error" as never });
  try {
    const model = await llama.loadModel({ modelPath: base });
    const ctx = await model.createContext({ contextSize: 256, threads: 1 });
    const items = tokens.slice(0, -1).map((t) => [t, { generateNext: { probabilities: true } }] as const);
    const res = await ctx.getSequence().controlledEvaluate(items as never);
    return res.map(
      (r, i) =>
        -Math.log((r as { next: { probabilities: Map<number, number> } }).next.probabilities.get(tokens[i + 1]!)!),
    );
  } finally {
    await llama.dispose();
  }
}

/** Every position's next-token distribution (full softmax, temperature 0) from node-llama-cpp. */
async function tokenDistributions(tokens: number[]): Promise<Map<number, number>[]> {
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 1, logLevel: "error" as never });
  try {
    const model = await llama.loadModel({ modelPath: base });
    const ctx = await model.createContext({ contextSize: 256, threads: 1 });
    const items = tokens.slice(0, -1).map((t) => [t, { generateNext: { probabilities: true } }] as const);
    const res = await ctx.getSequence().controlledEvaluate(items as never);
    return res.map((r) => (r as { next: { probabilities: Map<number, number> } }).next.probabilities);
  } finally {
    await llama.dispose();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("prism-trainer loss", () => {
  const sample: TrainerSample = {
    id: "only",
    tokens: [BOS, ...bytes("Q: what is the password?\nA:"), ...bytes(" swordfish"), EOS],
    answer_start: 1 + bytes("Q: what is the password?\nA:").length,
  };
  // one sample, repeated, one per window: the first step's loss is the base model's loss on it
  const oneSampleArgs = (loss: string, out: string) =>
    loraArgs(base, writeJsonl(join(dir, "one.jsonl"), [sample, sample, sample, sample]), out, [
      "--no-pack",
      "--eval-fraction",
      "0",
      "--epochs",
      "1",
      "--lr",
      "1e-9",
      "--loss",
      loss,
    ]);

  it("sft: the loss is the mean cross-entropy of the answer tokens only", async () => {
    const run = await runTrainer(bin, oneSampleArgs("sft", join(dir, "sft.gguf")));
    // lr 1e-9 leaves B ~ 0, so the adapter fails the "B moved" guard: the loss is what is checked here
    expect([0, 6]).toContain(run.code);
    // sparse label rows (patches 0010-0011) and logits only where the answer trains (patch 0012)
    expect(run.events[0]).toMatchObject({ event: "start", sparseLabels: 1 });
    expect(run.events[0]!.outputRows as number).toBeLessThan(run.events[0]!.nCtx as number);
    const first = eventsOf(run, "step")[0]!.loss as number;
    const losses = await tokenLosses(sample.tokens);
    const answer = mean(losses.slice(sample.answer_start - 1));
    expect(first).toBeCloseTo(answer, 3);
    expect(Math.abs(first - mean(losses))).toBeGreaterThan(0.05); // and differs from the all-token mean
  });

  it("sft-all: the loss is the mean cross-entropy of every next token (upstream behaviour)", async () => {
    const tokens = [...sample.tokens, ...sample.tokens, ...sample.tokens, ...sample.tokens]; // one packed stream
    const run = await runTrainer(bin, oneSampleArgs("sft-all", join(dir, "all.gguf")));
    expect([0, 6]).toContain(run.code);
    const first = eventsOf(run, "step")[0]!.loss as number;
    expect(first).toBeCloseTo(mean(await tokenLosses(tokens)), 3);
  });

  it("masked positions have no effect: any padding token gives a bit-identical adapter", async () => {
    const data = writeJsonl(join(dir, "pad.jsonl"), fixedAnswerSamples(24, " ok"));
    const outs = [];
    for (const pad of ["10", "200"]) {
      const out = join(dir, `pad${pad}.gguf`);
      const run = await runTrainer(
        bin,
        loraArgs(base, data, out, [
          "--no-pack",
          "--eval-fraction",
          "0",
          "--epochs",
          "2",
          "--lr",
          "1e-3",
          "--pad-token",
          pad,
        ]),
      );
      expect(run.code, run.stderr.slice(-1000)).toBe(0);
      outs.push(readFileSync(out));
    }
    // padding follows each sample, so causality keeps it out of the forward pass; masking keeps it out of the
    // gradient (stock ggml would back-propagate softmax(pad logits) from the zero label rows)
    expect(outs[0]!.equals(outs[1]!)).toBe(true);
  });

  it("kl: the first loss is T²·KL(teacher ‖ student at T) against node-llama-cpp's full distribution", async () => {
    const T = 2;
    const answer = sample.tokens.slice(sample.answer_start);
    // a teacher that disagrees with the answer token (distinct ids, as a top-k is)
    const ids = answer.map((t) => [t, (t + 17) % 256, (t + 34) % 256, (t + 51) % 256]);
    const logp = answer.map(() => [-0.5, -1, -2.5, -3]);
    const teacherSample = { ...sample, teacher: { ids, logp } };
    const data = writeJsonl(join(dir, "kl1.jsonl"), [teacherSample, teacherSample, teacherSample, teacherSample]);
    const run = await runTrainer(
      bin,
      loraArgs(base, data, join(dir, "kl1.gguf"), [
        "--no-pack",
        "--eval-fraction",
        "0",
        "--epochs",
        "1",
        "--lr",
        "1e-9",
        "--loss",
        "kl",
        "--kl-temperature",
        String(T),
      ]),
    );
    expect([0, 6]).toContain(run.code);
    expect(run.events[0]).toMatchObject({ event: "start", loss: "kl", sparseLabels: 4 });
    const first = eventsOf(run, "step")[0]!.loss as number;
    const dists = await tokenDistributions(sample.tokens);
    const kls = answer.map((_, t) => {
      const p = dists[sample.answer_start - 1 + t]!;
      // student at temperature T over the full vocabulary: softmax(log p / T)
      const logZ = Math.log([...p.values()].reduce((a, x) => a + Math.pow(x, 1 / T), 0));
      const logStudent = (id: number) => Math.log(p.get(id)!) / T - logZ;
      // teacher: softmax(logp / T) over its row
      const w = logp[t]!.map((l) => Math.exp(l / T));
      const sw = w.reduce((a, x) => a + x, 0);
      return ids[t]!.reduce((a, id, k) => a + (w[k]! / sw) * (Math.log(w[k]! / sw) - logStudent(id)), 0);
    });
    expect(first).toBeCloseTo(T * T * mean(kls), 3);
  });

  it("kl: distils the teacher's top-k distribution; the reported T²·KL falls towards zero", async () => {
    // teacher: most mass on the answer token, the rest spread over 7 other tokens
    const samples = fixedAnswerSamples(60, " kiwi").map((s) => {
      const answer = s.tokens.slice(s.answer_start);
      const ids = answer.map((t) => [t, ...[1, 2, 3, 4, 5, 6, 7].map((k) => (t + 17 * k) % 256)]);
      const logp = answer.map(() => [0, -3, -3, -4, -4, -5, -5, -6]);
      return { ...s, teacher: { ids, logp } };
    });
    const data = writeJsonl(join(dir, "kl.jsonl"), samples);
    const run = await runTrainer(
      bin,
      loraArgs(base, data, join(dir, "kl.gguf"), ["--loss", "kl", "--epochs", "6", "--lr", "2e-3", "--rank", "8"]),
    );
    expect(run.code, run.stderr.slice(-1000)).toBe(0);
    expect(run.events[0]).toMatchObject({ event: "start", loss: "kl" });
    const epochs = eventsOf(run, "epoch").map((e) => e.loss as number);
    expect(epochs.at(-1)!).toBeLessThan(0.5 * epochs[0]!);
    expect(epochs.at(-1)!).toBeGreaterThanOrEqual(-1e-3); // KL ≥ 0: the teacher-entropy constant is removed exactly
  });
});
