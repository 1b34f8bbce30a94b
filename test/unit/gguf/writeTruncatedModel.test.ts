import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgmlType, GgufValueType, ggufValue } from "../../../src/core/gguf/ggufTypes.js";
import { getGgufValue, readGguf, type GgufFile } from "../../../src/core/gguf/readGguf.js";
import { writeSyntheticModel } from "../../../src/core/gguf/syntheticModel.js";
import { writeGguf, type GgufKvInput, type GgufTensorInput } from "../../../src/core/gguf/writeGguf.js";
import { writeTruncatedModel } from "../../../src/core/gguf/writeTruncatedModel.js";
import { SeededRandom } from "../../../src/core/util/SeededRandom.js";

let dir: string;
let tinyPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-gguf-trunc-"));
  tinyPath = join(dir, "tiny.gguf");
  await writeSyntheticModel(tinyPath);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every tensor's data bytes by name. */
async function tensorBytes(file: GgufFile): Promise<Map<string, Buffer>> {
  const bytes = await readFile(file.path);
  return new Map(
    file.tensors.map((t) => [
      t.name,
      bytes.subarray(file.dataOffset + t.offset, file.dataOffset + t.offset + t.byteSize),
    ]),
  );
}

const plainKvs = (file: GgufFile) => file.kvs.map(({ key, value }) => ({ key, value }));

