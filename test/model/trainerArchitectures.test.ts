/**
 * What the trainer can serve, per architecture, known before stage 1: `prism-trainer inspect` (llama.cpp's own
 * reading of the hyper-parameters) on real tensor layouts with a byte vocabulary. phi3 (fused attn_qkv and gate-up
 * ffn_up; llama.cpp ignores its sliding_window key) trains on the fused weights (patch 0007 gives ggml the backward
 * passes it needs); gemma3 (sliding-window attention) trains through patch 0008, exactly; a recurrent model is
 * refused with a coded reason. The GGUF-metadata fallback used without a trainer binary agrees.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realShapeLayout } from "../../src/core/gguf/realShapeModel.js";
import type { RealShapeFixture } from "../../src/core/gguf/realShapeRecipes.js";
import { GgmlType, ggufValue, type GgufKv } from "../../src/core/gguf/ggufTypes.js";
import { buildSyntheticVocab } from "../../src/core/gguf/syntheticVocab.js";
import { writeGguf } from "../../src/core/gguf/writeGguf.js";
import {
  assertTrainerSupport,
  inspectTrainerSupport,
  resolveLoraTargets,
  type TrainerSupport,
} from "../../src/core/model/trainerSupport.js";
import { SeededRandom } from "../../src/core/util/SeededRandom.js";
import {
  BOS,
  byteModel,
  bytes,
  eventsOf,
  fixedAnswerSamples,
  loraArgs,
  readF32Tensors,
  runTrainer,
  sumAbs,
  trainerBinary,
  writeJsonl,
} from "../../testkit/trainerKit.js";

let bin = "";
let dir = "";
const models = new Map<string, string>();

/** A real architecture's tensor layout and hyper-parameters with the byte vocabulary (F32, random). */
async function archModel(fixture: RealShapeFixture, extra: GgufKv[] = []): Promise<string> {
  const vocab = buildSyntheticVocab("gpt2-bytes");
  const { kvs: layoutKvs, specs } = realShapeLayout(fixture, vocab.size);
  const kvs = [...layoutKvs, ...extra];
  const rng = new SeededRandom(5);
  const path = join(dir, `${fixture}.gguf`);
  await writeGguf(path, {
    // a name with "phi3" in it makes llama.cpp look for phi3's own special tokens in the vocabulary
    kvs: [...kvs.filter((kv) => kv.key !== "general.file_type" && kv.key !== "general.name"), ...vocab.kvs],
    tensors: specs.map((spec) => {
      const count = spec.dims.reduce((a, b) => a * b, 1);
      const init = spec.init;
      const data = (): Float32Array =>
        init.kind === "normal"
          ? rng.fork(spec.name).fillNormal(new Float32Array(count), init.std)
          : init.kind === "values"
            ? init.values
            : new Float32Array(count).fill(init.kind === "ones" ? 1 : 0);
      return { name: spec.name, dims: spec.dims, type: GgmlType.F32, data };
    }),
  });
  return path;
}

beforeAll(async () => {
  bin = trainerBinary();
  dir = mkdtempSync(join(tmpdir(), "prism-arch-"));
  // Phi-3-mini's converted GGUFs carry sliding_window 2047; llama.cpp disables SWA for phi3 anyway
  models.set("phi3", await archModel("phi3", [{ key: "phi3.attention.sliding_window", value: ggufValue.u32(2047) }]));
  models.set("gemma3", await archModel("gemma3"));
  models.set("llama", await byteModel({ blocks: 2 }));
}, 15 * 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SPLIT = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] as const;

