import { open, type FileHandle } from "node:fs/promises";
import { AppError } from "../errors.js";
import { featureHeadFits, featureHeadTensor } from "./featureHead.js";
import { GgufValueType, type GgufArray, type GgufValue } from "./ggufTypes.js";
import { readGguf, requireGgufValue, type GgufFile, type GgufKvEntry } from "./readGguf.js";
import { writeGguf, type GgufKvInput, type GgufTensorInput, type WriteGgufOptions } from "./writeGguf.js";

/** Options of {@link writeTruncatedModel}. */
export interface WriteTruncatedModelOptions extends WriteGgufOptions {
  /**
   * Replace the output layer by the feature head, whose logits are the last hidden state (`featureHead.ts`), where
   * the model's width and vocabulary allow it ({@link featureHeadFits}); otherwise the output layer is kept.
   */
  featureHead?: boolean;
}

/** What {@link writeTruncatedModel} wrote. */
export interface TruncatedModelInfo {
  /** The file written. */
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** The source's block count. */
  sourceBlocks: number;
  /** The blocks kept (the new `<arch>.block_count`). */
  keptBlocks: number;
  /** Tensors written. */
  tensorCount: number;
  /** Whether the output layer is the feature head. */
  featureHead: boolean;
}

/** Bytes per read when copying tensor data: bounded memory for multi-GB tensors, few syscalls. */
const COPY_CHUNK = 4 << 20;
const BLOCK_TENSOR = /^blk\.(\d+)\./;

/**
 * Writes a copy of a GGUF model that keeps only its first `keepBlocks` transformer blocks: every non-block tensor
 * (`token_embd`, `output_norm`, `output`, rope factors, …) and the tensors of `blk.0 … blk.(k-1)`, with
 * `<arch>.block_count = k`. Loading it makes llama.cpp's "embedding" the hidden state after block k-1 through the
 * final norm (docs/engine.md §8), which node-llama-cpp cannot otherwise expose.
 *
 * Works on real models: tensor bytes of any type are streamed verbatim, and KVs are copied as their original bytes
 * (so even a vocabulary with invalid UTF-8 stays identical). Per-layer arrays (`<arch>.*` numeric arrays as long as
 * the block count, which llama.cpp requires to have exactly n_layer entries) are cut to `keepBlocks` entries.
 * Atomic, like `writeGguf`.
 *
 * Errors: `gguf/*` from reading the source; `gguf/invalid` if it has no architecture or block count, or if
 * `keepBlocks` is not in 1 … block count; `gguf/writeFailed`.
 */
export async function writeTruncatedModel(
  srcPath: string,
  dstPath: string,
  keepBlocks: number,
  options: WriteTruncatedModelOptions = {},
): Promise<TruncatedModelInfo> {
  const src = await readGguf(srcPath, options);
  const arch = requireGgufValue(src, "general.architecture", GgufValueType.String);
  const blockKey = `${arch}.block_count`;
  const sourceBlocks = Number(
    requireGgufValue(src, blockKey, [
      GgufValueType.Uint32,
      GgufValueType.Int32,
      GgufValueType.Uint64,
      GgufValueType.Int64,
    ]),
  );
  if (!Number.isInteger(keepBlocks) || keepBlocks < 1 || keepBlocks > sourceBlocks) {
    throw new AppError(
      "gguf/invalid",
      `Cannot keep ${keepBlocks} blocks of GGUF model "${srcPath}", which has ${sourceBlocks}.`,
      { path: srcPath, keepBlocks, sourceBlocks },
    );
  }

  const handle = await open(srcPath, "r");
  try {
    const kvs: GgufKvInput[] = [];
    for (const kv of src.kvs) kvs.push(await truncatedKv(handle, kv, arch, blockKey, sourceBlocks, keepBlocks));
    const tensors: GgufTensorInput[] = src.tensors
      .filter((t) => {
        const block = BLOCK_TENSOR.exec(t.name);
        return !block || Number(block[1]) < keepBlocks;
      })
      .map((t) => ({
        name: t.name,
        dims: t.dims,
        type: t.type,
        data: () => readRange(handle, src, src.dataOffset + t.offset, t.byteSize),
      }));
    // token_embd is [n_embd, n_vocab] in every architecture; a tied model has no output.weight of its own.
    const embd = src.tensors.find((t) => t.name === "token_embd.weight");
    const featureHead =
      !!options.featureHead && embd?.dims.length === 2 && featureHeadFits(embd.dims[0]!, embd.dims[1]!);
    if (featureHead) {
      const at = tensors.findIndex((t) => t.name === "output.weight");
      if (at >= 0) tensors.splice(at, 1);
      tensors.push(featureHeadTensor(embd.dims[0]!, embd.dims[1]!));
      // An output bias (phi2's, say) would add to every logit: the head's zeros must stay zero.
      const bias = src.tensors.find((t) => t.name === "output.bias");
      const biasAt = tensors.findIndex((t) => t.name === "output.bias");
      if (bias && biasAt >= 0) tensors[biasAt] = { ...tensors[biasAt]!, data: new Uint8Array(bias.byteSize) };
    }
    const written = await writeGguf(dstPath, { kvs, tensors }, options);
    return {
      path: dstPath,
      bytes: written.bytes,
      sourceBlocks,
      keptBlocks: keepBlocks,
      tensorCount: tensors.length,
      featureHead,
    };
  } finally {
    await handle.close();
  }
}

