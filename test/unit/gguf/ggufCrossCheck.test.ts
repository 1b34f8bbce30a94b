/**
 * Cross-checks our reader and writer against two independent GGUF parsers: node-llama-cpp's `readGgufFileInfo`
 * (pure JS, no native code is loaded) and `@huggingface/gguf`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GgmlType,
  GgufValueType,
  ggufValue,
  type GgufArray,
  type GgufValue,
} from "../../../src/core/gguf/ggufTypes.js";
import { readGguf } from "../../../src/core/gguf/readGguf.js";
import { writeSyntheticAdapter, writeSyntheticModel } from "../../../src/core/gguf/syntheticModel.js";
import { writeGguf } from "../../../src/core/gguf/writeGguf.js";
import { writeTruncatedModel } from "../../../src/core/gguf/writeTruncatedModel.js";

let dir: string;
const files: Record<string, string> = {};
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-gguf-xcheck-"));
  const p = (name: string): string => (files[name] = join(dir, `${name}.gguf`));
  await writeSyntheticModel(p("tiny"));
  await writeSyntheticModel(p("tiny16"), { weightType: "f16" });
  await writeSyntheticModel(p("spm"), { vocab: "spm-bytes" });
  await writeSyntheticAdapter(p("adapter"), { base: files.tiny });
  await writeTruncatedModel(files.tiny ?? "", p("tiny1"), 1);
  await writeGguf(p("kvs"), {
    kvs: [
      { key: "a.u8", value: ggufValue.u8(200) },
      { key: "a.i8", value: ggufValue.i8(-3) },
      { key: "a.u16", value: ggufValue.u16(60000) },
      { key: "a.i16", value: ggufValue.i16(-30000) },
      { key: "a.u32", value: ggufValue.u32(4_000_000_000) },
      { key: "a.i32", value: ggufValue.i32(-2_000_000_000) },
      { key: "a.f32", value: ggufValue.f32(Math.fround(0.1)) },
      { key: "a.bool", value: ggufValue.bool(true) },
      { key: "a.string", value: ggufValue.string("ünïcødé ✓") },
      { key: "a.u64", value: ggufValue.u64(2n ** 63n + 5n) },
      { key: "a.i64", value: ggufValue.i64(-(2n ** 62n)) },
      { key: "a.f64", value: ggufValue.f64(1 / 3) },
      { key: "a.arr.f32", value: ggufValue.f32Array([1.5, -2]) },
      {
        key: "a.arr.u64",
        value: ggufValue.array({ itemType: GgufValueType.Uint64, items: BigUint64Array.of(1n, 2n ** 64n - 1n) }),
      },
      { key: "a.arr.str", value: ggufValue.stringArray(["x", "yé"]) },
    ],
    tensors: [{ name: "t", dims: [32, 2], type: GgmlType.Q8_0, data: new Uint8Array(68) }],
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Our value as a plain JS value the way the other parsers present it (arrays as arrays). */
function plain(value: GgufValue): unknown {
  return value.type === GgufValueType.Array ? plainArray(value.value) : value.value;
}
function plainArray(array: GgufArray): unknown[] {
  if (array.itemType === GgufValueType.Array) return array.items.map(plainArray);
  return Array.from(array.items as ArrayLike<unknown>);
}

describe("GGUF cross-check", () => {
  it("node-llama-cpp's readGgufFileInfo sees the same tensors, offsets and KVs", async () => {
    const { readGgufFileInfo } = await import("node-llama-cpp");
    expect(Object.keys(files)).toHaveLength(6);
    for (const [name, path] of Object.entries(files)) {
      const ours = await readGguf(path);
      const theirs = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
      expect(theirs.version, name).toBe(ours.version);
      expect(Number(theirs.tensorCount), name).toBe(ours.tensors.length);
      expect(
        (theirs.fullTensorInfo ?? []).map((t) => ({
          name: t.name,
          dims: t.dimensions.map(Number),
          type: t.ggmlType,
          offset: Number(t.offset),
          fileOffset: Number(t.fileOffset),
        })),
        name,
      ).toEqual(
        ours.tensors.map((t) => ({
          name: t.name,
          dims: t.dims,
          type: t.type,
          offset: t.offset,
          fileOffset: ours.dataOffset + t.offset,
        })),
      );
      // Their metadata is a nested object keyed by the dotted path.
      for (const kv of ours.kvs) {
        let node: unknown = theirs.metadata;
        for (const part of kv.key.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
        expect(node, `${name}: ${kv.key}`).toEqual(plain(kv.value));
      }
    }
  });

  it("@huggingface/gguf reads the same typed metadata and tensor infos", async () => {
    const { gguf } = await import("@huggingface/gguf");
    expect(Object.keys(files)).toHaveLength(6);
    for (const [name, path] of Object.entries(files)) {
      const ours = await readGguf(path);
      const theirs = await gguf(path, { allowLocalFile: true, typedMetadata: true });
      expect(Number(theirs.tensorDataOffset), name).toBe(ours.dataOffset);
      expect(
        theirs.tensorInfos.map((t) => ({
          name: t.name,
          dims: t.shape.map(Number),
          type: t.dtype,
          offset: Number(t.offset),
        })),
        name,
      ).toEqual(ours.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, offset: t.offset })));
      for (const kv of ours.kvs) {
        const entry = theirs.typedMetadata[kv.key];
        const expected: Record<string, unknown> = { type: kv.value.type, value: plain(kv.value) };
        if (kv.value.type === GgufValueType.Array) expected.subType = kv.value.value.itemType;
        expect(entry, `${name}: ${kv.key}`).toEqual(expected);
      }
    }
  });
});
