import { getGgufValue, readGguf, requireGgufValue, type GgufFile } from "../gguf/readGguf.js";
import { GgufValueType } from "../gguf/ggufTypes.js";
import { AppError } from "../errors.js";

/** What the trainer's peak memory depends on (docs/trainer.md §12). */
export interface TrainerShape {
  /** The base model file's size: its weights are read into memory. */
  fileBytes: number;
  blocks: number;
  /** The first trained block; the blocks below it keep no activations. */
  firstBlock: number;
  embeddingLength: number;
  feedForwardLength: number;
  headCount: number;
  vocabSize: number;
  /** The LoRA's trainable parameters (rank × (in + out) per adapted matrix). */
  trainableParameters: number;
}

/**
 * The runtime beside the tensors below (libraries, ggml contexts, the KV cache, graph metadata): what the six
 * measured points of docs/trainer.md §12 left over, 0.11–0.20 GB, rounded up.
 */
export const TRAINER_RUNTIME_BYTES = 200e6;
/** F32 activations per trained block and window position, in units of the widths (docs/trainer.md §12). */
const FFN_ACTIVATIONS = 3; // gate, up and their product
const WIDTH_ACTIVATIONS = 7; // norms, attention input and output, residuals
/** Adapter, gradient and two AdamW moments, F32 each. */
const BYTES_PER_TRAINABLE = 16;

/**
 * The trainer's peak RSS for one window of `window` tokens, `outputRows` of them through the output layer (the
 * trained positions; at most the window): the file, plus each trained block's activations and attention
 * probabilities, plus the output rows' logits (their gradient is computed in place), plus the adapter with its
 * optimiser state and the runtime. Within +4 % of every point measured on the 0.5B and 1.5B shapes.
 */
export function estimateTrainerPeakBytes(shape: TrainerShape, window: number, outputRows = window): number {
  const trainedBlocks = Math.max(0, shape.blocks - shape.firstBlock);
  const perBlock =
    window *
    4 *
    (FFN_ACTIVATIONS * shape.feedForwardLength + WIDTH_ACTIVATIONS * shape.embeddingLength + shape.headCount * window);
  const logits = Math.min(outputRows, window) * shape.vocabSize * 4;
  return (
    shape.fileBytes +
    trainedBlocks * perBlock +
    logits +
    shape.trainableParameters * BYTES_PER_TRAINABLE +
    TRAINER_RUNTIME_BYTES
  );
}

/** LoRA targets that a fused tensor stands in for, as stage 5 maps them (phi3's `attn_qkv`). */
const FUSED: Readonly<Record<string, string>> = { attn_q: "attn_qkv", attn_k: "attn_qkv", attn_v: "attn_qkv" };

/**
 * Trainable parameters of a rank-`rank` LoRA on `targets` of blocks `firstBlock` … `blocks − 1`: rank × (in + out)
 * for every adapted matrix the file has. A target the file lacks counts its fused stand-in once (`attn_qkv`), or
 * nothing (`ffn_gate` fused into `ffn_up`, which is a target of its own).
 */
export function countTrainableParameters(
  file: Pick<GgufFile, "tensors">,
  lora: { targets: readonly string[]; rank: number },
  firstBlock: number,
  blocks: number,
): number {
  const dims = new Map(file.tensors.map((t) => [t.name, t.dims]));
  let total = 0;
  for (let block = firstBlock; block < blocks; block++) {
    const adapted = new Set(lora.targets.map((t) => (dims.has(`blk.${block}.${t}.weight`) ? t : (FUSED[t] ?? t))));
    for (const target of adapted) {
      const d = dims.get(`blk.${block}.${target}.weight`);
      if (d && d.length >= 2) total += lora.rank * (d[0]! + d[1]!);
    }
  }
  return total;
}

/** A per-model hyperparameter that some architectures store per block (an array): the widest block's. */
function widest(file: GgufFile, key: string): number {
  const value = requireGgufValue(file, key, [GgufValueType.Uint32, GgufValueType.Int32, GgufValueType.Array]);
  if (typeof value === "number") return value;
  let max = 0;
  for (const x of Array.from(value.items as ArrayLike<number | bigint>)) max = Math.max(max, Number(x));
  return max;
}

/** The trainer's shape for a model file and the job's LoRA settings (reads the GGUF header only). */
export async function readTrainerShape(
  path: string,
  lora: { targets: readonly string[]; rank: number },
  firstBlock: number,
  signal?: AbortSignal,
): Promise<TrainerShape> {
  const file = await readGguf(path, { signal });
  const arch = requireGgufValue(file, "general.architecture", GgufValueType.String);
  const embedding = file.tensors.find((t) => t.name === "token_embd.weight");
  const tokens = getGgufValue(file, "tokenizer.ggml.tokens", GgufValueType.Array);
  const vocabSize = embedding?.dims[1] ?? tokens?.items.length;
  if (!vocabSize) {
    throw new AppError("gguf/invalid", `GGUF file "${path}" has neither token embeddings nor a vocabulary.`, { path });
  }
  const blocks = widest(file, `${arch}.block_count`);
  return {
    fileBytes: file.fileSize,
    blocks,
    firstBlock,
    embeddingLength: widest(file, `${arch}.embedding_length`),
    feedForwardLength: widest(file, `${arch}.feed_forward_length`),
    headCount: widest(file, `${arch}.attention.head_count`),
    vocabSize,
    trainableParameters: countTrainableParameters(file, lora, firstBlock, blocks),
  };
}
