import { describe, expect, it } from "vitest";
import { GgufValueType, type GgufKv } from "../../../src/core/gguf/ggufTypes.js";
import { getGgufValue } from "../../../src/core/gguf/readGguf.js";
import { readHfTokenizer } from "../../../src/core/gguf/readHfTokenizer.js";
import { realShapeRecipe } from "../../../src/core/gguf/realShapeRecipes.js";
import {
  TokenType,
  buildVendorVocab,
  type HfTokenizerJson,
  type VendorVocab,
} from "../../../src/core/gguf/vendorVocab.js";
import { tokenizerDir, type RealFixture } from "../../../testkit/realModels.js";

/** The vocabulary a fixture's recipe makes from its vendor tokenizer (parsed once per fixture). */
const cache = new Map<RealFixture, Promise<VendorVocab>>();
function vendorVocab(name: RealFixture): Promise<VendorVocab> {
  let vocab = cache.get(name);
  if (!vocab) {
    vocab = readHfTokenizer(tokenizerDir(name)).then(({ tokenizer, tokenizerConfig }) =>
      buildVendorVocab(tokenizer, tokenizerConfig, realShapeRecipe(name).vocab),
    );
    cache.set(name, vocab);
  }
  return vocab;
}

const kv = (vocab: { kvs: GgufKv[] }, key: string) => vocab.kvs.find((k) => k.key === key)?.value.value;
const idOf = (vocab: VendorVocab, text: string): number => vocab.tokens.indexOf(text);

// Parsing a vendor tokenizer.json takes 0.1–2 s (Gemma's is 33 MB).
describe("buildVendorVocab on the vendor tokenizers", { timeout: 30_000 }, () => {
  it("Qwen3: 151,669 tokens (151,643 BPE + 26 added), the merges, ChatML ids, control and user-defined types", async () => {
    const v = await vendorVocab("qwen3");
    expect(v.tokens).toHaveLength(151_669);
    expect(v.mergeCount).toBe(151_387);
    expect(kv(v, "tokenizer.ggml.model")).toBe("gpt2");
    expect(kv(v, "tokenizer.ggml.pre")).toBe("qwen2");
    expect(v.ids).toEqual({ bos: 151_643, eos: 151_645, eot: 151_645, pad: 151_643 });
    expect(v.addBos).toBe(false);
    expect(v.tokens[151_644]).toBe("<|im_start|>");
    expect(v.types[151_644]).toBe(TokenType.Control);
    // Added but not special: user-defined (the 6 tool and think tags), except those that look like controls.
    expect([v.tokens[151_667], v.types[151_667]]).toEqual(["<think>", TokenType.UserDefined]);
    expect([v.tokens[151_657], v.types[151_657]]).toEqual(["<tool_call>", TokenType.UserDefined]);
    expect([v.tokens[151_659], v.types[151_659]]).toEqual(["<|fim_prefix|>", TokenType.Control]);
    expect(v.types[idOf(v, "Hello")]).toBe(TokenType.Normal);
    const counts = countTypes(v);
    expect(counts).toEqual({ [TokenType.Normal]: 151_643, [TokenType.Control]: 20, [TokenType.UserDefined]: 6 });
    // The real template, with its thinking branch.
    expect(v.chatTemplate).toContain("<think>");
    // Merges as "a b" strings (the file stores [a, b] pairs).
    const merges = kv(v, "tokenizer.ggml.merges") as { items: string[] };
    expect(merges.items[0]).toBe("Ġ Ġ");
  });

  it("Qwen2.5 recipe: same vocabulary, the ChatML template written here with its default system prompt", async () => {
    const v = await vendorVocab("qwen2");
    expect(v.tokens).toHaveLength(151_669);
    expect(v.chatTemplate).toContain("You are Qwen, created by Alibaba Cloud.");
    expect(v.chatTemplate).not.toContain("<think>");
  });

  it("Llama 3.1: 128,256 tokens, 280,147 merges, llama-bpe, BOS added (from the post-processor), EOS = <|eot_id|>", async () => {
    const v = await vendorVocab("llama3");
    expect(v.tokens).toHaveLength(128_256);
    expect(v.mergeCount).toBe(280_147);
    expect(kv(v, "tokenizer.ggml.pre")).toBe("llama-bpe");
    expect(v.ids).toEqual({ bos: 128_000, eos: 128_009, eot: 128_009 });
    expect(v.addBos).toBe(true);
    expect(countTypes(v)).toEqual({ [TokenType.Normal]: 128_000, [TokenType.Control]: 256 });
    expect(v.chatTemplate).toContain("<|start_header_id|>");
  });

  it("Gemma 3: SentencePiece, 262,145 tokens with scores, no space prefix, whitespace runs as user-defined spaces", async () => {
    const v = await vendorVocab("gemma3");
    expect(v.tokens).toHaveLength(262_145);
    expect(v.mergeCount).toBe(0);
    expect(kv(v, "tokenizer.ggml.model")).toBe("llama");
    expect(kv(v, "tokenizer.ggml.merges")).toBeUndefined();
    expect(kv(v, "tokenizer.ggml.add_space_prefix")).toBe(false);
    expect(v.ids).toEqual({ bos: 2, eos: 106, eot: 106, unk: 3, pad: 0 });
    expect(v.addBos).toBe(true);
    expect([v.tokens[106], v.types[106]]).toEqual(["<end_of_turn>", TokenType.Control]);
    expect([v.tokens[3], v.types[3]]).toEqual(["<unk>", TokenType.Unknown]);
    expect([v.tokens[138], v.types[138]]).toEqual(["  ", TokenType.UserDefined]);
    expect(v.types[idOf(v, "<unused0>")]).toBe(TokenType.Control);
    expect(v.types[idOf(v, "<0x0A>")]).toBe(TokenType.Byte);
    const scores = (kv(v, "tokenizer.ggml.scores") as { items: Float32Array }).items;
    expect(scores).toHaveLength(262_145);
    expect(scores[106]).toBe(-1000);
    // A merged piece scores -rank: earlier merges win, as the BPE's ranks say.
    expect(scores[idOf(v, "▁the")]).toBeGreaterThan(scores[idOf(v, "▁theorem")] ?? 0);
    expect(v.chatTemplate).toContain("<start_of_turn>");
  });

  it("Phi-3 recipe: 32,000 SentencePiece + 11 chat tokens, padded to 32,064; EOS <|endoftext|>, EOT <|end|>, no BOS", async () => {
    const v = await vendorVocab("phi3");
    expect(v.tokens).toHaveLength(32_064);
    expect(v.ids).toEqual({ bos: 1, eos: 32_000, eot: 32_007, unk: 0, pad: 32_000 });
    expect(v.addBos).toBe(false);
    expect([v.tokens[32_010], v.types[32_010]]).toEqual(["<|user|>", TokenType.Control]);
    expect([v.tokens[32_011], v.types[32_011]]).toEqual(["[PAD32011]", TokenType.Unused]);
    expect(countTypes(v)).toEqual({
      [TokenType.Normal]: 31_741,
      [TokenType.Unknown]: 1,
      [TokenType.Control]: 13,
      [TokenType.Unused]: 53,
      [TokenType.Byte]: 256,
    });
    expect(v.chatTemplate).toContain("<|assistant|>");
  });

  it("Mistral recipe: Mistral's SentencePiece (the llama2 package ships it), BOS added, [INST] template", async () => {
    const v = await vendorVocab("mistral");
    expect(v.tokens).toHaveLength(32_000);
    expect(v.tokens[22_557]).toBe("▁Hello");
    expect(v.ids).toEqual({ bos: 1, eos: 2, unk: 0 });
    expect(v.addBos).toBe(true);
    expect(v.chatTemplate).toContain("[INST]");
  });
});

