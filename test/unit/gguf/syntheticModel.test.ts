import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { float16BitsToFloat32 } from "../../../src/core/gguf/float16.js";
import { GgmlType, GgufValueType } from "../../../src/core/gguf/ggufTypes.js";
import { getGgufValue, readGguf, requireGgufValue, type GgufFile } from "../../../src/core/gguf/readGguf.js";
import {
  TINY_MODEL,
  llamaTensorSpecs,
  writeSyntheticAdapter,
  writeSyntheticModel,
} from "../../../src/core/gguf/syntheticModel.js";
import { gpt2ByteSpelling } from "../../../src/core/gguf/syntheticVocab.js";

let dir: string;
let tinyPath: string;
let tiny: GgufFile;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-gguf-synth-"));
  tinyPath = join(dir, "tiny.gguf");
  await writeSyntheticModel(tinyPath);
  tiny = await readGguf(tinyPath);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = async (path: string): Promise<string> =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
const strings = (file: GgufFile, key: string): string[] => {
  const a = requireGgufValue(file, key, GgufValueType.Array);
  if (a.itemType !== GgufValueType.String) throw new Error(`${key} is not a string array`);
  return a.items;
};
const ints = (file: GgufFile, key: string): number[] => {
  const a = requireGgufValue(file, key, GgufValueType.Array);
  if (a.itemType !== GgufValueType.Int32) throw new Error(`${key} is not an i32 array`);
  return Array.from(a.items);
};

