/**
 * The real-shape fixtures (vendor tensor layouts, vendor tokenizers and templates; see testkit/realModels.ts)
 * in the real llama.cpp: each loads in the engine with the expected facts, formats a system + user conversation
 * with its template, and generates; and llama.cpp tokenises text exactly as the vendor's Hugging Face tokenizer
 * does (@lenml/tokenizers). The tokenisation check loads the vocabularies in-process through node-llama-cpp,
 * like ggufFixtures.test.ts: it tests the files, not the engine.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { PHI3_ADDED_TOKENS, realShapeRecipe } from "../../src/core/gguf/realShapeRecipes.js";
import { writeTruncatedModel } from "../../src/core/gguf/writeTruncatedModel.js";
import { REAL_FIXTURES, realModelPath, type RealFixture } from "../../testkit/realModels.js";
import { relativeError, startEngine } from "./harness.js";

/** What the engine must report for each fixture, and how its template must render a system + user turn. */
const EXPECTED: Record<
  RealFixture,
  {
    architecture: string;
    vocabSize: number;
    chatWrapper: string;
    systemRole: boolean;
    rendered: RegExp;
    /** Text with the vendor's special tokens, tokenised with special tokens parsed. */
    special: string;
  }
> = {
  llama3: {
    architecture: "llama",
    vocabSize: 128_256,
    chatWrapper: "Llama 3",
    systemRole: true,
    rendered: /system<\|end_header_id\|>\n\nBe brief\.<\|eot_id\|><\|start_header_id\|>user<\|end_header_id\|>\n\nHi!/,
    special:
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  },
  qwen2: {
    architecture: "qwen2",
    vocabSize: 151_669,
    chatWrapper: "ChatML",
    systemRole: true,
    rendered:
      /<\|im_start\|>system\nBe brief\.<\|im_end\|>\n<\|im_start\|>user\nHi!<\|im_end\|>\n<\|im_start\|>assistant\n$/,
    special: "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{}\n</tool_call>",
  },
  qwen3: {
    architecture: "qwen3",
    vocabSize: 151_669,
    chatWrapper: "Qwen",
    systemRole: true,
    rendered:
      /<\|im_start\|>system\nBe brief\.<\|im_end\|>\n<\|im_start\|>user\nHi!<\|im_end\|>\n<\|im_start\|>assistant\n/,
    special: "<|im_start|>assistant\n<think>\n\n</think>\n\nOK<|im_end|>",
  },
  gemma3: {
    architecture: "gemma3",
    vocabSize: 262_145,
    chatWrapper: "Gemma",
    systemRole: false,
    rendered: /<start_of_turn>user\nBe brief\.\n\nHi!<end_of_turn>\n<start_of_turn>model\n$/,
    special: "<bos><start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\n  two  spaces\n\n\n",
  },
  phi3: {
    architecture: "phi3",
    vocabSize: 32_064,
    chatWrapper: "JinjaTemplate",
    systemRole: true,
    rendered: /<\|system\|>\nBe brief\.<\|end\|>\n<\|user\|>\nHi!<\|end\|>\n<\|assistant\|>\n$/,
    special: "<|system|>\nBe brief.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\n",
  },
  mistral: {
    architecture: "llama",
    vocabSize: 32_000,
    chatWrapper: "JinjaTemplate",
    systemRole: false,
    rendered: /\[INST\] Be brief\.\n\nHi! \[\/INST\]$/,
    special: "<s>[INST] Be brief.\n\nHi! [/INST]",
  },
};

/** Plain text of each kind a user brings: prose, code, CJK, emoji, whitespace runs, accents, numbers. */
const TEXTS = [
  "Hello, world! How are you?",
  "function add(a, b) {\n  return a + b;\n}\n",
  "你好，世界！今天天气很好。",
  "I ❤️ 🦙 and 🚀!",
  "a  b   c\t\td\n\n\ne    f",
  " leading space",
  "12345 3.14159 don't",
  "héllo naïve café",
];

const paths = {} as Record<RealFixture, string>;
let engine: EngineProcess;
let llama: Llama;

beforeAll(async () => {
  // The first run writes the six fixtures (~15 s); later runs find them in .cache/real-models.
  for (const name of REAL_FIXTURES) paths[name] = await realModelPath(name);
  engine = startEngine();
  llama = await getLlama({ build: "never", gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error });
}, 300_000);

afterAll(async () => {
  await engine?.dispose();
  await llama?.dispose();
});

