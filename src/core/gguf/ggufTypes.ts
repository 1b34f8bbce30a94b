/**
 * GGUF value types, ggml tensor types and the typed key/value representation shared by the GGUF reader and
 * writer. Values keep their on-disk type so that a read-then-write round trip reproduces the same bytes.
 */

/** GGUF metadata value type codes, as stored in the file (u32). */
export const GgufValueType = {
  Uint8: 0,
  Int8: 1,
  Uint16: 2,
  Int16: 3,
  Uint32: 4,
  Int32: 5,
  Float32: 6,
  Bool: 7,
  String: 8,
  Array: 9,
  Uint64: 10,
  Int64: 11,
  Float64: 12,
} as const;

/** A GGUF metadata value type code (0 … 12). */
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** The JS representation of a single value of each type. 64-bit integers are bigint so they stay exact. */
export interface GgufValueByType {
  0: number;
  1: number;
  2: number;
  3: number;
  4: number;
  5: number;
  6: number;
  7: boolean;
  8: string;
  9: GgufArray;
  10: bigint;
  11: bigint;
  12: number;
}

/**
 * The JS representation of the items of an array of each item type. Numeric arrays are typed arrays, which keep
 * a 150k-entry vocabulary's scores compact and make f32 items exact by construction.
 */
export interface GgufArrayItemsByType {
  0: Uint8Array;
  1: Int8Array;
  2: Uint16Array;
  3: Int16Array;
  4: Uint32Array;
  5: Int32Array;
  6: Float32Array;
  7: boolean[];
  8: string[];
  9: GgufArray[];
  10: BigUint64Array;
  11: BigInt64Array;
  12: Float64Array;
}

/** A GGUF array: its item type travels with the items, so nested arrays are typed at every level. */
export type GgufArray = { [T in GgufValueType]: { itemType: T; items: GgufArrayItemsByType[T] } }[GgufValueType];

/** A typed GGUF metadata value, e.g. `{type: GgufValueType.Uint32, value: 2}`. */
export type GgufValue = { [T in GgufValueType]: { type: T; value: GgufValueByType[T] } }[GgufValueType];

/** One metadata entry, in file order. */
export interface GgufKv {
  /** The key, e.g. `llama.block_count`. */
  key: string;
  /** The typed value. */
  value: GgufValue;
}

/** Minimum encoded size in bytes of one item of each value type (strings: the u64 length; arrays: type + count). */
export const GGUF_MIN_VALUE_SIZE: Readonly<Record<GgufValueType, number>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  8: 8,
  9: 12,
  10: 8,
  11: 8,
  12: 8,
};

/** Human-readable names of the value types, for error messages. */
export const GGUF_VALUE_TYPE_NAMES: Readonly<Record<GgufValueType, string>> = {
  0: "u8",
  1: "i8",
  2: "u16",
  3: "i16",
  4: "u32",
  5: "i32",
  6: "f32",
  7: "bool",
  8: "string",
  9: "array",
  10: "u64",
  11: "i64",
  12: "f64",
};

/** True if `type` is a known GGUF value type code. */
export function isGgufValueType(type: number): type is GgufValueType {
  return Number.isInteger(type) && type >= 0 && type <= 12;
}

/**
 * ggml tensor type codes, numbered as in llama.cpp v0.4.0 (ggml 0.23.0) and node-llama-cpp's `GgmlType`.
 * Codes 4, 5, 31–33 and 36–38 belong to removed types; they are listed so that names stay aligned, but
 * {@link GGML_TYPE_SIZES} has no entry for them and files using them are rejected, as llama.cpp does.
 */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q4_2: 4,
  Q4_3: 5,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  Q4_0_4_4: 31,
  Q4_0_4_8: 32,
  Q4_0_8_8: 33,
  TQ1_0: 34,
  TQ2_0: 35,
  IQ4_NL_4_4: 36,
  IQ4_NL_4_8: 37,
  IQ4_NL_8_8: 38,
  MXFP4: 39,
  NVFP4: 40,
  Q1_0: 41,
  Q2_0: 42,
} as const;