describe("writeSyntheticModel", () => {
  it("writes the tiny model of docs/engine.md §10: 21 tensors with the right shapes", async () => {
    expect(tiny.fileSize).toBe(468_128);
    const shapes = Object.fromEntries(tiny.tensors.map((t) => [t.name, [t.dims, t.type]]));
    expect(tiny.tensors).toHaveLength(21);
    expect(tiny.tensors.slice(0, 3).map((t) => t.name)).toEqual([
      "token_embd.weight",
      "output_norm.weight",
      "output.weight",
    ]);
    expect(shapes).toMatchObject({
      "token_embd.weight": [[64, 260], GgmlType.F32],
      "output_norm.weight": [[64], GgmlType.F32],
      "output.weight": [[64, 260], GgmlType.F32],
    });
    for (const b of [0, 1]) {
      expect(shapes).toMatchObject({
        [`blk.${b}.attn_norm.weight`]: [[64], GgmlType.F32],
        [`blk.${b}.attn_q.weight`]: [[64, 64], GgmlType.F32],
        [`blk.${b}.attn_k.weight`]: [[64, 64], GgmlType.F32],
        [`blk.${b}.attn_v.weight`]: [[64, 64], GgmlType.F32],
        [`blk.${b}.attn_output.weight`]: [[64, 64], GgmlType.F32],
        [`blk.${b}.ffn_norm.weight`]: [[64], GgmlType.F32],
        [`blk.${b}.ffn_gate.weight`]: [[64, 128], GgmlType.F32],
        [`blk.${b}.ffn_up.weight`]: [[64, 128], GgmlType.F32],
        [`blk.${b}.ffn_down.weight`]: [[128, 64], GgmlType.F32],
      });
    }
  });

  it("has the §10 hyper-parameters and gpt2-bytes vocabulary", () => {
    const u32 = (key: string): number | undefined => getGgufValue(tiny, key, GgufValueType.Uint32);
    expect(requireGgufValue(tiny, "general.architecture", GgufValueType.String)).toBe("llama");
    expect(requireGgufValue(tiny, "general.type", GgufValueType.String)).toBe("model");
    expect(
      [
        "block_count",
        "embedding_length",
        "attention.head_count",
        "attention.head_count_kv",
        "feed_forward_length",
        "context_length",
        "rope.dimension_count",
      ].map((k) => u32(`llama.${k}`)),
    ).toEqual([2, 64, 4, 4, 128, 256, 16]);
    expect(getGgufValue(tiny, "llama.rope.freq_base", GgufValueType.Float32)).toBe(10000);
    expect(getGgufValue(tiny, "llama.attention.layer_norm_rms_epsilon", GgufValueType.Float32)).toBe(Math.fround(1e-5));
    const tokens = strings(tiny, "tokenizer.ggml.tokens");
    expect(tokens).toHaveLength(260);
    expect(tokens.slice(0, 256)).toEqual(gpt2ByteSpelling());
    expect([tokens[32], tokens[33], tokens[72], tokens[0xe9], tokens[10]]).toEqual(["Ġ", "!", "H", "é", "Ċ"]);
    expect(tokens.slice(256)).toEqual(["<s>", "</s>", "<|im_start|>", "<|im_end|>"]);
    expect(new Set(tokens).size).toBe(260);
    const types = ints(tiny, "tokenizer.ggml.token_type");
    expect(types.slice(0, 256).every((t) => t === 1)).toBe(true);
    expect(types.slice(256)).toEqual([3, 3, 3, 3]);
    expect(strings(tiny, "tokenizer.ggml.merges")).toEqual([]);
    expect(getGgufValue(tiny, "tokenizer.ggml.model", GgufValueType.String)).toBe("gpt2");
    expect(getGgufValue(tiny, "tokenizer.ggml.pre", GgufValueType.String)).toBe("default");
    expect([
      u32("tokenizer.ggml.bos_token_id"),
      u32("tokenizer.ggml.eos_token_id"),
      u32("tokenizer.ggml.padding_token_id"),
    ]).toEqual([256, 257, 257]);
    expect(getGgufValue(tiny, "tokenizer.ggml.add_bos_token", GgufValueType.Bool)).toBe(true);
    expect(getGgufValue(tiny, "tokenizer.ggml.add_eos_token", GgufValueType.Bool)).toBe(false);
    expect(getGgufValue(tiny, "tokenizer.chat_template", GgufValueType.String)).toContain("<|im_start|>");
  });

  it("initialises weights per §10 (norms 1, σ by role)", async () => {
    const bytes = await readFile(tinyPath);
    const values = (name: string): Float32Array => {
      const t = tiny.tensors.find((x) => x.name === name);
      if (!t) throw new Error(name);
      const start = tiny.dataOffset + t.offset;
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + t.byteSize));
    };
    const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(Array.from(values("blk.0.attn_norm.weight")).every((v) => v === 1)).toBe(true);
    expect(std(values("token_embd.weight"))).toBeCloseTo(1, 1);
    expect(std(values("output.weight"))).toBeCloseTo(2 / 8, 1);
    expect(std(values("blk.1.ffn_down.weight")) * Math.sqrt(128)).toBeCloseTo(1, 1);
    // Independent per tensor: same-shaped tensors differ.
    expect(values("blk.0.attn_q.weight")).not.toEqual(values("blk.0.attn_k.weight"));
  });

  it("is byte-identical for the same seed and differs for another", async () => {
    const again = join(dir, "again.gguf");
    const other = join(dir, "other.gguf");
    await writeSyntheticModel(again, { seed: 1 });
    await writeSyntheticModel(other, { seed: 2 });
    expect(await sha256(again)).toBe(await sha256(tinyPath));
    expect(await sha256(other)).not.toBe(await sha256(tinyPath));
  });

  it("writes F16 weights with F32 norms", async () => {
    const path = join(dir, "f16.gguf");
    const info = await writeSyntheticModel(path, { weightType: "f16" });
    expect(info.bytes).toBe(237_728);
    const file = await readGguf(path);
    const types = new Map(file.tensors.map((t) => [t.name, t.type]));
    expect(types.get("blk.0.attn_norm.weight")).toBe(GgmlType.F32);
    expect(types.get("output_norm.weight")).toBe(GgmlType.F32);
    expect(types.get("blk.0.attn_q.weight")).toBe(GgmlType.F16);
    expect(types.get("token_embd.weight")).toBe(GgmlType.F16);
    expect(getGgufValue(file, "general.file_type", GgufValueType.Uint32)).toBe(1);
  });

  it("writes the spm-bytes vocabulary of docs/trainer.md §7 plus ChatML tokens and ▁", async () => {
    const path = join(dir, "spm.gguf");
    const info = await writeSyntheticModel(path, {
      vocab: "spm-bytes",
      embeddingLength: 256,
      headCount: 4,
      headCountKv: 4,
    });
    const file = await readGguf(path);
    const tokens = strings(file, "tokenizer.ggml.tokens");
    expect(info.vocabSize).toBe(262);
    expect(tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(tokens[258]).toBe("<0xFF>");
    expect(tokens.slice(259)).toEqual(["<|im_start|>", "<|im_end|>", "▁"]);
    const types = ints(file, "tokenizer.ggml.token_type");
    expect([types[0], types[1], types[2], types[3], types[258], types[259], types[260], types[261]]).toEqual([
      2, 3, 3, 6, 6, 3, 3, 1,
    ]);
    const scores = requireGgufValue(file, "tokenizer.ggml.scores", GgufValueType.Array);
    expect(scores.itemType === GgufValueType.Float32 && scores.items.every((s) => s === 0) && scores.items.length).toBe(
      262,
    );
    expect(getGgufValue(file, "tokenizer.ggml.model", GgufValueType.String)).toBe("llama");
    expect(file.tensors.find((t) => t.name === "token_embd.weight")?.dims).toEqual([256, 262]);
  });

  it("makes the crash, unsupported-architecture and no-template fixtures", async () => {
    await writeSyntheticModel(join(dir, "dup.gguf"), { duplicateVocab: true });
    const dup = strings(await readGguf(join(dir, "dup.gguf")), "tokenizer.ggml.tokens");
    expect(dup[1]).toBe(dup[0]);
    await writeSyntheticModel(join(dir, "dupspm.gguf"), { duplicateVocab: true, vocab: "spm-bytes" });
    expect(strings(await readGguf(join(dir, "dupspm.gguf")), "tokenizer.ggml.tokens")[4]).toBe("<0x00>");

    await writeSyntheticModel(join(dir, "arch.gguf"), {
      architecture: "prism-unknown",
      chatTemplate: "none",
      name: "x",
    });
    const arch = await readGguf(join(dir, "arch.gguf"));
    expect(getGgufValue(arch, "general.architecture", GgufValueType.String)).toBe("prism-unknown");
    expect(getGgufValue(arch, "prism-unknown.block_count", GgufValueType.Uint32)).toBe(2);
    expect(getGgufValue(arch, "general.name", GgufValueType.String)).toBe("x");
    expect(getGgufValue(arch, "tokenizer.chat_template", GgufValueType.String)).toBeUndefined();
  });

  it("supports other shapes (GQA) and reports the parameter count", async () => {
    const shape = {
      ...TINY_MODEL,
      blocks: 3,
      embeddingLength: 128,
      headCount: 8,
      headCountKv: 2,
      feedForwardLength: 256,
    };
    const info = await writeSyntheticModel(join(dir, "gqa.gguf"), shape);
    const file = await readGguf(join(dir, "gqa.gguf"));
    expect(file.tensors).toHaveLength(3 + 9 * 3);
    expect(file.tensors.find((t) => t.name === "blk.2.attn_k.weight")?.dims).toEqual([128, 32]);
    const params = file.tensors.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
    expect(info.parameterCount).toBe(params);
    expect(llamaTensorSpecs(shape, info.vocabSize).map((s) => s.name)).toEqual(file.tensors.map((t) => t.name));
  });

  it("rejects shapes llama.cpp could not load", async () => {
    for (const bad of [{ headCount: 3 }, { headCountKv: 3 }, { blocks: 0 }, { feedForwardLength: 1.5 }]) {
      await expect(writeSyntheticModel(join(dir, "bad.gguf"), bad)).rejects.toMatchObject({
        code: "gguf/writeFailed",
        message: expect.stringMatching(/invalid model shape/),
      });
    }
  });
});

