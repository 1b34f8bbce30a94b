import { describe, expect, it } from "vitest";
import { archTensorSpecs } from "../../../src/core/gguf/archLayouts.js";
import { REAL_SHAPE_FIXTURES, realShapeRecipe } from "../../../src/core/gguf/realShapeRecipes.js";
import {
  ggufTarget,
  loraTargets,
  parseGgufLoraName,
  parsePeftTensorName,
  peftArchitecture,
  peftModule,
  peftTensorName,
  ropePermuteHeads,
} from "../../../src/core/peft/peftTensorNames.js";
import { permuteRopeRows } from "../../../src/core/peft/permuteRopeRows.js";

const rows = (values: number[]) => new Uint8Array(values);

describe("PEFT ↔ GGUF tensor names", () => {
  it.each(REAL_SHAPE_FIXTURES)("%s: every block matrix llama.cpp loads has a PEFT module, and back", (fixture) => {
    const shape = realShapeRecipe(fixture).shape;
    const arch = peftArchitecture(shape.architecture);
    const matrices = archTensorSpecs(shape, 32)
      .filter((s) => s.name.startsWith("blk.0.") && s.dims.length === 2)
      .map((s) => s.name.slice("blk.0.".length, -".weight".length));
    expect(matrices.sort()).toEqual(loraTargets(arch).sort());
    for (const target of matrices) expect(ggufTarget(arch, peftModule(arch, target))).toBe(target);
  });

  it("uses the module names of Hugging Face's checkpoints", () => {
    expect(loraTargets("qwen2").map((t) => peftModule("qwen2", t))).toEqual([
      "self_attn.q_proj",
      "self_attn.k_proj",
      "self_attn.v_proj",
      "self_attn.o_proj",
      "mlp.gate_proj",
      "mlp.up_proj",
      "mlp.down_proj",
    ]);
    // Phi-3 keeps q/k/v and gate/up fused on both sides.
    expect(peftModule("phi3", "attn_qkv")).toBe("self_attn.qkv_proj");
    expect(peftModule("phi3", "ffn_up")).toBe("mlp.gate_up_proj");
    expect(() => peftModule("phi3", "attn_q")).toThrow(expect.objectContaining({ code: "peft/unknownTensor" }));
    expect(ggufTarget("llama", "self_attn.qkv_proj")).toBeUndefined();
  });

  it("refuses architectures it has no mapping for, naming them", () => {
    expect(() => peftArchitecture("gemma2")).toThrow(
      expect.objectContaining({ code: "peft/unsupportedArchitecture", message: expect.stringContaining("gemma2") }),
    );
  });

  it("writes and parses PEFT names, with or without the adapter-name infix", () => {
    const name = peftTensorName({ block: 12, module: "self_attn.q_proj" }, "b");
    expect(name).toBe("base_model.model.model.layers.12.self_attn.q_proj.lora_B.weight");
    expect(parsePeftTensorName(name)).toEqual({ block: 12, module: "self_attn.q_proj", half: "b" });
    expect(parsePeftTensorName("base_model.model.model.layers.0.mlp.down_proj.lora_A.default.weight")).toEqual({
      block: 0,
      module: "mlp.down_proj",
      half: "a",
    });
    expect(parsePeftTensorName("base_model.model.lm_head.lora_A.weight")).toBeUndefined();
    expect(parsePeftTensorName("base_model.model.model.layers.1.self_attn.q_proj.weight")).toBeUndefined();
    expect(parseGgufLoraName("blk.3.ffn_up.weight.lora_a")).toEqual({ block: 3, target: "ffn_up", half: "a" });
    expect(parseGgufLoraName("token_embd.weight.lora_a")).toBeUndefined();
  });

  it("permutes rows only for Llama's q (by n_head) and k (by n_head_kv)", () => {
    const heads = { headCount: 8, headCountKv: 2 };
    expect(ropePermuteHeads("llama", "attn_q", heads)).toBe(8);
    expect(ropePermuteHeads("llama", "attn_k", heads)).toBe(2);
    expect(ropePermuteHeads("llama", "attn_v", heads)).toBeUndefined();
    for (const arch of ["qwen2", "qwen3", "gemma3"] as const)
      expect(ropePermuteHeads(arch, "attn_q", heads)).toBeUndefined();
  });
});

describe("permuteRopeRows", () => {
  it("matches convert_hf_to_gguf.py's LlamaModel.permute (values computed with numpy)", () => {
    // permute(np.arange(12).reshape(12, 1), 2) and permute(np.arange(8).reshape(8, 1), 1)
    expect(Array.from(permuteRopeRows(rows([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 12, 2, "toGguf"))).toEqual([
      0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11,
    ]);
    expect(Array.from(permuteRopeRows(rows([0, 1, 2, 3, 4, 5, 6, 7]), 8, 1, "toGguf"))).toEqual([
      0, 4, 1, 5, 2, 6, 3, 7,
    ]);
  });

  it("moves whole rows, and toHf undoes toGguf", () => {
    const data = new Uint8Array(16 * 3).map((_, i) => (i * 37) % 251);
    const there = permuteRopeRows(data, 16, 4, "toGguf");
    expect(Array.from(there.subarray(3, 6))).toEqual(Array.from(data.subarray(6, 9))); // GGUF row 1 = HF row 2
    expect(Array.from(permuteRopeRows(there, 16, 4, "toHf"))).toEqual(Array.from(data));
    expect(Array.from(there)).not.toEqual(Array.from(data));
  });

  it("refuses rows that do not split into heads of even size", () => {
    expect(() => permuteRopeRows(new Uint8Array(12), 12, 4, "toHf")).toThrow(
      expect.objectContaining({ code: "peft/shapeMismatch" }),
    );
  });
});
