import { describe, expect, it } from "vitest";
import { archHparamKvs, archTensorSpecs, llama3RopeFactors } from "../../../src/core/gguf/archLayouts.js";
import {
  REAL_SHAPE_FIXTURES,
  realShapeRecipe,
  type RealShapeFixture,
} from "../../../src/core/gguf/realShapeRecipes.js";

const V = 1000;
/** name → dims of one block's tensors (block 0, prefix stripped) and of the global ones. */
function layout(fixture: RealShapeFixture) {
  const specs = archTensorSpecs(realShapeRecipe(fixture).shape, V);
  const block = Object.fromEntries(
    specs.filter((s) => s.name.startsWith("blk.0.")).map((s) => [s.name.slice("blk.0.".length), s.dims]),
  );
  const global = Object.fromEntries(specs.filter((s) => !s.name.startsWith("blk.")).map((s) => [s.name, s.dims]));
  return { specs, block, global };
}
const hparams = (fixture: RealShapeFixture) =>
  Object.fromEntries(archHparamKvs(realShapeRecipe(fixture).shape, V).map((kv) => [kv.key, kv.value.value]));

describe("archTensorSpecs: llama.cpp's tensor layouts", () => {
  it("llama3 (Llama 3.2): GQA q/k/v, SwiGLU FFN, rope_freqs, tied embeddings (no output.weight)", () => {
    const { block, global, specs } = layout("llama3");
    expect(global).toEqual({ "token_embd.weight": [64, V], "rope_freqs.weight": [8], "output_norm.weight": [64] });
    expect(block).toEqual({
      "attn_norm.weight": [64],
      "attn_q.weight": [64, 64],
      "attn_k.weight": [64, 32],
      "attn_v.weight": [64, 32],
      "attn_output.weight": [64, 64],
      "ffn_norm.weight": [64],
      "ffn_gate.weight": [64, 128],
      "ffn_up.weight": [64, 128],
      "ffn_down.weight": [128, 64],
    });
    expect(specs).toHaveLength(3 + 2 * 9);
    expect(hparams("llama3")).toMatchObject({ "llama.rope.dimension_count": 16, "llama.vocab_size": V });
  });

  it("mistral: the llama layout with 4:1 GQA, a 3.5× FFN and an untied output", () => {
    const { block, global } = layout("mistral");
    expect(global["output.weight"]).toEqual([64, V]);
    expect(global["rope_freqs.weight"]).toBeUndefined();
    expect(block["attn_k.weight"]).toEqual([64, 16]);
    expect(block["ffn_up.weight"]).toEqual([64, 224]);
    expect(hparams("mistral")).toMatchObject({ "llama.attention.head_count": 4, "llama.attention.head_count_kv": 1 });
  });

  it("qwen2: q/k/v biases, tied embeddings", () => {
    const { block, global } = layout("qwen2");
    expect(block).toMatchObject({ "attn_q.bias": [64], "attn_k.bias": [32], "attn_v.bias": [32] });
    expect(global["output.weight"]).toBeUndefined();
    expect(layout("qwen2").specs.find((s) => s.name === "blk.1.attn_k.bias")?.init).toEqual({ kind: "zeros" });
  });

  it("qwen3: q/k norms over head_dim 32, wider than n_embd / n_head, written as key_length/value_length", () => {
    const { block } = layout("qwen3");
    expect(block).toMatchObject({
      "attn_q.weight": [64, 128],
      "attn_k.weight": [64, 64],
      "attn_q_norm.weight": [32],
      "attn_k_norm.weight": [32],
      "attn_output.weight": [128, 64],
    });
    expect(block["attn_q.bias"]).toBeUndefined();
    expect(hparams("qwen3")).toMatchObject({ "qwen3.attention.key_length": 32, "qwen3.attention.value_length": 32 });
  });

  it("gemma3: q/k norms, post-attention and post-FFN norms, one KV head, sliding-window metadata", () => {
    const { block, global } = layout("gemma3");
    expect(Object.keys(block)).toEqual([
      "attn_norm.weight",
      "attn_q.weight",
      "attn_k.weight",
      "attn_v.weight",
      "attn_q_norm.weight",
      "attn_k_norm.weight",
      "attn_output.weight",
      "post_attention_norm.weight",
      "ffn_norm.weight",
      "ffn_gate.weight",
      "ffn_up.weight",
      "ffn_down.weight",
      "post_ffw_norm.weight",
    ]);
    expect(block["attn_k.weight"]).toEqual([64, 32]);
    expect(global["output.weight"]).toBeUndefined();
    expect(hparams("gemma3")).toMatchObject({
      "gemma3.attention.sliding_window": 64,
      "gemma3.attention.sliding_window_pattern": 2,
      "gemma3.rope.freq_base_swa": 10_000,
    });
  });

  it("phi3: fused attn_qkv and fused gate-up ffn_up, no ffn_gate, untied output", () => {
    const { block, global } = layout("phi3");
    expect(block).toEqual({
      "attn_norm.weight": [64],
      "attn_qkv.weight": [64, 192],
      "attn_output.weight": [64, 64],
      "ffn_norm.weight": [64],
      "ffn_up.weight": [64, 256],
      "ffn_down.weight": [128, 64],
    });
    expect(global["output.weight"]).toEqual([64, V]);
  });

  it("every fixture: 2 blocks, n_embd 64, no key_length when head_dim × n_head = n_embd", () => {
    for (const f of REAL_SHAPE_FIXTURES) {
      const { shape } = realShapeRecipe(f);
      const h = hparams(f);
      expect(h[`${shape.architecture}.block_count`]).toBe(2);
      expect(h[`${shape.architecture}.embedding_length`]).toBe(64);
      expect(`${shape.architecture}.attention.key_length` in h).toBe(shape.headDim * shape.headCount !== 64);
    }
  });
});

describe("llama3RopeFactors", () => {
  it("leaves high frequencies alone, divides low ones by 8, and interpolates between", () => {
    const f = Array.from(llama3RopeFactors(128, 500_000));
    expect(f).toHaveLength(64);
    expect(f[0]).toBe(1);
    expect(f[63]).toBe(8);
    const middle = f.filter((x) => x > 1 && x < 8);
    expect(middle.length).toBeGreaterThan(0);
    expect(f).toEqual([...f].sort((a, b) => a - b));
  });
});
