import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, type ErrorCode } from "../../../src/core/errors.js";
import { readGguf, type GgufFile } from "../../../src/core/gguf/readGguf.js";
import { writeSyntheticModel } from "../../../src/core/gguf/syntheticModel.js";

let dir: string;
let modelPath: string;
let model: Buffer;
let info: GgufFile;
/** Absolute offset of the first tensor info (`token_embd.weight`, 17-character name, 2 dims). */
let firstTensorInfo: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-gguf-read-"));
  modelPath = join(dir, "tiny.gguf");
  await writeSyntheticModel(modelPath);
  model = await readFile(modelPath);
  info = await readGguf(modelPath);
  const last = info.kvs[info.kvs.length - 1];
  firstTensorInfo = (last?.valueOffset ?? 0) + (last?.valueByteLength ?? 0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function kv(key: string): { valueOffset: number; valueByteLength: number } {
  const entry = info.kvs.find((k) => k.key === key);
  if (!entry) throw new Error(`no ${key}`);
  return entry;
}

/** Writes a variant of the tiny model and returns the error reading it throws. */
async function readError(name: string, bytes: Uint8Array): Promise<AppError> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const err = await readGguf(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError for ${name}, got ${String(err)}`);
  expect(err.message).toContain(path);
  return err;
}

function patched(at: number, write: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(model);
  write(copy.subarray(at));
  return copy;
}

async function expectCode(name: string, bytes: Uint8Array, code: ErrorCode, message: RegExp): Promise<void> {
  const err = await readError(name, bytes);
  expect({ code: err.code, message: err.message }).toMatchObject({ code, message: expect.stringMatching(message) });
}

describe("readGguf", () => {
  it("reads the header, tensor infos and data layout", () => {
    expect(info).toMatchObject({ version: 3, fileSize: model.length, alignment: 32 });
    expect(info.dataOffset % 32).toBe(0);
    expect(info.dataOffset).toBeGreaterThan(firstTensorInfo);
    const last = info.tensors[info.tensors.length - 1];
    expect(info.dataOffset + (last?.offset ?? 0) + (last?.byteSize ?? 0)).toBe(model.length);
    expect(model.readBigUInt64LE(firstTensorInfo)).toBe(17n);
    expect(model.subarray(firstTensorInfo + 8, firstTensorInfo + 25).toString()).toBe("token_embd.weight");
  });

  it("reports a missing file as gguf/notFound", async () => {
    const path = join(dir, "nope.gguf");
    await expect(readGguf(path)).rejects.toMatchObject({
      code: "gguf/notFound",
      message: expect.stringContaining(path),
    });
  });

  it("reports files that are not GGUF as gguf/notGguf", async () => {
    await expectCode("text.gguf", Buffer.from("hello world, not a model"), "gguf/notGguf", /magic "GGUF"/);
    await expectCode("ggml.bin", Buffer.from("GGJT\x03\x00\x00\x00"), "gguf/notGguf", /magic/);
    await expect(readGguf(dir)).rejects.toMatchObject({ code: "gguf/notGguf" });
  });

  it("reports other versions as gguf/unsupportedVersion", async () => {
    await expectCode(
      "v1.gguf",
      patched(4, (b) => b.writeUInt32LE(1)),
      "gguf/unsupportedVersion",
      /version 1 \(GGUF v1 is obsolete\)/,
    );
    await expectCode(
      "v4.gguf",
      patched(4, (b) => b.writeUInt32LE(4)),
      "gguf/unsupportedVersion",
      /version 4;/,
    );
    await expectCode(
      "be.gguf",
      patched(4, (b) => b.writeUInt32BE(3)),
      "gguf/unsupportedVersion",
      /big-endian/,
    );
    const v2 = await readGguf(
      join(
        dir,
        await writeVariant(
          "v2.gguf",
          patched(4, (b) => b.writeUInt32LE(2)),
        ),
      ),
    );
    expect(v2.version).toBe(2);
  });

  it("reports a file cut anywhere as gguf/truncated, naming where", async () => {
    const tokens = kv("tokenizer.ggml.tokens");
    const template = kv("tokenizer.chat_template");
    const cuts: [string, number, RegExp][] = [
      ["empty", 0, /the magic at byte 0/],
      ["in the magic", 2, /the magic at byte 0/],
      ["in the version", 6, /the version at byte 4/],
      ["in the counts", 10, /the tensor and KV counts at byte 8/],
      ["in the vocabulary", tokens.valueOffset + 2500, /item \d+ of KV "tokenizer\.ggml\.tokens"/],
      ["in a string value", template.valueOffset + 40, /KV "tokenizer\.chat_template" at byte/],
      ["in a value type", template.valueOffset + 2, /the type of KV "tokenizer\.chat_template"/],
      ["in a tensor name", firstTensorInfo + 12, /the name of tensor #0/],
      ["in tensor dims", firstTensorInfo + 30, /the info of tensor "token_embd\.weight"/],
      ["before the data", info.dataOffset - 1, /the padding before the data section/],
      [
        "in the first tensor's data",
        info.dataOffset + 100,
        /the data of tensor "token_embd\.weight" \(66560 bytes\) at byte/,
      ],
      ["in the last tensor's data", model.length - 1, /the data of tensor "blk\.1\.ffn_down\.weight"/],
    ];
    for (const [what, at, message] of cuts) {
      const err = await readError(`cut-${at}.gguf`, model.subarray(0, at));
      expect({ what, code: err.code, message: err.message }).toMatchObject({
        what,
        code: "gguf/truncated",
        message: expect.stringMatching(message),
      });
      expect(err.message).toContain(`(${at} bytes)`);
    }
  });

  it("reports absurd lengths and unknown types as gguf/invalid, before allocating anything", async () => {
    const tokens = kv("tokenizer.ggml.tokens");
    const name = kv("general.name");
    // valueOffset points at the u32 type; an array continues with u32 item type, u64 count.
    const cases: [string, Buffer, RegExp][] = [
      [
        "array count",
        patched(tokens.valueOffset + 8, (b) => b.writeBigUInt64LE(2n ** 40n)),
        /array of 1099511627776 string items exceeds the file size/,
      ],
      [
        "array count u64 max",
        patched(tokens.valueOffset + 8, (b) => b.writeBigUInt64LE(2n ** 64n - 1n)),
        /exceeds the file size/,
      ],
      ["array item type", patched(tokens.valueOffset + 4, (b) => b.writeUInt32LE(13)), /unknown array item type 13/],
      [
        "string length",
        patched(name.valueOffset + 4, (b) => b.writeBigUInt64LE(2n ** 50n)),
        /string length \d+ exceeds the file size/,
      ],
      [
        "item string length",
        patched(tokens.valueOffset + 16, (b) => b.writeBigUInt64LE(10n ** 9n)),
        /item 0 of KV "tokenizer\.ggml\.tokens".*string length 1000000000 is absurd/,
      ],
      [
        "value type",
        patched(name.valueOffset, (b) => b.writeUInt32LE(99)),
        /KV "general\.name" at byte \d+: unknown value type 99/,
      ],
      [
        "tensor count",
        patched(8, (b) => b.writeBigUInt64LE(2n ** 40n)),
        /1099511627776 tensors and \d+ KVs cannot fit/,
      ],
      ["kv count", patched(16, (b) => b.writeBigUInt64LE(2n ** 62n)), /KVs cannot fit/],
      [
        "n_dims",
        patched(firstTensorInfo + 25, (b) => b.writeUInt32LE(5)),
        /tensor "token_embd\.weight" at byte \d+: 5 dimensions \(at most 4\)/,
      ],
      ["tensor type", patched(firstTensorInfo + 45, (b) => b.writeUInt32LE(99)), /unknown or removed ggml type 99/],
      [
        "removed tensor type",
        patched(firstTensorInfo + 45, (b) => b.writeUInt32LE(31)),
        /unknown or removed ggml type 31/,
      ],
      [
        "block size",
        patched(firstTensorInfo + 45, (b) => b.writeUInt32LE(12)),
        /Q4_K rows of 64 elements are not a multiple of its block size 256/,
      ],
      ["dim", patched(firstTensorInfo + 29, (b) => b.writeBigUInt64LE(2n ** 60n)), /dimension 0 is absurd/],
      [
        "misaligned offset",
        patched(firstTensorInfo + 49, (b) => b.writeBigUInt64LE(4n)),
        /data offset 4 is not a multiple of the alignment 32/,
      ],
      [
        "duplicate key",
        patched(name.valueOffset - 4, (b) => b.write("type", "latin1")),
        /KV "general\.type" at byte \d+: duplicate key/,
      ],
    ];
    expect(model.subarray(name.valueOffset - 4, name.valueOffset).toString()).toBe("name");
    for (const [what, bytes, message] of cases) {
      const err = await readError(`invalid-${what.replaceAll(" ", "-")}.gguf`, bytes);
      expect({ what, code: err.code, message: err.message }).toMatchObject({
        what,
        code: "gguf/invalid",
        message: expect.stringMatching(message),
      });
    }
  });

  it("honours the abort signal", async () => {
    await expect(readGguf(modelPath, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
  });
});

async function writeVariant(name: string, bytes: Uint8Array): Promise<string> {
  await writeFile(join(dir, name), bytes);
  return name;
}