describe("writeSyntheticModel, pooled sampling (models over 16M parameters)", () => {
  it("is deterministic, F16 throughout, and keeps each tensor's σ", async () => {
    const shape = {
      blocks: 2,
      embeddingLength: 1024,
      headCount: 16,
      headCountKv: 4,
      feedForwardLength: 2816,
      weightType: "f16" as const,
    };
    const a = join(dir, "pooled-a.gguf");
    const b = join(dir, "pooled-b.gguf");
    const info = await writeSyntheticModel(a, shape);
    expect(info.parameterCount).toBeGreaterThan(16_000_000);
    await writeSyntheticModel(b, shape);
    expect(await sha256(a)).toBe(await sha256(b));
    const file = await readGguf(a);
    const down = file.tensors.find((t) => t.name === "blk.1.ffn_down.weight");
    if (!down) throw new Error("no ffn_down");
    const bytes = await readFile(a);
    let sum = 0;
    for (let i = 0; i < down.byteSize; i += 2)
      sum += float16BitsToFloat32(bytes.readUInt16LE(file.dataOffset + down.offset + i)) ** 2;
    expect(Math.sqrt(sum / (down.byteSize / 2)) * Math.sqrt(2816)).toBeCloseTo(1, 1);
    await rm(a);
    await rm(b);
  });
});

