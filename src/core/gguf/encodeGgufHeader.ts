import { GGML_MAX_DIMS, GGUF_VALUE_TYPE_NAMES, GgufValueType, type GgufArray, type GgufValue } from "./ggufTypes.js";

/** A metadata entry to write: a typed value, or the exact bytes of one (type field included) copied from a file. */
export type GgufKvInput = { key: string; value: GgufValue } | { key: string; rawValue: Uint8Array };

/** A tensor info to write: offset relative to the data section. */
export interface GgufTensorInfoInput {
  name: string;
  dims: readonly number[];
  type: number;
  offset: number;
}

/**
 * Encodes a GGUF v3 little-endian header (magic, version, counts, KVs, tensor infos), without the padding that
 * follows it. Throws a plain Error naming the key or tensor for a value that cannot be encoded as its type
 * (out of range, not an integer, wrong JS type): silently wrapping it would corrupt the model.
 */
export function encodeGgufHeader(kvs: readonly GgufKvInput[], tensors: readonly GgufTensorInfoInput[]): Buffer {
  const sink = new ByteSink();
  sink.raw(Buffer.from("GGUF", "latin1"));
  sink.u32(3);
  sink.u64(BigInt(tensors.length));
  sink.u64(BigInt(kvs.length));
  for (const kv of kvs) {
    sink.string(kv.key);
    if ("rawValue" in kv) sink.raw(kv.rawValue);
    else {
      try {
        encodeValue(sink, kv.value);
      } catch (err) {
        throw new Error(`KV "${kv.key}": ${(err as Error).message}`, { cause: err });
      }
    }
  }
  for (const t of tensors) {
    if (t.dims.length > GGML_MAX_DIMS) throw new Error(`tensor "${t.name}" has ${t.dims.length} dims (at most 4)`);
    sink.string(t.name);
    sink.u32(t.dims.length);
    for (const ne of t.dims) sink.u64(checkedU64(ne, `a dimension of tensor "${t.name}"`));
    sink.u32(t.type);
    sink.u64(checkedU64(t.offset, `the offset of tensor "${t.name}"`));
  }
  return sink.result();
}

function checkedU64(value: number, what: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer: ${value}`);
  return BigInt(value);
}

const INT_RANGES: Readonly<Partial<Record<GgufValueType, readonly [number, number]>>> = {
  0: [0, 0xff],
  1: [-0x80, 0x7f],
  2: [0, 0xffff],
  3: [-0x8000, 0x7fff],
  4: [0, 0xffff_ffff],
  5: [-0x8000_0000, 0x7fff_ffff],
};

function encodeValue(sink: ByteSink, v: GgufValue): void {
  sink.u32(v.type);
  encodePayload(sink, v);
}

/** The value bytes without the type field (arrays: item type, count, items). */
function encodePayload(sink: ByteSink, v: GgufValue): void {
  const range = INT_RANGES[v.type];
  if (range && typeof v.value === "number") {
    if (!Number.isInteger(v.value) || v.value < range[0] || v.value > range[1]) {
      throw new Error(`${v.value} is not a valid ${GGUF_VALUE_TYPE_NAMES[v.type]}`);
    }
  }
  checkJsType(v);
  switch (v.type) {
    case GgufValueType.Uint8:
      return sink.bytes(1, (b, o) => b.writeUInt8(v.value, o));
    case GgufValueType.Int8:
      return sink.bytes(1, (b, o) => b.writeInt8(v.value, o));
    case GgufValueType.Uint16:
      return sink.bytes(2, (b, o) => b.writeUInt16LE(v.value, o));
    case GgufValueType.Int16:
      return sink.bytes(2, (b, o) => b.writeInt16LE(v.value, o));
    case GgufValueType.Uint32:
      return sink.u32(v.value);
    case GgufValueType.Int32:
      return sink.bytes(4, (b, o) => b.writeInt32LE(v.value, o));
    case GgufValueType.Float32:
      return sink.bytes(4, (b, o) => b.writeFloatLE(v.value, o));
    case GgufValueType.Bool:
      return sink.bytes(1, (b, o) => b.writeUInt8(v.value ? 1 : 0, o));
    case GgufValueType.String:
      return sink.string(v.value);
    case GgufValueType.Uint64:
      return sink.u64(v.value);
    case GgufValueType.Int64:
      return sink.bytes(8, (b, o) => b.writeBigInt64LE(v.value, o));
    case GgufValueType.Float64:
      return sink.bytes(8, (b, o) => b.writeDoubleLE(v.value, o));
    case GgufValueType.Array:
      return encodeArray(sink, v.value);
  }
}

/** Guards against values built with casts: a string where a number belongs would otherwise write garbage. */
function checkJsType(v: GgufValue): void {
  const expected =
    v.type === GgufValueType.Uint64 || v.type === GgufValueType.Int64
      ? "bigint"
      : v.type === GgufValueType.Bool
        ? "boolean"
        : v.type === GgufValueType.String
          ? "string"
          : v.type === GgufValueType.Array
            ? "object"
            : "number";
  if (typeof v.value !== expected) {
    throw new Error(`a ${GGUF_VALUE_TYPE_NAMES[v.type]} value must be a ${expected}, got ${typeof v.value}`);
  }
}

function encodeArray(sink: ByteSink, a: GgufArray): void {
  sink.u32(a.itemType);
  sink.u64(BigInt(a.items.length));
  // Each item goes through the scalar encoder so ranges are checked; headers are small enough for that.
  switch (a.itemType) {
    case GgufValueType.String:
      for (const s of a.items) sink.string(s);
      return;
    case GgufValueType.Array:
      for (const inner of a.items) encodeArray(sink, inner);
      return;
    case GgufValueType.Bool:
      for (const b of a.items) encodePayload(sink, { type: a.itemType, value: b });
      return;
    case GgufValueType.Uint64:
    case GgufValueType.Int64:
      for (const n of a.items) encodePayload(sink, { type: a.itemType, value: n });
      return;
    default:
      for (const n of a.items) encodePayload(sink, { type: a.itemType, value: n });
  }
}

/** A growable little-endian byte buffer. */
class ByteSink {
  private buf = Buffer.allocUnsafe(1 << 16);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  bytes(n: number, write: (buf: Buffer, offset: number) => void): void {
    this.reserve(n);
    write(this.buf, this.len);
    this.len += n;
  }

  u32(v: number): void {
    this.bytes(4, (b, o) => b.writeUInt32LE(v, o));
  }

  u64(v: bigint): void {
    this.bytes(8, (b, o) => b.writeBigUInt64LE(v, o));
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.u64(BigInt(n));
    this.reserve(n);
    this.buf.write(s, this.len, n, "utf8");
    this.len += n;
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}