/** A ggml tensor type code. */
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** Block size (elements per block) and type size (bytes per block) of a ggml type. */
export interface GgmlTypeSize {
  /** Elements per block; `ne[0]` must be a multiple of it. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/**
 * Sizes of every ggml type llama.cpp v0.4.0 can load. Taken from the bundled binary's
 * `ggml_blck_size` / `ggml_type_size` (node-llama-cpp's `getBlockSizeForGgmlType` / `getTypeSizeForGgmlType`),
 * so they match what the loader computes; removed types are absent.
 */
export const GGML_TYPE_SIZES: Readonly<Partial<Record<number, GgmlTypeSize>>> = {
  0: { blockSize: 1, typeSize: 4 },
  1: { blockSize: 1, typeSize: 2 },
  2: { blockSize: 32, typeSize: 18 },
  3: { blockSize: 32, typeSize: 20 },
  6: { blockSize: 32, typeSize: 22 },
  7: { blockSize: 32, typeSize: 24 },
  8: { blockSize: 32, typeSize: 34 },
  9: { blockSize: 32, typeSize: 36 },
  10: { blockSize: 256, typeSize: 84 },
  11: { blockSize: 256, typeSize: 110 },
  12: { blockSize: 256, typeSize: 144 },
  13: { blockSize: 256, typeSize: 176 },
  14: { blockSize: 256, typeSize: 210 },
  15: { blockSize: 256, typeSize: 292 },
  16: { blockSize: 256, typeSize: 66 },
  17: { blockSize: 256, typeSize: 74 },
  18: { blockSize: 256, typeSize: 98 },
  19: { blockSize: 256, typeSize: 50 },
  20: { blockSize: 32, typeSize: 18 },
  21: { blockSize: 256, typeSize: 110 },
  22: { blockSize: 256, typeSize: 82 },
  23: { blockSize: 256, typeSize: 136 },
  24: { blockSize: 1, typeSize: 1 },
  25: { blockSize: 1, typeSize: 2 },
  26: { blockSize: 1, typeSize: 4 },
  27: { blockSize: 1, typeSize: 8 },
  28: { blockSize: 1, typeSize: 8 },
  29: { blockSize: 256, typeSize: 56 },
  30: { blockSize: 1, typeSize: 2 },
  34: { blockSize: 256, typeSize: 54 },
  35: { blockSize: 256, typeSize: 66 },
  39: { blockSize: 32, typeSize: 17 },
  40: { blockSize: 64, typeSize: 36 },
  41: { blockSize: 128, typeSize: 18 },
  42: { blockSize: 64, typeSize: 18 },
};

/** The name of a ggml type code (`"Q4_K"`), or `"type N"` for an unknown code. */
export function ggmlTypeName(type: number): string {
  const entry = Object.entries(GgmlType).find(([, code]) => code === type);
  return entry ? entry[0] : `type ${type}`;
}

/** Maximum number of dimensions of a ggml tensor (`GGML_MAX_DIMS`). */
export const GGML_MAX_DIMS = 4;

/** The alignment llama.cpp assumes when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/**
 * Byte size of a tensor of `type` with dims `dims` (ggml order), or a string saying why it has none
 * (unknown type, row not a multiple of the block size, size not exactly representable).
 */
export function ggmlTensorByteSize(type: number, dims: readonly number[]): number | string {
  const size = GGML_TYPE_SIZES[type];
  if (!size) return `unknown or removed ggml type ${type}`;
  const ne0 = dims[0] ?? 1;
  if (ne0 % size.blockSize !== 0) {
    return `${ggmlTypeName(type)} rows of ${ne0} elements are not a multiple of its block size ${size.blockSize}`;
  }
  let bytes = (ne0 / size.blockSize) * size.typeSize;
  for (let i = 1; i < dims.length; i++) bytes *= dims[i] ?? 1;
  if (!Number.isSafeInteger(bytes)) return `size of dims [${dims.join(", ")}] is not representable`;
  return bytes;
}

/** Builders for typed values, so call sites read `ggufValue.u32(2)` instead of spelling the type codes. */
export const ggufValue = {
  u8: (value: number): GgufValue => ({ type: GgufValueType.Uint8, value }),
  i8: (value: number): GgufValue => ({ type: GgufValueType.Int8, value }),
  u16: (value: number): GgufValue => ({ type: GgufValueType.Uint16, value }),
  i16: (value: number): GgufValue => ({ type: GgufValueType.Int16, value }),
  u32: (value: number): GgufValue => ({ type: GgufValueType.Uint32, value }),
  i32: (value: number): GgufValue => ({ type: GgufValueType.Int32, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.Float32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.Bool, value }),
  string: (value: string): GgufValue => ({ type: GgufValueType.String, value }),
  u64: (value: bigint): GgufValue => ({ type: GgufValueType.Uint64, value }),
  i64: (value: bigint): GgufValue => ({ type: GgufValueType.Int64, value }),
  f64: (value: number): GgufValue => ({ type: GgufValueType.Float64, value }),
  array: (value: GgufArray): GgufValue => ({ type: GgufValueType.Array, value }),
  stringArray: (items: string[]): GgufValue => ({
    type: GgufValueType.Array,
    value: { itemType: GgufValueType.String, items },
  }),
  i32Array: (items: readonly number[]): GgufValue => ({
    type: GgufValueType.Array,
    value: { itemType: GgufValueType.Int32, items: Int32Array.from(items) },
  }),
  f32Array: (items: readonly number[]): GgufValue => ({
    type: GgufValueType.Array,
    value: { itemType: GgufValueType.Float32, items: Float32Array.from(items) },
  }),
};
