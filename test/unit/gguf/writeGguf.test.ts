import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../../src/core/errors.js";
import { float16BitsToFloat32 } from "../../../src/core/gguf/float16.js";
import { GgmlType, GgufValueType, ggufValue, type GgufKv } from "../../../src/core/gguf/ggufTypes.js";
import { getGgufValue, readGguf, requireGgufValue } from "../../../src/core/gguf/readGguf.js";
import { writeGguf, type GgufTensorInput } from "../../../src/core/gguf/writeGguf.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-gguf-write-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One KV of every value type, extremes included, plus empty, nested and typed arrays. */
const ALL_KVS: GgufKv[] = [
  { key: "t.u8", value: ggufValue.u8(255) },
  { key: "t.i8", value: ggufValue.i8(-128) },
  { key: "t.u16", value: ggufValue.u16(65535) },
  { key: "t.i16", value: ggufValue.i16(-32768) },
  { key: "t.u32", value: ggufValue.u32(0xffff_ffff) },
  { key: "t.i32", value: ggufValue.i32(-0x8000_0000) },
  { key: "t.f32", value: ggufValue.f32(Math.fround(3.14159)) },
  { key: "t.bool.true", value: ggufValue.bool(true) },
  { key: "t.bool.false", value: ggufValue.bool(false) },
  { key: "t.string", value: ggufValue.string('héllo, 世界 🌍\n"quoted"') },
  { key: "t.string.empty", value: ggufValue.string("") },
  { key: "t.u64", value: ggufValue.u64(0xffff_ffff_ffff_ffffn) },
  { key: "t.i64", value: ggufValue.i64(-0x8000_0000_0000_0000n) },
  { key: "t.f64", value: ggufValue.f64(-1.5e300) },
  { key: "t.arr.u8", value: ggufValue.array({ itemType: GgufValueType.Uint8, items: Uint8Array.of(0, 1, 255) }) },
  { key: "t.arr.i8", value: ggufValue.array({ itemType: GgufValueType.Int8, items: Int8Array.of(-128, 127) }) },
  { key: "t.arr.u16", value: ggufValue.array({ itemType: GgufValueType.Uint16, items: Uint16Array.of(1, 65535) }) },
  { key: "t.arr.i16", value: ggufValue.array({ itemType: GgufValueType.Int16, items: Int16Array.of(-32768, 5) }) },
  { key: "t.arr.u32", value: ggufValue.array({ itemType: GgufValueType.Uint32, items: Uint32Array.of(0xffff_ffff) }) },
  { key: "t.arr.i32", value: ggufValue.i32Array([-1, 0, 1]) },
  { key: "t.arr.f32", value: ggufValue.f32Array([0.1, -0, Infinity, 1e-40]) },
  { key: "t.arr.bool", value: ggufValue.array({ itemType: GgufValueType.Bool, items: [true, false, true] }) },
  { key: "t.arr.string", value: ggufValue.stringArray(["a", "", "Ġthe", "<|im_end|>"]) },
  { key: "t.arr.empty", value: ggufValue.stringArray([]) },
  {
    key: "t.arr.u64",
    value: ggufValue.array({ itemType: GgufValueType.Uint64, items: BigUint64Array.of(2n ** 64n - 1n, 0n) }),
  },
  {
    key: "t.arr.i64",
    value: ggufValue.array({ itemType: GgufValueType.Int64, items: BigInt64Array.of(-(2n ** 63n), 7n) }),
  },
  {
    key: "t.arr.f64",
    value: ggufValue.array({ itemType: GgufValueType.Float64, items: Float64Array.of(Math.PI, -0) }),
  },
  {
    key: "t.arr.nested",
    value: ggufValue.array({
      itemType: GgufValueType.Array,
      items: [
        { itemType: GgufValueType.String, items: ["x", "y"] },
        { itemType: GgufValueType.Array, items: [{ itemType: GgufValueType.Int64, items: BigInt64Array.of(-1n) }] },
        { itemType: GgufValueType.Bool, items: [] },
      ],
    }),
  },
];