async function truncatedKv(
  handle: FileHandle,
  kv: GgufKvEntry,
  arch: string,
  blockKey: string,
  sourceBlocks: number,
  keepBlocks: number,
): Promise<GgufKvInput> {
  const { key, value } = kv;
  if (key === blockKey) return { key, value: withNumber(value, keepBlocks) };
  // The writer reads the alignment from a typed value; a u32 re-encodes to the same bytes.
  if (key === "general.alignment") return { key, value };
  if (key.startsWith(`${arch}.`) && value.type === GgufValueType.Array && value.value.items.length === sourceBlocks) {
    const cut = sliceArray(value.value, keepBlocks);
    if (cut) return { key, value: { type: GgufValueType.Array, value: cut } };
  }
  const rawValue = new Uint8Array(kv.valueByteLength);
  let done = 0;
  while (done < rawValue.length) {
    const { bytesRead } = await handle.read(rawValue, done, rawValue.length - done, kv.valueOffset + done);
    if (bytesRead === 0) throw new Error(`"${key}" ends past the end of the source file`);
    done += bytesRead;
  }
  return { key, rawValue };
}

/** The same-typed value holding `n` (block counts are integers of any width). */
function withNumber(value: GgufValue, n: number): GgufValue {
  switch (value.type) {
    case GgufValueType.Uint64:
    case GgufValueType.Int64:
      return { type: value.type, value: BigInt(n) };
    case GgufValueType.Uint32:
    case GgufValueType.Int32:
      return { type: value.type, value: n };
    default:
      throw new Error(`unexpected block count type ${value.type}`);
  }
}

/** The first `n` items of a per-layer array; undefined for item types that are never per-layer (strings, arrays). */
function sliceArray(array: GgufArray, n: number): GgufArray | undefined {
  if (array.itemType === GgufValueType.String || array.itemType === GgufValueType.Array) return undefined;
  // Every remaining items type (typed arrays, boolean[]) slices to its own type; the cast only re-pairs it with
  // its itemType, which TypeScript cannot follow through the union.
  return { itemType: array.itemType, items: array.items.slice(0, n) } as GgufArray;
}

/** Streams `length` bytes at `start` of the source in chunks, so a multi-GB tensor never sits in memory whole. */
async function* readRange(
  handle: FileHandle,
  src: GgufFile,
  start: number,
  length: number,
): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < length;) {
    const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, length - done));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, start + done);
    if (bytesRead === 0) throw new Error(`"${src.path}" ended at byte ${start + done} while copying tensor data`);
    done += bytesRead;
    yield chunk.subarray(0, bytesRead);
  }
}
