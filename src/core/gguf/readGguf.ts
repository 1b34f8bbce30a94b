import { open, type FileHandle } from "node:fs/promises";
import { AppError } from "../errors.js";
import { GgufCursor } from "./GgufCursor.js";
import {
  GGML_MAX_DIMS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MIN_VALUE_SIZE,
  GGUF_VALUE_TYPE_NAMES,
  GgufValueType,
  ggmlTensorByteSize,
  isGgufValueType,
  type GgmlType,
  type GgufArray,
  type GgufKv,
  type GgufValue,
  type GgufValueByType,
} from "./ggufTypes.js";

/** One metadata entry as read, with where its bytes lie so a rewriter can copy them verbatim. */
export interface GgufKvEntry extends GgufKv {
  /** Absolute offset of the value's type field (just after the key). */
  valueOffset: number;
  /** Bytes of the value including its u32 type field. */
  valueByteLength: number;
}

/** A tensor as described in the tensor-info section. */
export interface GgufTensorInfo {
  /** Tensor name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  /** Dimensions in ggml order (`ne[0]` innermost), as many as the file lists (0 … 4). */
  dims: number[];
  /** ggml type code. */
  type: GgmlType;
  /** Offset of the data relative to the data section ({@link GgufFile.dataOffset}). */
  offset: number;
  /** Size of the data in bytes, computed from type and dims (padding excluded). */
  byteSize: number;
}

/** The parsed header, metadata and tensor infos of a GGUF file; tensor data stays on disk. */
export interface GgufFile {
  /** The path it was read from. */
  path: string;
  /** GGUF version (2 or 3). */
  version: number;
  /** File size in bytes. */
  fileSize: number;
  /** Data alignment: `general.alignment` or 32. */
  alignment: number;
  /** Metadata in file order. */
  kvs: GgufKvEntry[];
  /** Tensor infos in file order. */
  tensors: GgufTensorInfo[];
  /** Absolute offset of the data section. */
  dataOffset: number;
}

/** Options of {@link readGguf}. */
export interface ReadGgufOptions {
  /** Aborts the read between entries. Defaults to none. */
  signal?: AbortSignal;
}

/** Nested arrays deeper than this are certainly garbage; bounding the depth bounds the recursion. */
const MAX_ARRAY_DEPTH = 8;
/** Smallest possible KV: u64 key length, an empty key, u32 type, a 1-byte value. */
const MIN_KV_SIZE = 13;
/** Smallest possible tensor info: u64 name length, u32 n_dims, u32 type, u64 offset. */
const MIN_TENSOR_INFO_SIZE = 24;

/**
 * Reads the header, every metadata value (typed and exact) and every tensor info of a GGUF v2/v3 file, with
 * positional reads, and validates them without trusting any length before checking it against the file size.
 *
 * Errors (all {@link AppError}, message naming the file and the reason): `gguf/notFound`, `gguf/notGguf`,
 * `gguf/unsupportedVersion`, `gguf/truncated` (a read runs past the end, or a tensor's data does), `gguf/invalid`
 * (absurd lengths or counts, unknown value or tensor types, too many dims, bad alignment, duplicates).
 */
export async function readGguf(path: string, options: ReadGgufOptions = {}): Promise<GgufFile> {
  const handle = await openForRead(path);
  try {
    const { size } = await handle.stat();
    const c = new GgufCursor(handle, path, size);
    return await readWithCursor(c, options.signal);
  } finally {
    await handle.close();
  }
}

async function openForRead(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" || code === "ENOTDIR" ? "no such file" : `cannot be opened (${String(code)})`;
    throw new AppError("gguf/notFound", `GGUF file "${path}": ${reason}.`, { path }, { cause: err });
  }
  const isFile = await handle.stat().then(
    (stat) => stat.isFile(),
    () => false,
  );
  if (!isFile) {
    await handle.close();
    throw new AppError("gguf/notGguf", `"${path}" is not a GGUF file: it is not a regular file.`, { path });
  }
  return handle;
}

