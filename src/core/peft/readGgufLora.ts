import { open } from "node:fs/promises";
import { AppError } from "../errors.js";
import { GgmlType, GgufValueType, ggmlTypeName } from "../gguf/ggufTypes.js";
import { getGgufValue, readGguf, requireGgufValue, type GgufTensorInfo } from "../gguf/readGguf.js";
import { parseGgufLoraName } from "./peftTensorNames.js";

/** The float types a LoRA tensor may have on either side of the conversion. */
export type LoraDtype = "F32" | "F16" | "BF16";

/** One half of a LoRA pair: raw little-endian bytes, row-major with the shape given by {@link LoraPair}. */
export interface LoraMatrix {
  dtype: LoraDtype;
  data: Uint8Array;
}

/**
 * One adapted weight `W` (`[n_out, n_in]` in numpy order) and its update `B·A`. The memory layouts of GGUF and
 * PEFT agree (docs/peft.md §3): GGUF's `lora_a` with ggml `ne = [n_in, r]` is numpy `[r, n_in]`, PEFT's `lora_A`;
 * `lora_b` with `ne = [r, n_out]` is numpy `[n_out, r]`, PEFT's `lora_B`. No transpose is needed, only names (and
 * for Llama's q/k a row order, `permuteRopeRows`).
 */
export interface LoraPair {
  block: number;
  /** GGUF tensor within the block: `attn_q`. */
  target: string;
  rank: number;
  nIn: number;
  nOut: number;
  /** numpy `[rank, nIn]`. */
  a: LoraMatrix;
  /** numpy `[nOut, rank]`, in GGUF's row order. */
  b: LoraMatrix;
}

/** A LoRA adapter GGUF in memory. */
export interface GgufLora {
  architecture: string;
  /** `adapter.lora.alpha`; 0 when absent (llama.cpp then scales by 1, as if alpha = rank). */
  alpha: number;
  /** Pairs ordered by block, then target name. */
  pairs: LoraPair[];
}

const GGML_TO_DTYPE = new Map<number, LoraDtype>([
  [GgmlType.F32, "F32"],
  [GgmlType.F16, "F16"],
  [GgmlType.BF16, "BF16"],
]);

/**
 * Reads a LoRA adapter GGUF (the trainer's, or any llama.cpp loads) into {@link LoraPair}s: every tensor must be a
 * `blk.N.<target>.weight.lora_a|lora_b` of F32, F16 or BF16, every pair complete with shapes `[n_in, r]` and
 * `[r, n_out]`.
 *
 * @throws AppError `gguf/*` (unreadable); `peft/invalid` (not a LoRA adapter, a tensor that is not a LoRA half, an
 *   incomplete pair, inconsistent ranks within a pair); `peft/unsupportedDtype` (a quantised tensor).
 */
export async function readGgufLora(path: string, options: { signal?: AbortSignal } = {}): Promise<GgufLora> {
  const file = await readGguf(path, { signal: options.signal });
  if (
    getGgufValue(file, "general.type", GgufValueType.String) !== "adapter" ||
    getGgufValue(file, "adapter.type", GgufValueType.String) !== "lora"
  ) {
    throw new AppError("peft/invalid", `${path} is not a LoRA adapter (general.type / adapter.type).`);
  }
  const architecture = requireGgufValue(file, "general.architecture", GgufValueType.String);
  const alpha = getGgufValue(file, "adapter.lora.alpha", GgufValueType.Float32) ?? 0;
  const halves = new Map<string, { block: number; target: string; a?: GgufTensorInfo; b?: GgufTensorInfo }>();
  for (const t of file.tensors) {
    const site = parseGgufLoraName(t.name);
    if (!site)
      throw new AppError("peft/invalid", `${path}: tensor "${t.name}" is not a LoRA half (blk.N.<t>.weight.lora_a|b).`);
    if (!GGML_TO_DTYPE.has(t.type)) {
      throw new AppError(
        "peft/unsupportedDtype",
        `${path}: tensor "${t.name}" is ${ggmlTypeName(t.type)}; PEFT export takes F32, F16 or BF16 LoRA tensors.`,
      );
    }
    if (t.dims.length !== 2) throw new AppError("peft/invalid", `${path}: tensor "${t.name}" is not 2-D.`);
    const key = `${site.block}.${site.target}`;
    const entry = halves.get(key) ?? { block: site.block, target: site.target };
    entry[site.half] = t;
    halves.set(key, entry);
  }
  const handle = await open(path, "r");
  try {
    const read = async (t: GgufTensorInfo): Promise<LoraMatrix> => {
      options.signal?.throwIfAborted();
      const data = Buffer.alloc(t.byteSize);
      const { bytesRead } = await handle.read(data, 0, t.byteSize, file.dataOffset + t.offset);
      if (bytesRead !== t.byteSize) throw new AppError("peft/invalid", `${path}: tensor "${t.name}" is cut short.`);
      return {
        dtype: GGML_TO_DTYPE.get(t.type) ?? "F32",
        data: new Uint8Array(data.buffer, data.byteOffset, t.byteSize),
      };
    };
    const pairs: LoraPair[] = [];
    const sorted = [...halves.values()].sort((x, y) => x.block - y.block || x.target.localeCompare(y.target));
    for (const { block, target, a, b } of sorted) {
      const base = `blk.${block}.${target}.weight`;
      if (!a || !b) throw new AppError("peft/invalid", `${path}: ${base} has only its lora_${a ? "a" : "b"}.`);
      const [nIn = 0, rank = 0] = a.dims;
      const [rankB = 0, nOut = 0] = b.dims;
      if (rank !== rankB) {
        throw new AppError("peft/invalid", `${path}: ${base} has rank ${rank} in lora_a but ${rankB} in lora_b.`);
      }
      pairs.push({ block, target, rank, nIn, nOut, a: await read(a), b: await read(b) });
    }
    return { architecture, alpha, pairs };
  } finally {
    await handle.close();
  }
}
