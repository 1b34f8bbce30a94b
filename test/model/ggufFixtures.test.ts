/**
 * Loads the GGUF files our generators write into the real llama.cpp (in-process, through node-llama-cpp) and
 * checks they behave as docs/engine.md §6, §8 and §10 say. This is the one test file that imports node-llama-cpp
 * directly: it tests the files, not the engine.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel, resolveChatWrapper, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticAdapter, writeSyntheticModel } from "../../src/core/gguf/syntheticModel.js";
import { writeTruncatedModel } from "../../src/core/gguf/writeTruncatedModel.js";

const TEXT = "Hello, world! héllo";

let dir: string;
let llama: Llama;
const logs: string[] = [];
const path = (name: string): string => join(dir, `${name}.gguf`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-gguf-model-"));
  await writeSyntheticModel(path("tiny"));
  await writeSyntheticModel(path("tiny-f16"), { weightType: "f16" });
  await writeSyntheticModel(path("tiny-no-template"), { chatTemplate: "none" });
  await writeSyntheticModel(path("spm"), { vocab: "spm-bytes" });
  await writeSyntheticAdapter(path("adapter"), { base: path("tiny") });
  await writeTruncatedModel(path("tiny"), path("tiny-1block"), 1);
  llama = await getLlama({
    build: "never",
    gpu: false,
    // node-llama-cpp defaults to 4 threads here: orders of magnitude slower on 2 cores (docs/engine.md §4).
    maxThreads: 1,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => logs.push(`${level}: ${message}`),
  });
});

afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function withModel<T>(name: string, use: (model: LlamaModel) => Promise<T>): Promise<T> {
  const model = await llama.loadModel({ modelPath: path(name) });
  try {
    return await use(model);
  } finally {
    await model.dispose();
  }
}

/** 20 greedy tokens after `TEXT`, optionally with a LoRA adapter at `scale`. */
async function greedy(model: LlamaModel, adapter?: { filePath: string; scale: number }): Promise<Token[]> {
  const context = await model.createContext({
    contextSize: 256,
    threads: 1,
    ...(adapter ? { lora: { adapters: [adapter] } } : {}),
  });
  try {
    const tokens: Token[] = [];
    for await (const token of context.getSequence().evaluate(model.tokenize(TEXT), { temperature: 0 })) {
      tokens.push(token);
      if (tokens.length === 20) break;
    }
    return tokens;
  } finally {
    await context.dispose();
  }
}

async function embedding(model: LlamaModel): Promise<readonly number[]> {
  const context = await model.createEmbeddingContext({ contextSize: 256, threads: 1 });
  try {
    return (await context.getEmbeddingFor(TEXT)).vector;
  } finally {
    await context.dispose();
  }
}

describe("generated GGUF fixtures in llama.cpp", () => {
  it.each([
    ["tiny", "llama ?B all F32"],
    ["tiny-f16", "llama ?B F16"],
  ])("%s loads, is ChatML, and tokenises bytes exactly", async (name, typeDescription) => {
    await withModel(name, async (model) => {
      expect(model.typeDescription).toBe(typeDescription);
      expect(model.trainContextSize).toBe(256);
      expect(model.embeddingVectorSize).toBe(64);
      expect(resolveChatWrapper(model)?.wrapperName).toBe("ChatML");
      const tokens = model.tokenize(TEXT);
      // 20 UTF-8 bytes ("é" is two), each its own token since there are no merges; tokenize() adds no BOS.
      expect(tokens).toHaveLength(20);
      expect(tokens).toEqual(Array.from(Buffer.from(TEXT, "utf8")));
      expect(model.detokenize(tokens)).toBe(TEXT);
      expect(model.tokenize("<|im_start|>", true)).toEqual([258]);
      expect([model.tokens.bos, model.tokens.eos, model.tokens.eot]).toEqual([256, 257, 259]);
      const first = await greedy(model);
      expect(first).toHaveLength(20);
      expect(await greedy(model)).toEqual(first);
    });
  });

  it("a model without a template falls back to Llama2Chat", async () => {
    await withModel("tiny-no-template", async (model) => {
      expect(resolveChatWrapper(model)?.wrapperName).toBe("Llama2Chat");
    });
  });

  it("the spm-bytes model loads, is ChatML, and round-trips text", async () => {
    await withModel("spm", async (model) => {
      expect(resolveChatWrapper(model)?.wrapperName).toBe("ChatML");
      expect(model.detokenize(model.tokenize(TEXT))).toBe(TEXT);
      expect(model.tokenize("<|im_start|>", true)).toEqual([259]);
      expect([model.tokens.bos, model.tokens.eos, model.tokens.eot]).toEqual([1, 2, 260]);
      expect(await greedy(model)).toHaveLength(20);
    });
  });

  it("the adapter changes greedy tokens at scale 1 and nothing at scale 0", async () => {
    await withModel("tiny", async (model) => {
      const base = await greedy(model);
      const adapted = await greedy(model, { filePath: path("adapter"), scale: 1 });
      expect(adapted).toHaveLength(20);
      expect(adapted).not.toEqual(base);
      expect(await greedy(model, { filePath: path("adapter"), scale: 0 })).toEqual(base);
    });
  });

  it("the 1-block truncated model loads and embeds at the base's width", async () => {
    const full = await withModel("tiny", embedding);
    const oneBlock = await withModel("tiny-1block", async (model) => {
      expect(model.fileInfo.metadata.llama?.block_count).toBe(1);
      return embedding(model);
    });
    expect(oneBlock).toHaveLength(full.length);
    expect(oneBlock.length).toBe(64);
    expect(oneBlock.every(Number.isFinite)).toBe(true);
    // A different depth gives a different hidden state.
    expect(oneBlock).not.toEqual(full);
  });
});