describe("writeTruncatedModel", () => {
  it("keeps the non-block tensors and blk.0 only, with block_count 1", async () => {
    const out = join(dir, "tiny-1.gguf");
    const info = await writeTruncatedModel(tinyPath, out, 1);
    expect(info).toMatchObject({ sourceBlocks: 2, keptBlocks: 1, tensorCount: 12, featureHead: false });
    const src = await readGguf(tinyPath);
    const cut = await readGguf(out);
    expect(cut.tensors.map((t) => t.name)).toEqual([
      "token_embd.weight",
      "output_norm.weight",
      "output.weight",
      ...["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"].map(
        (n) => `blk.0.${n}.weight`,
      ),
    ]);
    expect(getGgufValue(cut, "llama.block_count", GgufValueType.Uint32)).toBe(1);
    // Everything else is unchanged, in the same order.
    expect(plainKvs(cut).filter((kv) => kv.key !== "llama.block_count")).toEqual(
      plainKvs(src).filter((kv) => kv.key !== "llama.block_count"),
    );
    const before = await tensorBytes(src);
    for (const [name, bytes] of await tensorBytes(cut))
      expect(bytes.equals(before.get(name) ?? Buffer.alloc(0)), name).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("reproduces the source byte for byte when keeping every block", async () => {
    const out = join(dir, "tiny-2.gguf");
    await writeTruncatedModel(tinyPath, out, 2);
    expect((await readFile(out)).equals(await readFile(tinyPath))).toBe(true);
  });

  it("copies real-model features verbatim: quantized tensors, raw KVs, per-layer arrays, u64 counts", async () => {
    const src = join(dir, "real.gguf");
    const rng = new SeededRandom(7);
    const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rng.int(256));
    // A string KV whose bytes are not valid UTF-8: a decode/re-encode would change it, a raw copy must not.
    const badUtf8 = Buffer.concat([
      Buffer.from([8, 0, 0, 0]),
      Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([0x61, 0xff, 0xfe]),
    ]);
    const kvs: GgufKvInput[] = [
      { key: "general.architecture", value: ggufValue.string("qwen3") },
      { key: "general.alignment", value: ggufValue.u32(64) },
      { key: "qwen3.block_count", value: ggufValue.u64(3n) },
      { key: "qwen3.attention.head_count", value: ggufValue.i32Array([8, 8, 4]) },
      { key: "qwen3.rope.dimension_sections", value: ggufValue.stringArray(["a", "b", "c"]) },
      { key: "general.tags", value: ggufValue.i32Array([1, 2, 3]) },
      { key: "weird.name", rawValue: badUtf8 },
    ];
    const tensors: GgufTensorInput[] = [
      { name: "token_embd.weight", dims: [256, 4], type: GgmlType.Q4_K, data: random(144 * 4) },
      { name: "rope_freqs.weight", dims: [32], type: GgmlType.F32, data: random(128) },
    ];
    for (let b = 0; b < 3; b++) {
      tensors.push(
        { name: `blk.${b}.attn_q.weight`, dims: [256, 2], type: GgmlType.Q8_0, data: random(34 * 16) },
        { name: `blk.${b}.ffn_down.weight`, dims: [256, 1], type: GgmlType.IQ4_XS, data: random(136) },
      );
    }
    tensors.push({ name: "output.weight", dims: [256, 4], type: GgmlType.Q6_K, data: random(210 * 4) });
    await writeGguf(src, { kvs, tensors });

    const out = join(dir, "real-2.gguf");
    await writeTruncatedModel(src, out, 2);
    const before = await readGguf(src);
    const cut = await readGguf(out);
    expect(cut.alignment).toBe(64);
    expect(cut.tensors.map((t) => t.name)).toEqual([
      "token_embd.weight",
      "rope_freqs.weight",
      "blk.0.attn_q.weight",
      "blk.0.ffn_down.weight",
      "blk.1.attn_q.weight",
      "blk.1.ffn_down.weight",
      "output.weight",
    ]);
    const srcBytes = await tensorBytes(before);
    for (const [name, bytes] of await tensorBytes(cut))
      expect(bytes.equals(srcBytes.get(name) ?? Buffer.alloc(0)), name).toBe(true);
    expect(getGgufValue(cut, "qwen3.block_count", GgufValueType.Uint64)).toBe(2n);
    // Per-layer numeric arrays are cut; strings and keys outside the architecture are not.
    expect(getGgufValue(cut, "qwen3.attention.head_count", GgufValueType.Array)).toEqual({
      itemType: GgufValueType.Int32,
      items: Int32Array.of(8, 8),
    });
    expect(getGgufValue(cut, "qwen3.rope.dimension_sections", GgufValueType.Array)?.items).toHaveLength(3);
    expect(getGgufValue(cut, "general.tags", GgufValueType.Array)?.items).toHaveLength(3);
    const weird = cut.kvs.find((kv) => kv.key === "weird.name");
    const outBytes = await readFile(out);
    expect(outBytes.subarray(weird?.valueOffset, (weird?.valueOffset ?? 0) + badUtf8.length).equals(badUtf8)).toBe(
      true,
    );
  });

  it("with featureHead, replaces or adds output.weight by the Q4_0 head where the shape fits, else keeps it", async () => {
    const src = await readGguf(tinyPath);
    const before = await tensorBytes(src);
    const headed = join(dir, "tiny-1h.gguf");
    expect(await writeTruncatedModel(tinyPath, headed, 1, { featureHead: true })).toMatchObject({
      featureHead: true,
      tensorCount: 12,
    });
    const cut = await readGguf(headed);
    const head = cut.tensors.at(-1)!;
    expect(head).toMatchObject({ name: "output.weight", type: GgmlType.Q4_0, dims: [64, 260] });
    expect(cut.tensors.filter((t) => t.name === "output.weight")).toHaveLength(1);
    for (const [name, bytes] of await tensorBytes(cut)) {
      if (name !== "output.weight") expect(bytes.equals(before.get(name)!), name).toBe(true);
    }

    // A tied model (no output.weight of its own) gets the head added.
    const tied = join(dir, "tied.gguf");
    await writeGguf(tied, {
      kvs: src.kvs.map(({ key, value }) => ({ key, value })),
      tensors: src.tensors
        .filter((t) => t.name !== "output.weight")
        .map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: before.get(t.name)! })),
    });
    await writeTruncatedModel(tied, join(dir, "tied-1h.gguf"), 1, { featureHead: true });
    expect((await readGguf(join(dir, "tied-1h.gguf"))).tensors.filter((t) => t.name === "output.weight")).toEqual([
      expect.objectContaining({ type: GgmlType.Q4_0, dims: [64, 260] }),
    ]);

    // An output bias is zeroed, so the head's zero logits stay zero.
    const biased = join(dir, "biased.gguf");
    await writeGguf(biased, {
      kvs: src.kvs.map(({ key, value }) => ({ key, value })),
      tensors: [
        ...src.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: before.get(t.name)! })),
        { name: "output.bias", dims: [260], type: GgmlType.F32, data: new Float32Array(260).fill(0.5) },
      ],
    });
    await writeTruncatedModel(biased, join(dir, "biased-1h.gguf"), 1, { featureHead: true });
    const biasedCut = await readGguf(join(dir, "biased-1h.gguf"));
    const bias = (await tensorBytes(biasedCut)).get("output.bias")!;
    expect(bias.length).toBe(260 * 4);
    expect(bias.every((b) => b === 0)).toBe(true);

    // Width 48 cannot carry Q4_0 rows: the output layer stays as it is.
    const narrow = join(dir, "narrow.gguf");
    await writeSyntheticModel(narrow, { embeddingLength: 48 });
    const kept = await writeTruncatedModel(narrow, join(dir, "narrow-1.gguf"), 1, { featureHead: true });
    expect(kept.featureHead).toBe(false);
    const narrowOut = (await readGguf(join(dir, "narrow-1.gguf"))).tensors.find((t) => t.name === "output.weight");
    expect(narrowOut?.type).toBe(GgmlType.F32);
  });

  it("rejects block counts out of range and files without one", async () => {
    for (const k of [0, 3, 1.5]) {
      await expect(writeTruncatedModel(tinyPath, join(dir, "x.gguf"), k)).rejects.toMatchObject({
        code: "gguf/invalid",
        message: expect.stringContaining(`Cannot keep ${k} blocks`),
      });
    }
    const adapterLike = join(dir, "noblocks.gguf");
    await writeGguf(adapterLike, {
      kvs: [{ key: "general.architecture", value: ggufValue.string("llama") }],
      tensors: [],
    });
    await expect(writeTruncatedModel(adapterLike, join(dir, "x.gguf"), 1)).rejects.toMatchObject({
      code: "gguf/invalid",
      message: expect.stringContaining(`no KV "llama.block_count"`),
    });
    await expect(writeTruncatedModel(join(dir, "missing.gguf"), join(dir, "x.gguf"), 1)).rejects.toMatchObject({
      code: "gguf/notFound",
    });
  });
});