function f32Tensor(name: string, values: number[], dims = [values.length]): GgufTensorInput {
  return { name, dims, type: GgmlType.F32, data: Float32Array.from(values) };
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

describe("writeGguf / readGguf round trip", () => {
  it("reads back every KV type exactly, in order", async () => {
    const path = join(dir, "kvs.gguf");
    await writeGguf(path, { kvs: ALL_KVS, tensors: [f32Tensor("t", [1, 2, 3])] });
    const file = await readGguf(path);
    expect(file.version).toBe(3);
    expect(file.kvs.map(({ key, value }) => ({ key, value }))).toEqual(ALL_KVS);
    // The sign of zero must survive too (toEqual already compares with Object.is; this states it).
    const f32 = getGgufValue(file, "t.arr.f32", GgufValueType.Array);
    expect(f32?.itemType === GgufValueType.Float32 && Object.is(f32.items[1], -0)).toBe(true);
  });

  it("typed helpers check types and presence", async () => {
    const path = join(dir, "kvs2.gguf");
    await writeGguf(path, { kvs: ALL_KVS, tensors: [] });
    const file = await readGguf(path);
    expect(getGgufValue(file, "t.u64", GgufValueType.Uint64)).toBe(2n ** 64n - 1n);
    expect(getGgufValue(file, "t.u32", [GgufValueType.Int32, GgufValueType.Uint32])).toBe(0xffff_ffff);
    expect(getGgufValue(file, "missing", GgufValueType.String)).toBeUndefined();
    expect(() => getGgufValue(file, "t.u32", GgufValueType.String)).toThrow(/"t\.u32" of type u32, expected string/);
    expect(() => requireGgufValue(file, "missing", GgufValueType.String)).toThrow(/no KV "missing"/);
  });

  it("writes tensors of every data source and aligns each one", async () => {
    const path = join(dir, "tensors.gguf");
    const q8 = new Uint8Array(34 * 2).map((_, i) => i); // two Q8_0 blocks
    const tensors: GgufTensorInput[] = [
      f32Tensor("a", [1, 2, 3]),
      { name: "b", dims: [3], type: GgmlType.F16, data: Float32Array.of(1, -2, 0.5) },
      { name: "c", dims: [64], type: GgmlType.Q8_0, data: q8 },
      { name: "d", dims: [64], type: GgmlType.Q8_0, data: [q8.subarray(0, 10), q8.subarray(10)] },
      {
        name: "e",
        dims: [32, 2],
        type: GgmlType.Q8_0,
        data: async function* () {
          yield q8.subarray(0, 50);
          yield q8.subarray(50);
        },
      },
      { name: "f", dims: [2, 1, 1, 1], type: GgmlType.F32, data: () => Promise.resolve(Float32Array.of(7, 8)) },
    ];
    await writeGguf(path, { kvs: [{ key: "general.alignment", value: ggufValue.u32(64) }], tensors });
    const file = await readGguf(path);
    const bytes = await readFile(path);
    expect(file.alignment).toBe(64);
    expect(file.dataOffset % 64).toBe(0);
    expect(file.tensors.map((t) => [t.name, t.offset % 64, t.byteSize])).toEqual([
      ["a", 0, 12],
      ["b", 0, 6],
      ["c", 0, 68],
      ["d", 0, 68],
      ["e", 0, 68],
      ["f", 0, 8],
    ]);
    expect(file.tensors.map((t) => t.dims)).toEqual([[3], [3], [64], [64], [32, 2], [2, 1, 1, 1]]);
    // Data is padded to the alignment, so the file ends on an aligned boundary.
    expect(bytes.length % 64).toBe(0);
    const at = (name: string): number => file.dataOffset + (file.tensors.find((t) => t.name === name)?.offset ?? -1);
    expect([0, 1, 2].map((i) => bytes.readFloatLE(at("a") + 4 * i))).toEqual([1, 2, 3]);
    expect([0, 1, 2].map((i) => float16BitsToFloat32(bytes.readUInt16LE(at("b") + 2 * i)))).toEqual([1, -2, 0.5]);
    for (const name of ["c", "d", "e"]) expect(bytes.subarray(at(name), at(name) + 68)).toEqual(Buffer.from(q8));
    expect(bytes.readFloatLE(at("f") + 4)).toBe(8);
  });

  it("uses alignment 32 by default and writes the exact header layout", async () => {
    const path = join(dir, "layout.gguf");
    await writeGguf(path, { kvs: [{ key: "k", value: ggufValue.u8(7) }], tensors: [f32Tensor("w", [1])] });
    const bytes = await readFile(path);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("GGUF");
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(bytes.readBigUInt64LE(8)).toBe(1n); // tensors
    expect(bytes.readBigUInt64LE(16)).toBe(1n); // KVs
    expect(bytes.readBigUInt64LE(24)).toBe(1n); // key length
    expect(bytes.subarray(32, 33).toString()).toBe("k");
    expect(bytes.readUInt32LE(33)).toBe(GgufValueType.Uint8);
    expect(bytes[37]).toBe(7);
    // tensor info: name, n_dims, ne[0], type, offset = 8 + 1 + 4 + 8 + 4 + 8 bytes from 38
    expect(bytes.readUInt32LE(38 + 9)).toBe(1);
    expect(bytes.readBigUInt64LE(38 + 13)).toBe(1n);
    // 38 + 33 header bytes padded to 96, then one 4-byte tensor padded to 32.
    expect(bytes.length).toBe(96 + 32);
    expect(bytes.readFloatLE(96)).toBe(1);
  });

  it("is deterministic", async () => {
    const content = { kvs: ALL_KVS, tensors: [f32Tensor("w", [1, 2, 3, 4])] };
    await writeGguf(join(dir, "d1.gguf"), content);
    await writeGguf(join(dir, "d2.gguf"), content);
    expect(await sha256(join(dir, "d1.gguf"))).toBe(await sha256(join(dir, "d2.gguf")));
  });
});

describe("writeGguf failures", () => {
  async function expectWriteFailed(path: string, promise: Promise<unknown>, message: RegExp): Promise<void> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("gguf/writeFailed");
    expect((err as AppError).message).toContain(path);
    expect((err as AppError).message).toMatch(message);
  }

  async function leftovers(prefix: string): Promise<string[]> {
    return (await readdir(dir)).filter((f) => f.startsWith(prefix));
  }

  it("fails with gguf/writeFailed in a directory that cannot be written", async () => {
    const blocker = join(dir, "not-a-dir");
    await writeFile(blocker, "x");
    const path = join(blocker, "m.gguf");
    await expectWriteFailed(path, writeGguf(path, { kvs: [], tensors: [] }), /ENOTDIR/);
    await expectWriteFailed(
      join(dir, "missing", "m.gguf"),
      writeGguf(join(dir, "missing", "m.gguf"), { kvs: [], tensors: [] }),
      /ENOENT/,
    );
  });

  it("removes the temp file and keeps the old file when a tensor fails mid-write", async () => {
    const path = join(dir, "keep.gguf");
    await writeFile(path, "old content");
    const tensors: GgufTensorInput[] = [
      f32Tensor("ok", [1, 2]),
      {
        name: "bad",
        dims: [64],
        type: GgmlType.Q8_0,
        data: async function* () {
          yield new Uint8Array(10);
          throw new Error("source disk vanished");
        },
      },
    ];
    await expectWriteFailed(path, writeGguf(path, { kvs: [], tensors }), /source disk vanished/);
    expect(await readFile(path, "utf8")).toBe("old content");
    expect(await leftovers("keep.gguf.tmp")).toEqual([]);
  });

  it("checks data sizes, types and values", async () => {
    const path = join(dir, "bad.gguf");
    const cases: [GgufTensorInput[], GgufKv[], RegExp][] = [
      [[f32Tensor("w", [1, 2], [3])], [], /tensor "w": 2 values, but its dims \[3\] need 3/],
      [[{ name: "q", dims: [32], type: GgmlType.Q4_0, data: new Float32Array(32) }], [], /F32 or F16, not Q4_0/],
      [[{ name: "q", dims: [32], type: GgmlType.Q4_0, data: new Uint8Array(17) }], [], /17 bytes given, 18 expected/],
      [[{ name: "q", dims: [32], type: GgmlType.Q4_0, data: [new Uint8Array(19)] }], [], /more than the expected 18/],
      [
        [{ name: "q", dims: [33], type: GgmlType.Q4_0, data: new Uint8Array(18) }],
        [],
        /not a multiple of its block size 32/,
      ],
      [[{ name: "q", dims: [1], type: 4 as GgmlType, data: new Uint8Array(1) }], [], /unknown or removed ggml type 4/],
      [[{ name: "q", dims: [1, 1, 1, 1, 1], type: GgmlType.F32, data: new Float32Array(1) }], [], /5 dims/],
      [[f32Tensor("w", [1]), f32Tensor("w", [1])], [], /duplicate tensor "w"/],
      [[], [{ key: "k", value: ggufValue.u8(256) }], /KV "k": 256 is not a valid u8/],
      [[], [{ key: "k", value: ggufValue.i32(1.5) }], /1.5 is not a valid i32/],
      [
        [],
        [
          { key: "k", value: ggufValue.u8(1) },
          { key: "k", value: ggufValue.u8(1) },
        ],
        /duplicate KV "k"/,
      ],
      [[], [{ key: "general.alignment", value: ggufValue.u32(48) }], /alignment 48 is not a power of two/],
      [[], [{ key: "general.alignment", value: ggufValue.u64(32n) }], /typed u32/],
    ];
    for (const [tensors, kvs, message] of cases)
      await expectWriteFailed(path, writeGguf(path, { kvs, tensors }), message);
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
    expect(await leftovers("bad.gguf")).toEqual([]);
  });

  it("rethrows an abort as the signal's reason and cleans up", async () => {
    const path = join(dir, "aborted.gguf");
    const controller = new AbortController();
    const tensors: GgufTensorInput[] = [
      {
        name: "w",
        dims: [4],
        type: GgmlType.F32,
        data: () => {
          controller.abort();
          return [new Uint8Array(8), new Uint8Array(8)];
        },
      },
    ];
    await expect(writeGguf(path, { kvs: [], tensors }, { signal: controller.signal })).rejects.toMatchObject({
      name: "AbortError",
    });
    expect(await leftovers("aborted.gguf")).toEqual([]);
  });
});