describe("trainer support per architecture (prism-trainer inspect)", () => {
  it.each([
    ["llama", { supported: true, reason: null, nSwa: 0, targets: [...SPLIT] }],
    ["phi3", { supported: true, reason: null, nSwa: 0, targets: ["attn_qkv", "attn_output", "ffn_up", "ffn_down"] }],
    ["gemma3", { supported: true, reason: null, nSwa: 64, targets: [...SPLIT] }],
  ] as const)("%s", async (name, expected) => {
    const found = await inspectTrainerSupport(models.get(name)!, { trainerBinary: bin });
    expect(found).toMatchObject({ ...expected, architecture: name, source: "trainer" });
    // the metadata check used without a binary reaches the same verdict
    const fallback = await inspectTrainerSupport(models.get(name)!, {});
    expect(fallback).toMatchObject({ supported: expected.supported, reason: expected.reason, source: "gguf" });
  });

  it("refuses a recurrent model before stage 1 with a coded error naming the reason", async () => {
    // metadata only: the GGUF check (no trainer binary) reads no tensor data
    const path = join(dir, "mamba.gguf");
    await writeGguf(path, {
      kvs: [
        { key: "general.architecture", value: ggufValue.string("mamba") },
        { key: "mamba.ssm.state_size", value: ggufValue.u32(16) },
      ],
      tensors: [{ name: "blk.1.ssm_in.weight", dims: [8, 8], type: GgmlType.F32, data: () => new Float32Array(64) }],
    });
    const support: TrainerSupport = await inspectTrainerSupport(path, {});
    expect(support).toMatchObject({ supported: false, reason: "model/recurrent", targets: [] });
    let caught: unknown;
    try {
      assertTrainerSupport(support, path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({
      code: "engine/unsupportedArchitecture",
      detail: { reason: "model/recurrent", architecture: "mamba" },
    });
    expect((caught as Error).message).toContain("recurrent");
  });

  it("gemma3 (sliding window 64): the first loss on a 150-token sample equals node-llama-cpp's (patch 0008)", async () => {
    const base = models.get("gemma3")!;
    const text = "The quick brown fox jumps over the lazy dog; ".repeat(4).slice(0, 150);
    const tokens = [BOS, ...bytes(text)];
    const data = writeJsonl(
      join(dir, "g1.jsonl"),
      [1, 2, 3, 4].map((i) => ({ id: `g${i}`, tokens, answer_start: 1 })),
    );
    const run = await runTrainer(
      bin,
      loraArgs(base, data, join(dir, "g1.gguf"), [
        "--no-pack",
        "--eval-fraction",
        "0",
        "--epochs",
        "1",
        "--lr",
        "1e-9",
      ]),
    );
    const first = eventsOf(run, "step")[0]!.loss as number;
    const { getLlama } = await import("node-llama-cpp");
    const llama = await getLlama({ build: "never", gpu: false, maxThreads: 1, logLevel: "error" as never });
    let reference: number[];
    try {
      const model = await llama.loadModel({ modelPath: base });
      const ctx = await model.createContext({ contextSize: 256, threads: 1 });
      const items = tokens.slice(0, -1).map((t) => [t, { generateNext: { probabilities: true } }] as const);
      const res = await ctx.getSequence().controlledEvaluate(items as never);
      reference = res.map(
        (r, i) =>
          -Math.log((r as { next: { probabilities: Map<number, number> } }).next.probabilities.get(tokens[i + 1]!)!),
      );
    } finally {
      await llama.dispose();
    }
    const mean = reference.reduce((a, b) => a + b, 0) / reference.length;
    console.log(`gemma3 first loss: trainer ${first.toFixed(5)}, node-llama-cpp ${mean.toFixed(5)}`);
    expect(first).toBeCloseTo(mean, 3);
  });

  it("gemma3: a LoRA trains, attn_k/attn_v included (gradients through the fresh K/V of the iSWA path)", async () => {
    const base = models.get("gemma3")!;
    const data = writeJsonl(join(dir, "g2.jsonl"), fixedAnswerSamples(40, " banana42"));
    const out = join(dir, "g2.gguf");
    const run = await runTrainer(bin, loraArgs(base, data, out, ["--epochs", "3", "--lr", "2e-3"]));
    expect(run.code, run.stderr.slice(-1500)).toBe(0);
    // a random gemma3 (embeddings scaled by sqrt(n_embd)) starts far off (~60 nats): check that it moves down
    const epochs = eventsOf(run, "epoch").map((e) => e.loss as number);
    expect(epochs[1]!).toBeLessThan(epochs[0]!);
    expect(epochs[2]!).toBeLessThan(epochs[1]!);
    const { tensors } = await readF32Tensors(out);
    for (const t of ["attn_k", "attn_v"])
      expect(sumAbs(tensors.get(`blk.1.${t}.weight.lora_b`)!.data)).toBeGreaterThan(0);
  });

  it("trains phi3 on its fused weights once the host maps the default targets", async () => {
    const base = models.get("phi3")!;
    const support = await inspectTrainerSupport(base, { trainerBinary: bin });
    const targets = resolveLoraTargets(SPLIT, support.targets);
    const data = writeJsonl(join(dir, "p.jsonl"), fixedAnswerSamples(40, " banana42"));
    // the split default fails on phi3: this is what the host now avoids
    const split = await runTrainer(bin, loraArgs(base, data, join(dir, "p0.gguf"), ["--targets", SPLIT.join(",")]));
    expect(eventsOf(split, "error")[0]).toMatchObject({ code: "usage/invalidTarget" });
    const out = join(dir, "p.gguf");
    const run = await runTrainer(
      bin,
      loraArgs(base, data, out, ["--targets", targets.join(","), "--epochs", "3", "--lr", "2e-3"]),
    );
    // patch 0007: the backward passes through phi3's fused gate-up SwiGLU and the q/k/v views of attn_qkv
    expect(run.code, run.stderr.slice(-1500)).toBe(0);
    const epochs = eventsOf(run, "epoch").map((e) => e.loss as number);
    expect(epochs.at(-1)!).toBeLessThan(0.8 * epochs[0]!);
    const { tensors } = await readF32Tensors(out);
    expect([...tensors.keys()].sort()).toEqual(
      targets.flatMap((t) => [`blk.1.${t}.weight.lora_a`, `blk.1.${t}.weight.lora_b`]).sort(),
    );
  });
});