describe("buildVendorVocab on small tokenizers", () => {
  const bpe = (over: Partial<HfTokenizerJson["model"]> = {}, added: HfTokenizerJson["added_tokens"] = []) => ({
    model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2, "a b": 4 }, merges: [["a", "b"]] as [string, string][], ...over },
    added_tokens: added,
  });

  it("pads ids without a token as [PAD<id>] UNUSED and encodes a space inside a merge pair as U+0120", () => {
    const v = buildVendorVocab(
      bpe({
        merges: [
          ["a", "b"],
          ["a b", "a"],
        ],
      }),
      {},
      { model: "gpt2", pre: "default" },
    );
    expect(v.tokens).toEqual(["a", "b", "ab", "[PAD3]", "a b"]);
    expect(Array.from(v.types)).toEqual([1, 1, 1, 5, 1]);
    expect((kv(v, "tokenizer.ggml.merges") as { items: string[] }).items).toEqual(["a b", "aĠb a"]);
    expect(getGgufValue(v, "tokenizer.ggml.add_bos_token", GgufValueType.Bool)).toBe(false);
  });

  it("writes special ids from the config, looked up among the added tokens, and the default of a template list", () => {
    const v = buildVendorVocab(
      bpe({}, [
        { id: 5, content: "<s>", special: true },
        { id: 6, content: "<|end|>", special: false },
      ]),
      {
        bos_token: { content: "<s>" },
        eos_token: "<|end|>",
        add_bos_token: true,
        chat_template: [
          { name: "tool_use", template: "T" },
          { name: "default", template: "D" },
        ],
      },
      { model: "gpt2" },
    );
    expect(v.ids).toEqual({ bos: 5, eos: 6 });
    expect(v.types[6]).toBe(TokenType.Control);
    expect(v.chatTemplate).toBe("D");
    expect(kv(v, "tokenizer.ggml.pre")).toBeUndefined();
  });

  it("refuses two ids with the same text (llama.cpp would abort the process)", () => {
    expect(() => buildVendorVocab(bpe({}, [{ id: 5, content: "ab", special: false }]), {}, { model: "gpt2" })).toThrow(
      /tokens 2 and 5/,
    );
  });
});

function countTypes(v: VendorVocab): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const t of v.types) counts[t] = (counts[t] ?? 0) + 1;
  return counts;
}
