import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSafetensors } from "../../../src/core/peft/readSafetensors.js";
import { encodeSafetensorsHeader, writeSafetensors } from "../../../src/core/peft/writeSafetensors.js";
import type { SafetensorsTensor } from "../../../src/core/peft/safetensorsDtypes.js";
import { scratchDirs } from "../../../testkit/scratchDirs.js";

const scratch = scratchDirs("prism-safetensors-");

const f32 = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

/** A file as another writer would make it: the given header object, unpadded, then `data`. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Buffer {
  const json = Buffer.from(headerText ?? JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

async function codeOf(bytes: Uint8Array | string): Promise<string | undefined> {
  const dir = await scratch();
  const path = join(dir, "x.safetensors");
  await writeFile(path, bytes);
  try {
    await readSafetensors(path);
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe("writeSafetensors / readSafetensors", () => {
  it("round-trips tensors, dtypes, shapes and metadata bit for bit, with an 8-byte-aligned data section", async () => {
    const dir = await scratch();
    const path = join(dir, "a.safetensors");
    const tensors: SafetensorsTensor[] = [
      { name: "a", dtype: "F32", shape: [2, 3], data: f32([1, -2, 3.5, NaN, Infinity, -0]) },
      { name: "b.half", dtype: "F16", shape: [3], data: new Uint8Array([0, 60, 0, 192, 255, 127]) },
      { name: "empty", dtype: "BF16", shape: [0, 4], data: new Uint8Array(0) },
      { name: "scalar", dtype: "I64", shape: [], data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
    ];
    await writeSafetensors(path, { metadata: { format: "pt" }, tensors });
    const bytes = await readFile(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    expect(JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"))).toEqual({
      a: { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] },
      "b.half": { dtype: "F16", shape: [3], data_offsets: [24, 30] },
      empty: { dtype: "BF16", shape: [0, 4], data_offsets: [30, 30] },
      scalar: { dtype: "I64", shape: [], data_offsets: [30, 38] },
      __metadata__: { format: "pt" },
    });
    expect(bytes.length).toBe(8 + n + 38);
    const back = await readSafetensors(path);
    expect(back.metadata).toEqual({ format: "pt" });
    expect(back.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(tensors.map((t) => [t.name, t.dtype, t.shape]));
    for (const [i, t] of back.tensors.entries())
      expect(Buffer.from(t.data).equals(Buffer.from(tensors[i]!.data))).toBe(true);
    expect(await readdir(dir)).toEqual(["a.safetensors"]);
  });

  it("reads a file written by another writer: unpadded header, keys out of data order, no metadata", async () => {
    const data = Buffer.concat([f32([7, 8]), f32([1, 2, 3])]);
    const header = {
      first: { dtype: "F32", shape: [3], data_offsets: [8, 20] },
      second: { dtype: "F32", shape: [1, 2], data_offsets: [0, 8] },
    };
    const dir = await scratch();
    await writeFile(join(dir, "x.safetensors"), rawFile(header, data));
    const back = await readSafetensors(join(dir, "x.safetensors"));
    expect(back.metadata).toEqual({});
    expect(back.tensors.map((t) => t.name)).toEqual(["second", "first"]);
    expect(Array.from(new Float32Array(back.tensors[1]!.data.slice().buffer))).toEqual([1, 2, 3]);
  });

  it("refuses to write a tensor whose bytes disagree with its shape, or a repeated name, and leaves nothing", async () => {
    const dir = await scratch();
    const path = join(dir, "bad.safetensors");
    const short = { name: "a", dtype: "F32" as const, shape: [2], data: new Uint8Array(4) };
    await expect(writeSafetensors(path, { metadata: {}, tensors: [short] })).rejects.toMatchObject({
      code: "peft/invalid",
    });
    const ok = { ...short, data: new Uint8Array(8) };
    await expect(writeSafetensors(path, { metadata: {}, tensors: [ok, ok] })).rejects.toMatchObject({
      code: "peft/invalid",
    });
    expect(() => encodeSafetensorsHeader({ metadata: {}, tensors: [{ ...ok, name: "__metadata__" }] })).toThrow(
      /reserved/,
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it("names a missing path peft/notFound and a directory peft/notSafetensors", async () => {
    const dir = await scratch();
    await expect(readSafetensors(join(dir, "none.safetensors"))).rejects.toMatchObject({ code: "peft/notFound" });
    await mkdir(join(dir, "d"));
    await expect(readSafetensors(join(dir, "d"))).rejects.toMatchObject({ code: "peft/notSafetensors" });
  });

  it("refuses a header over the size limit before reading it", async () => {
    const dir = await scratch();
    const path = join(dir, "x.safetensors");
    await writeFile(path, rawFile({ a: { dtype: "U8", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)));
    await expect(readSafetensors(path, { maxHeaderBytes: 16 })).rejects.toMatchObject({ code: "peft/invalid" });
    await expect(readSafetensors(path)).resolves.toBeDefined();
  });

  const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const huge = Buffer.alloc(8);
  huge.writeBigUInt64LE(2n ** 63n);
  const cases: Array<[string, () => Uint8Array | string, string]> = [
    ["an empty file", () => new Uint8Array(0), "peft/notSafetensors"],
    ["fewer than 8 bytes", () => new Uint8Array([1, 0, 0]), "peft/notSafetensors"],
    ["a 2^63-byte header length", () => Buffer.concat([huge, Buffer.from("{}")]), "peft/invalid"],
    ["a header longer than the file", () => rawFile({}).subarray(0, 9), "peft/truncated"],
    ["a header that is not JSON", () => rawFile(null, undefined, "{nope"), "peft/notSafetensors"],
    ["a header that is a JSON array", () => rawFile(null, undefined, "[1]"), "peft/notSafetensors"],
    ["a header with leading whitespace", () => rawFile(null, undefined, " {}"), "peft/notSafetensors"],
    [
      "a header that is not UTF-8",
      () => Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0x7d])]),
      "peft/notSafetensors",
    ],
    ["an unknown dtype", () => rawFile({ a: { ...ok, dtype: "Q4_0" } }, new Uint8Array(8)), "peft/unsupportedDtype"],
    ["a missing dtype", () => rawFile({ a: { shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), "peft/invalid"],
    ["a negative dimension", () => rawFile({ a: { ...ok, shape: [-2] } }, new Uint8Array(8)), "peft/invalid"],
    ["a fractional dimension", () => rawFile({ a: { ...ok, shape: [1.5] } }, new Uint8Array(8)), "peft/invalid"],
    [
      "nine dimensions",
      () => rawFile({ a: { ...ok, shape: [1, 1, 1, 1, 1, 1, 1, 1, 2] } }, new Uint8Array(8)),
      "peft/invalid",
    ],
    [
      "offsets that end before they begin",
      () => rawFile({ a: { ...ok, data_offsets: [8, 0] } }, new Uint8Array(8)),
      "peft/invalid",
    ],
    ["one offset", () => rawFile({ a: { ...ok, data_offsets: [8] } }, new Uint8Array(8)), "peft/invalid"],
    [
      "a byte count unlike dtype × shape",
      () => rawFile({ a: { ...ok, shape: [3] } }, new Uint8Array(8)),
      "peft/invalid",
    ],
    [
      "a shape too large to address",
      () => rawFile({ a: { ...ok, shape: [2 ** 40, 2 ** 40] } }, new Uint8Array(8)),
      "peft/invalid",
    ],
    ["an unknown field", () => rawFile({ a: { ...ok, offset: 3 } }, new Uint8Array(8)), "peft/invalid"],
    ["an empty tensor name", () => rawFile({ "": ok }, new Uint8Array(8)), "peft/invalid"],
    [
      "overlapping tensors",
      () => rawFile({ a: ok, b: { ...ok, data_offsets: [4, 12] } }, new Uint8Array(12)),
      "peft/invalid",
    ],
    [
      "a gap before a tensor",
      () => rawFile({ a: { ...ok, data_offsets: [4, 12] } }, new Uint8Array(12)),
      "peft/invalid",
    ],
    ["bytes after the last tensor", () => rawFile({ a: ok }, new Uint8Array(12)), "peft/invalid"],
    ["a tensor past the end of the file", () => rawFile({ a: ok }, new Uint8Array(5)), "peft/truncated"],
    ["__metadata__ that is not an object", () => rawFile({ __metadata__: "pt" }), "peft/invalid"],
    ["__metadata__ with a number", () => rawFile({ __metadata__: { format: 1 } }), "peft/invalid"],
    ["an entry that is not an object", () => rawFile({ a: [1, 2] }), "peft/invalid"],
  ];
  it.each(cases)("gives a coded error for %s", async (_what, make, code) => {
    expect(await codeOf(make())).toBe(code);
  });
});