async function readWithCursor(c: GgufCursor, signal: AbortSignal | undefined): Promise<GgufFile> {
  const path = c.path;
  const head = Math.min(4, c.fileSize);
  await c.need(head, "the magic");
  const magic = c.bytes(head);
  if (Buffer.from(magic).toString("latin1") !== "GGUF".slice(0, head)) {
    throw new AppError("gguf/notGguf", `"${path}" is not a GGUF file: it does not start with the magic "GGUF".`, {
      path,
    });
  }
  if (head < 4) throw c.truncated("the magic", 0);

  await c.need(4, "the version");
  const version = c.u32();
  if (version !== 2 && version !== 3) {
    const hint = version === 1 ? " (GGUF v1 is obsolete)" : version > 0xffff ? " (a big-endian file?)" : "";
    throw new AppError(
      "gguf/unsupportedVersion",
      `GGUF file "${path}" has version ${version}${hint}; only versions 2 and 3 are supported.`,
      { path, version },
    );
  }
  await c.need(16, "the tensor and KV counts");
  const tensorCount = c.u64Number();
  const kvCount = c.u64Number();
  // Loops are bounded by the file anyway (every entry consumes bytes); this check is so that a garbage count is
  // reported as such, not as a truncation or a bad value somewhere inside the tensor data it would be parsed from.
  if (tensorCount * MIN_TENSOR_INFO_SIZE + kvCount * MIN_KV_SIZE > c.fileSize) {
    throw c.invalid(
      "the header",
      `${tensorCount} tensors and ${kvCount} KVs cannot fit in a file of ${c.fileSize} bytes (corrupt or cut short)`,
      8,
    );
  }

  const kvs: GgufKvEntry[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < kvCount; i++) {
    if (i % 64 === 0) signal?.throwIfAborted();
    const keyOffset = c.pos;
    const key = await readString(c, `the key of KV #${i}`);
    if (keys.has(key)) throw c.invalid(`KV "${key}"`, "duplicate key", keyOffset);
    keys.add(key);
    const valueOffset = c.pos;
    await c.need(4, `the type of KV "${key}"`);
    const type = c.u32();
    const value = await readValue(c, type, `KV "${key}"`, 0);
    kvs.push({ key, value, valueOffset, valueByteLength: c.pos - valueOffset });
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    if (i % 256 === 0) signal?.throwIfAborted();
    const tensor = await readTensorInfo(c, i);
    if (names.has(tensor.name)) throw c.invalid(`tensor "${tensor.name}"`, "duplicate tensor name");
    names.add(tensor.name);
    tensors.push(tensor);
  }

  const alignment = readAlignment(c, kvs);
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  if (tensorCount > 0 && dataOffset > c.fileSize) throw c.truncated("the padding before the data section");
  for (const t of tensors) {
    if (t.offset % alignment !== 0) {
      throw c.invalid(`tensor "${t.name}"`, `data offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    }
    const start = dataOffset + t.offset;
    if (start + t.byteSize > c.fileSize) {
      throw c.truncated(`the data of tensor "${t.name}" (${t.byteSize} bytes)`, start);
    }
  }
  return { path, version, fileSize: c.fileSize, alignment, kvs, tensors, dataOffset };
}

function readAlignment(c: GgufCursor, kvs: readonly GgufKvEntry[]): number {
  const entry = kvs.find((kv) => kv.key === "general.alignment");
  if (!entry) return GGUF_DEFAULT_ALIGNMENT;
  const { value } = entry;
  if (value.type !== GgufValueType.Uint32 || value.value === 0 || (value.value & (value.value - 1)) !== 0) {
    throw c.invalid(`KV "general.alignment"`, "must be a u32 power of two", entry.valueOffset);
  }
  return value.value;
}

async function readString(c: GgufCursor, what: string): Promise<string> {
  await c.need(8, `the length of ${what}`);
  const at = c.pos - 8;
  const length = c.u64Number();
  if (length > c.fileSize) throw c.invalid(what, `string length ${length} exceeds the file size ${c.fileSize}`, at);
  await c.need(length, what);
  return c.utf8(length);
}

async function readValue(c: GgufCursor, type: number, what: string, depth: number): Promise<GgufValue> {
  if (!isGgufValueType(type)) throw c.invalid(what, `unknown value type ${type}`, c.pos - 4);
  if (type === GgufValueType.String) return { type, value: await readString(c, what) };
  if (type === GgufValueType.Array) return { type, value: await readArray(c, what, depth) };
  await c.need(GGUF_MIN_VALUE_SIZE[type], what);
  return readScalar(c, type);
}

/** Reads a fixed-size scalar that is already buffered. */
function readScalar(c: GgufCursor, type: Exclude<GgufValueType, 8 | 9>): GgufValue {
  switch (type) {
    case GgufValueType.Uint8:
      return { type, value: c.u8() };
    case GgufValueType.Int8:
      return { type, value: c.i8() };
    case GgufValueType.Uint16:
      return { type, value: c.u16() };
    case GgufValueType.Int16:
      return { type, value: c.i16() };
    case GgufValueType.Uint32:
      return { type, value: c.u32() };
    case GgufValueType.Int32:
      return { type, value: c.i32() };
    case GgufValueType.Float32:
      return { type, value: c.f32() };
    // Any non-zero byte is true, as in llama.cpp; a writer always emits 0 or 1.
    case GgufValueType.Bool:
      return { type, value: c.u8() !== 0 };
    case GgufValueType.Uint64:
      return { type, value: c.u64() };
    case GgufValueType.Int64:
      return { type, value: c.i64() };
    case GgufValueType.Float64:
      return { type, value: c.f64() };
  }
}

async function readArray(c: GgufCursor, what: string, depth: number): Promise<GgufArray> {
  if (depth >= MAX_ARRAY_DEPTH) throw c.invalid(what, `arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
  await c.need(12, `the header of array ${what}`);
  const at = c.pos;
  const itemType = c.u32();
  const count = c.u64Number();
  if (!isGgufValueType(itemType)) throw c.invalid(what, `unknown array item type ${itemType}`, at);
  const minBytes = count * GGUF_MIN_VALUE_SIZE[itemType];
  if (minBytes > c.fileSize) {
    throw c.invalid(what, `array of ${count} ${GGUF_VALUE_TYPE_NAMES[itemType]} items exceeds the file size`, at);
  }
  switch (itemType) {
    case GgufValueType.String: {
      const items: string[] = [];
      for (let i = 0; i < count; i++) {
        // Inlined string read: this loop runs 150k times for a real vocabulary, so it avoids a call per item.
        if (!c.has(8)) await c.fill(8, `the length of item ${i} of ${what}`);
        const length = c.u64Number();
        if (length > c.fileSize) throw c.invalid(`item ${i} of ${what}`, `string length ${length} is absurd`);
        if (!c.has(length)) await c.fill(length, `item ${i} of ${what}`);
        items.push(c.utf8(length));
      }
      return { itemType, items };
    }
    case GgufValueType.Array: {
      const items: GgufArray[] = [];
      for (let i = 0; i < count; i++) items.push(await readArray(c, `item ${i} of ${what}`, depth + 1));
      return { itemType, items };
    }
    case GgufValueType.Bool: {
      await c.need(count, what);
      const items: boolean[] = [];
      for (let i = 0; i < count; i++) items.push(c.u8() !== 0);
      return { itemType, items };
    }
    default:
      await c.need(minBytes, what);
      return readNumericArray(c, itemType, count);
  }
}

/** Decodes a buffered numeric array item by item: endian-safe, and fast enough for 150k-entry score arrays. */
function readNumericArray(c: GgufCursor, itemType: Exclude<GgufValueType, 7 | 8 | 9>, count: number): GgufArray {
  switch (itemType) {
    case GgufValueType.Uint8:
      return { itemType, items: c.bytes(count) };
    case GgufValueType.Int8:
      return { itemType, items: fillFrom(new Int8Array(count), () => c.i8()) };
    case GgufValueType.Uint16:
      return { itemType, items: fillFrom(new Uint16Array(count), () => c.u16()) };
    case GgufValueType.Int16:
      return { itemType, items: fillFrom(new Int16Array(count), () => c.i16()) };
    case GgufValueType.Uint32:
      return { itemType, items: fillFrom(new Uint32Array(count), () => c.u32()) };
    case GgufValueType.Int32:
      return { itemType, items: fillFrom(new Int32Array(count), () => c.i32()) };
    case GgufValueType.Float32:
      return { itemType, items: fillFrom(new Float32Array(count), () => c.f32()) };
    case GgufValueType.Float64:
      return { itemType, items: fillFrom(new Float64Array(count), () => c.f64()) };
    case GgufValueType.Uint64:
      return { itemType, items: fillFrom(new BigUint64Array(count), () => c.u64()) };
    case GgufValueType.Int64:
      return { itemType, items: fillFrom(new BigInt64Array(count), () => c.i64()) };
  }
}

function fillFrom<A extends { length: number; [i: number]: V }, V>(array: A, next: () => V): A {
  for (let i = 0; i < array.length; i++) array[i] = next();
  return array;
}

async function readTensorInfo(c: GgufCursor, index: number): Promise<GgufTensorInfo> {
  const name = await readString(c, `the name of tensor #${index}`);
  const what = `tensor "${name}"`;
  await c.need(4, `the dimension count of ${what}`);
  const nDims = c.u32();
  if (nDims > GGML_MAX_DIMS) throw c.invalid(what, `${nDims} dimensions (at most ${GGML_MAX_DIMS})`, c.pos - 4);
  await c.need(nDims * 8 + 4 + 8, `the info of ${what}`);
  const dims: number[] = [];
  for (let j = 0; j < nDims; j++) {
    const ne = c.u64Number();
    if (!Number.isSafeInteger(ne)) throw c.invalid(what, `dimension ${j} is absurd (${ne})`, c.pos - 8);
    dims.push(ne);
  }
  const type = c.u32();
  const offset = c.u64Number();
  const byteSize = ggmlTensorByteSize(type, dims);
  if (typeof byteSize === "string") throw c.invalid(what, byteSize, c.pos - 12);
  // Data past the end is checked once the data section is known, and reported as truncation: nothing is
  // allocated from these sizes, and a cut-short download is far likelier than a corrupt shape.
  return { name, dims, type: type as GgmlType, offset, byteSize };
}

/**
 * The value of metadata `key` if present, after checking that its type is `type` (or one of `type`); throws
 * `gguf/invalid` naming the key when the type differs. Returns undefined when the key is absent.
 */
export function getGgufValue<T extends GgufValueType>(
  file: { path?: string; kvs: readonly GgufKv[] },
  key: string,
  type: T | readonly T[],
): GgufValueByType[T] | undefined {
  const entry = file.kvs.find((kv) => kv.key === key);
  if (!entry) return undefined;
  const allowed: readonly number[] = Array.isArray(type) ? type : [type];
  if (!allowed.includes(entry.value.type)) {
    const want = allowed.map((t) => GGUF_VALUE_TYPE_NAMES[t as GgufValueType]).join(" or ");
    throw new AppError(
      "gguf/invalid",
      `GGUF file "${file.path ?? "(in memory)"}" has KV "${key}" of type ` +
        `${GGUF_VALUE_TYPE_NAMES[entry.value.type]}, expected ${want}.`,
      { path: file.path, key },
    );
  }
  return entry.value.value as GgufValueByType[T];
}

/** Like {@link getGgufValue}, but a missing key is a `gguf/invalid` error too. */
export function requireGgufValue<T extends GgufValueType>(
  file: { path?: string; kvs: readonly GgufKv[] },
  key: string,
  type: T | readonly T[],
): GgufValueByType[T] {
  const value = getGgufValue(file, key, type);
  if (value === undefined) {
    throw new AppError("gguf/invalid", `GGUF file "${file.path ?? "(in memory)"}" has no KV "${key}".`, {
      path: file.path,
      key,
    });
  }
  return value;
}
