import { GgmlType, ggufValue, type GgufKv } from "../gguf/ggufTypes.js";
import { writeGguf, type GgufTensorInput } from "../gguf/writeGguf.js";
import type { GgufLora, LoraDtype } from "./readGgufLora.js";

const DTYPE_TO_GGML: Record<LoraDtype, GgmlType> = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 };

/**
 * Writes `lora` as an adapter GGUF llama.cpp loads, with the KVs the trainer writes (`general.architecture`,
 * `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`) and its tensor order (by name: the
 * trainer keeps its pairs in a `std::map`), so an adapter that went through PEFT and back has the same tensors in
 * the same order, bit for bit. Atomic. Errors: `gguf/writeFailed`.
 */
export async function writeGgufLora(
  path: string,
  lora: GgufLora,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const kvs: GgufKv[] = [
    { key: "general.architecture", value: ggufValue.string(lora.architecture) },
    { key: "general.type", value: ggufValue.string("adapter") },
    { key: "adapter.type", value: ggufValue.string("lora") },
    { key: "adapter.lora.alpha", value: ggufValue.f32(lora.alpha) },
  ];
  const base = (p: { block: number; target: string }) => `blk.${p.block}.${p.target}.weight`;
  const pairs = [...lora.pairs].sort((x, y) => (base(x) < base(y) ? -1 : base(x) > base(y) ? 1 : 0));
  const tensors: GgufTensorInput[] = pairs.flatMap((p) => [
    { name: `${base(p)}.lora_a`, dims: [p.nIn, p.rank], type: DTYPE_TO_GGML[p.a.dtype], data: p.a.data },
    { name: `${base(p)}.lora_b`, dims: [p.rank, p.nOut], type: DTYPE_TO_GGML[p.b.dtype], data: p.b.data },
  ]);
  await writeGguf(path, { kvs, tensors }, { signal: options.signal });
}