describe.each(REAL_FIXTURES)("real-shape fixture %s", (name) => {
  const expected = EXPECTED[name];

  it("loads in the engine, formats a system + user turn with its template, and generates", async () => {
    const info = await engine.request("engine/loadModel", { modelPath: paths[name], gpu: "false", threads: 2 });
    try {
      expect(info).toMatchObject({
        architecture: expected.architecture,
        layers: 2,
        embeddingSize: 64,
        contextLength: 512,
        vocabSize: expected.vocabSize,
        hasChatTemplate: true,
        chatWrapper: expected.chatWrapper,
        supportsSystemMessages: expected.systemRole,
      });
      expect(info.typeDescription).toMatch(/F16/);
      const messages = [
        { role: "system" as const, content: "Be brief." },
        { role: "user" as const, content: "Hi!" },
      ];
      const prompt = await engine.request("engine/formatPrompt", { modelId: info.modelId, messages });
      expect(prompt.text).toMatch(expected.rendered);
      expect(prompt.tokens.length).toBeGreaterThan(4);

      const { contextId } = await engine.request("engine/createContext", {
        modelId: info.modelId,
        contextSize: 256,
        threads: 2,
      });
      const answer = await engine.request("engine/generate", { contextId, messages, maxTokens: 8 });
      expect(["eogToken", "stopGenerationTrigger", "maxTokens"]).toContain(answer.stopReason);
      expect(answer.timings.promptTokens).toBe(prompt.tokens.length);
      expect(answer.timings.generatedTokens).toBeGreaterThan(0);
    } finally {
      await engine.request("engine/unloadModel", { modelId: info.modelId });
    }
  });

  it("its one-block copy's feature head reads the state that copy's embedding gives", async () => {
    const dir = await mkdtemp(join(tmpdir(), `prism-head-${name}-`));
    const ids: string[] = [];
    try {
      const load = async (file: string, featureHead: boolean) => {
        await writeTruncatedModel(paths[name], join(dir, file), 1, { featureHead });
        const info = await engine.request("engine/loadModel", { modelPath: join(dir, file), gpu: "false", threads: 2 });
        ids.push(info.modelId);
        return info.modelId;
      };
      const plain = await load("plain.gguf", false);
      const head = await load("head.gguf", true);
      const { contextId } = await engine.request("engine/createContext", {
        modelId: head,
        contextSize: 256,
        threads: 2,
      });
      for (const text of TEXTS.slice(0, 4)) {
        const messages = [{ role: "user" as const, content: text }];
        const expected = await engine.request("engine/embed", { modelId: plain, input: { messages } });
        const read = await engine.request("engine/featureHead", { contextId, messages });
        expect(read.tokens).toBe(expected.tokens);
        // The head multiplies the state quantised to 8 bits per block of 32 (featureHead.ts).
        expect({ text, withinTwoPercent: relativeError(read.embedding, expected.embedding) < 0.02 }).toEqual({
          text,
          withinTwoPercent: true,
        });
      }
    } finally {
      for (const modelId of ids) await engine.request("engine/unloadModel", { modelId });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("tokenises text and special tokens exactly as the vendor's Hugging Face tokenizer does", async () => {
    const hf = await vendorTokenizer(name);
    const model = await llama.loadModel({ modelPath: paths[name], vocabOnly: true });
    try {
      for (const text of TEXTS) {
        expect({ text, ids: Array.from(model.tokenize(text, false)) }).toEqual({
          text,
          ids: hf.encode(text, { add_special_tokens: false }),
        });
      }
      // Special tokens as single ids, and whatever whitespace handling the vendor gives them (Phi-3's rstrip).
      const { special } = expected;
      expect(Array.from(model.tokenize(special, true))).toEqual(hf.encode(special, { add_special_tokens: false }));
    } finally {
      await model.dispose();
    }
  });
});

/** The `@lenml/tokenizer-*` package's tokenizer (plus Phi-3's chat tokens for phi3). */
async function vendorTokenizer(
  name: RealFixture,
): Promise<{ encode(text: string, options: { add_special_tokens: boolean }): number[] }> {
  const pkg = (await import(realShapeRecipe(name).tokenizerPackage)) as {
    fromPreTrained(params?: { tokenizerJSON?: object }): {
      encode(text: string, options: { add_special_tokens: boolean }): number[];
    };
    tokenizerJSON: { added_tokens: object[] };
  };
  if (name !== "phi3") return pkg.fromPreTrained();
  return pkg.fromPreTrained({
    tokenizerJSON: { added_tokens: [...pkg.tokenizerJSON.added_tokens, ...PHI3_ADDED_TOKENS] },
  });
}
