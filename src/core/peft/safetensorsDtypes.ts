/**
 * The element types of the safetensors format and their sizes in bytes, as the format's reference implementation
 * names them (docs/peft.md §2). Every type is little-endian; the format has no sub-byte or block-quantised types.
 */
export const SAFETENSORS_DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
} as const;

/** A safetensors element type name, e.g. `F32`. */
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_SIZES;

/** True if `name` is a dtype of the format (case-sensitive, as the format is). */
export function isSafetensorsDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === "string" && Object.hasOwn(SAFETENSORS_DTYPE_SIZES, name);
}

/** One tensor of a safetensors file: its name, element type, shape (outermost first, numpy order) and raw bytes. */
export interface SafetensorsTensor {
  /** Tensor name, e.g. `base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight`. */
  name: string;
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Shape in numpy/PyTorch order: the last dimension is contiguous in memory. */
  shape: number[];
  /** The raw little-endian bytes, `product(shape) × size(dtype)` of them. */
  data: Uint8Array;
}

/** A whole safetensors file in memory. */
export interface SafetensorsContent {
  /** The optional `__metadata__` string map (PEFT writes `{"format": "pt"}`). */
  metadata: Record<string, string>;
  /** The tensors, in data order. */
  tensors: SafetensorsTensor[];
}