describe("writeSyntheticAdapter", () => {
  it("writes the §10 test adapter: 28 LoRA tensors for the tiny base", async () => {
    const path = join(dir, "adapter.gguf");
    const info = await writeSyntheticAdapter(path, { base: tinyPath });
    expect(info).toMatchObject({ tensorCount: 28, architecture: "llama" });
    expect(info.bytes).toBe(36_896);
    const file = await readGguf(path);
    expect(getGgufValue(file, "general.type", GgufValueType.String)).toBe("adapter");
    expect(getGgufValue(file, "general.architecture", GgufValueType.String)).toBe("llama");
    expect(getGgufValue(file, "adapter.type", GgufValueType.String)).toBe("lora");
    expect(getGgufValue(file, "adapter.lora.alpha", GgufValueType.Float32)).toBe(8);
    const dims = Object.fromEntries(file.tensors.map((t) => [t.name, t.dims]));
    expect(dims["blk.0.attn_q.weight.lora_a"]).toEqual([64, 4]);
    expect(dims["blk.0.attn_q.weight.lora_b"]).toEqual([4, 64]);
    expect(dims["blk.1.ffn_down.weight.lora_a"]).toEqual([128, 4]);
    expect(dims["blk.1.ffn_down.weight.lora_b"]).toEqual([4, 64]);
    expect(dims["blk.1.ffn_up.weight.lora_b"]).toEqual([4, 128]);
    expect(file.tensors.every((t) => t.type === GgmlType.F32)).toBe(true);
    // From a shape instead of a file: the same tensors, and the same bytes.
    await writeSyntheticAdapter(join(dir, "adapter-shape.gguf"), { base: {} });
    expect(await sha256(join(dir, "adapter-shape.gguf"))).toBe(await sha256(path));
  });

  it("honours rank, targets, firstBlock and the broken-fixture options", async () => {
    const path = join(dir, "adapter2.gguf");
    await writeSyntheticAdapter(path, {
      base: tinyPath,
      rank: 2,
      alpha: 4,
      targets: ["attn_v", "ffn_gate"],
      firstBlock: 1,
      architecture: "qwen2",
      omitGeneralType: true,
      shapeMismatch: true,
    });
    const file = await readGguf(path);
    expect(file.tensors.map((t) => [t.name, t.dims])).toEqual([
      ["blk.1.attn_v.weight.lora_a", [64, 2]],
      ["blk.1.attn_v.weight.lora_b", [2, 65]],
      ["blk.1.ffn_gate.weight.lora_a", [64, 2]],
      ["blk.1.ffn_gate.weight.lora_b", [2, 129]],
    ]);
    expect(getGgufValue(file, "general.type", GgufValueType.String)).toBeUndefined();
    expect(getGgufValue(file, "general.architecture", GgufValueType.String)).toBe("qwen2");
    expect(getGgufValue(file, "adapter.lora.alpha", GgufValueType.Float32)).toBe(4);
  });
});
