/**
 * Stage 5 on a quantized base. `prism-trainer quantize` (llama.cpp's llama_model_quantize, in the library the
 * trainer is built against) turns an F16 model into Q8_0 and Q4_K_M. prism-trainer trains a LoRA on each quantized
 * file, using samples formatted by the engine's chat template. The engine then loads the adapter on that quantized
 * base, and its greedy answer becomes the trained one.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { GgmlType } from "../../src/core/gguf/ggufTypes.js";
import { readGguf } from "../../src/core/gguf/readGguf.js";
import { quantizeModel, type QuantizeModelResult, type QuantizeType } from "../../src/core/model/quantizeModel.js";
import {
  byteModel,
  eventsOf,
  loraArgs,
  randomWord,
  rng,
  runTrainer,
  trainerBinary,
  writeJsonl,
  type TrainerSample,
} from "../../testkit/trainerKit.js";
import { loadModel, rejection, startEngine, user } from "./harness.js";

// n_embd and n_ff multiples of 256: k-quant rows need them (narrower rows fall back, see the test below)
const SHAPE = {
  blocks: 2,
  embeddingLength: 256,
  headCount: 4,
  headCountKv: 4,
  feedForwardLength: 512,
  weightType: "f16",
} as const;
const ANSWER = "banana42";
const TYPES: QuantizeType[] = ["Q8_0", "Q4_K_M"];

let bin = "";
let f16 = "";
let dir = "";
let engine: EngineProcess;
const quantized = new Map<QuantizeType, QuantizeModelResult>();

const blockWeights = async (path: string) =>
  (await readGguf(path)).tensors.filter((t) => t.name.startsWith("blk.") && t.dims.length === 2);

beforeAll(async () => {
  bin = trainerBinary();
  f16 = await byteModel(SHAPE);
  dir = mkdtempSync(join(tmpdir(), "prism-quantized-"));
  for (const type of TYPES) {
    quantized.set(type, await quantizeModel(f16, join(dir, `base-${type}.gguf`), type, { binaryPath: bin }));
  }
  engine = startEngine();
}, 30 * 60_000);

afterAll(async () => {
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("quantizeModel (prism-trainer quantize)", () => {
  it("writes Q8_0: every block weight is Q8_0, no fallback, no partial file left", async () => {
    const q = quantized.get("Q8_0")!;
    expect(q.fallbackTensors).toEqual([]);
    const weights = await blockWeights(q.path);
    expect(weights.length).toBe(2 * 7);
    expect(weights.every((t) => t.type === GgmlType.Q8_0)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes(".partial-"))).toEqual([]);
  });

  it("writes Q4_K_M: k-quants only (Q4_K, with Q6_K where the mix asks for it), smaller than Q8_0", async () => {
    const q = quantized.get("Q4_K_M")!;
    expect(q.fallbackTensors).toEqual([]);
    const types = new Set((await blockWeights(q.path)).map((t) => t.type));
    expect(types.has(GgmlType.Q4_K)).toBe(true);
    for (const t of types) expect([GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K]).toContain(t);
    expect(q.bytes).toBeLessThan(quantized.get("Q8_0")!.bytes);
  });

  it("falls back to 32-block types for rows narrower than 256 (n_embd 64) and reports those tensors", async () => {
    const tiny = await byteModel({ blocks: 2, weightType: "f16" });
    const q = await quantizeModel(tiny, join(dir, "tiny-q4km.gguf"), "Q4_K_M", { binaryPath: bin });
    expect(q.fallbackTensors).toContain("blk.1.attn_q.weight");
    const attnQ = (await blockWeights(q.path)).find((t) => t.name === "blk.1.attn_q.weight")!;
    expect(attnQ.type).toBe(GgmlType.Q5_0);
  });

  it("fails with coded errors: no binary, no input; a cancelled run leaves no file", async () => {
    expect((await rejection(quantizeModel(f16, join(dir, "x.gguf"), "Q8_0", { binaryPath: "/nope" }))).code).toBe(
      "trainer/notBuilt",
    );
    expect((await rejection(quantizeModel("/nope.gguf", join(dir, "x.gguf"), "Q8_0", { binaryPath: bin }))).code).toBe(
      "gguf/notFound",
    );
    const ac = new AbortController();
    const pending = quantizeModel(f16, join(dir, "cancelled.gguf"), "Q4_K_M", { binaryPath: bin, signal: ac.signal });
    ac.abort();
    const err = await rejection(pending);
    expect((err as { name?: string }).name).toBe("AbortError");
    expect(existsSync(join(dir, "cancelled.gguf"))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes(".partial-"))).toEqual([]);
  });

  it("prism-trainer quantize: coded failures for an unknown type and a refused requantize", async () => {
    const unknown = await runTrainer(bin, [
      "quantize",
      "--in",
      f16,
      "--out",
      join(dir, "y.gguf"),
      "--type",
      "Q3_K",
      "--threads",
      "1",
    ]);
    expect(unknown.code).toBe(2);
    expect(eventsOf(unknown, "error")[0]?.code).toBe("usage/invalidOption");
    // requantizing needs allowRequantize; the trainer's code and llama.cpp's reason come back in the error
    const again = await rejection(
      quantizeModel(quantized.get("Q8_0")!.path, join(dir, "y.gguf"), "Q4_0", { binaryPath: bin }),
    );
    expect(again.code).toBe("gguf/writeFailed");
    expect(again.detail).toMatchObject({ exitCode: 4, trainerCode: "model/loadFailed" });
    expect(JSON.stringify(again.detail)).toContain("requantizing from type q8_0 is disabled");
    expect(readdirSync(dir).filter((f) => f.startsWith("y.gguf"))).toEqual([]);
  });
});

describe.each(TYPES)("a LoRA trained on a %s base", (type) => {
  it(
    "lowers the loss, and through the engine turns the greedy answer into the trained one",
    async () => {
      const base = quantized.get(type)!.path;
      const { modelId } = await loadModel(engine, base);
      const r = rng(11);
      const samples: TrainerSample[] = [];
      for (let i = 0; i < 120; i++) {
        const f = await engine.request("engine/formatPrompt", {
          modelId,
          messages: user(`Q: ${randomWord(r)}`),
          answer: ANSWER,
        });
        samples.push({ id: `s${i}`, tokens: f.tokens, answer_start: f.answerStart });
      }
      const data = writeJsonl(join(dir, `${type}.jsonl`), samples);
      const out = join(dir, `adapter-${type}.gguf`);
      const run = await runTrainer(
        bin,
        loraArgs(base, data, out, ["--epochs", "6", "--rank", "8", "--alpha", "16", "--lr", "2e-3"]),
        { timeoutMs: 15 * 60_000 },
      );
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      const losses = eventsOf(run, "step").map((s) => s.loss as number);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const first = mean(losses.slice(0, 5));
      const last = mean(losses.slice(-5));
      console.log(`${type}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, ${eventsOf(run, "done")[0]?.seconds} s`);
      expect(last).toBeLessThan(0.3 * first);

      const held = user(`Q: ${randomWord(rng(99))}`);
      const ask = async (adapters: Array<{ path: string }>) => {
        const { contextId } = await engine.request("engine/createContext", {
          modelId,
          contextSize: 256,
          threads: 1,
          adapters,
        });
        const g = await engine.request("engine/generate", { contextId, messages: held, maxTokens: 12, temperature: 0 });
        await engine.request("engine/disposeContext", { contextId });
        return g.text;
      };
      const plain = await ask([]);
      const adapted = await ask([{ path: out }]);
      expect(adapted.trim()).toBe(ANSWER);
      expect(plain).not.toContain(ANSWER);
      await engine.request("engine/unloadModel", { modelId });
    },
    20 * 60_000,
  );
});
