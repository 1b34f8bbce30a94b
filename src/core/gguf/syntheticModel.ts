import { AppError } from "../errors.js";
import { SeededRandom } from "../util/SeededRandom.js";
import { encodeFloat16 } from "./float16.js";
import { GgmlType, GgufValueType, ggufValue, type GgufKv } from "./ggufTypes.js";
import { readGguf, requireGgufValue } from "./readGguf.js";
import { CHATML_TEMPLATE, buildSyntheticVocab, type SyntheticVocabKind } from "./syntheticVocab.js";
import { writeGguf, type GgufTensorInput, type WriteGgufOptions } from "./writeGguf.js";

/** The shape of a synthetic llama model. */
export interface SyntheticModelShape {
  /** Transformer blocks. Defaults to 2. */
  blocks: number;
  /** `n_embd`. Defaults to 64. */
  embeddingLength: number;
  /** Attention heads. Defaults to 4. */
  headCount: number;
  /** Key/value heads (GQA when fewer than `headCount`). Defaults to 4. */
  headCountKv: number;
  /** FFN width. Defaults to 128. */
  feedForwardLength: number;
  /** Trained context length. Defaults to 256. */
  contextLength: number;
  /** Type of the 2-D weights; 1-D norms are always F32. Defaults to "f32". */
  weightType: "f32" | "f16";
  /** Byte-level vocabulary (see `buildSyntheticVocab`). Defaults to "gpt2-bytes". */
  vocab: SyntheticVocabKind;
}

/** Options of {@link writeSyntheticModel}. */
export interface SyntheticModelOptions extends Partial<SyntheticModelShape>, WriteGgufOptions {
  /** PRNG seed; same options and seed, same bytes. Defaults to 1. */
  seed?: number;
  /**
   * `tokenizer.chat_template`: a ChatML template (resolved to node-llama-cpp's ChatML wrapper), or none (it then
   * falls back to Llama2Chat). Defaults to "chatml".
   */
  chatTemplate?: "chatml" | "none";
  /**
   * `general.architecture` and the prefix of the hyper-parameter keys; an unknown name makes an unloadable
   * "unsupported architecture" fixture. Defaults to "llama".
   */
  architecture?: string;
  /** Spell two tokens identically; llama.cpp then aborts the process with exit code 134. Defaults to false. */
  duplicateVocab?: boolean;
  /**
   * `general.name`. Avoid names containing e.g. "llama 3": node-llama-cpp picks chat wrappers by model name.
   * Defaults to "prism-synthetic".
   */
  name?: string;
}

/** What {@link writeSyntheticModel} wrote. */
export interface SyntheticModelInfo {
  /** The file written. */
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** Number of weights, norms included. */
  parameterCount: number;
  /** Number of tensors. */
  tensorCount: number;
  /** Vocabulary size. */
  vocabSize: number;
  /** The hyper-parameters used. */
  shape: SyntheticModelShape;
}

/** The tiny test model of docs/engine.md §10: 2 blocks, n_embd 64, 4 heads, FFN 128, context 256, F32, 468 KB. */
export const TINY_MODEL: Readonly<SyntheticModelShape> = Object.freeze({
  blocks: 2,
  embeddingLength: 64,
  headCount: 4,
  headCountKv: 4,
  feedForwardLength: 128,
  contextLength: 256,
  weightType: "f32",
  vocab: "gpt2-bytes",
});

/** A realistically shaped bench model: 12 blocks, n_embd 1024, GQA 16/4, FFN 2816, F16; 135M parameters, 270 MB. */
export const BENCH_MODEL: Readonly<SyntheticModelShape> = Object.freeze({
  blocks: 12,
  embeddingLength: 1024,
  headCount: 16,
  headCountKv: 4,
  feedForwardLength: 2816,
  contextLength: 2048,
  weightType: "f16",
  vocab: "gpt2-bytes",
});

/** A tensor of a llama model, with the standard deviation of its init (0 for norms, which are all ones). */
export interface LlamaTensorSpec {
  name: string;
  dims: [number] | [number, number];
  std: number;
}

/**
 * The tensors of a llama model of `shape`, in file order: `token_embd`, `output_norm`, `output`, then per block
 * the attention and FFN weights. Init per docs/engine.md §10: norms 1; `token_embd` σ 1; `output` σ 2/√n_embd;
 * every other matrix σ 1/√fan_in with fan_in = `ne[0]`.
 */
export function llamaTensorSpecs(shape: SyntheticModelShape, vocabSize: number): LlamaTensorSpec[] {
  const { embeddingLength: n, feedForwardLength: ff, headCount, headCountKv } = shape;
  const kv = (n / headCount) * headCountKv;
  const matrix = (name: string, nIn: number, nOut: number): LlamaTensorSpec => ({
    name,
    dims: [nIn, nOut],
    std: 1 / Math.sqrt(nIn),
  });
  const specs: LlamaTensorSpec[] = [
    { name: "token_embd.weight", dims: [n, vocabSize], std: 1 },
    { name: "output_norm.weight", dims: [n], std: 0 },
    { name: "output.weight", dims: [n, vocabSize], std: 2 / Math.sqrt(n) },
  ];
  for (let b = 0; b < shape.blocks; b++) {
    const p = `blk.${b}.`;
    specs.push(
      { name: `${p}attn_norm.weight`, dims: [n], std: 0 },
      matrix(`${p}attn_q.weight`, n, n),
      matrix(`${p}attn_k.weight`, n, kv),
      matrix(`${p}attn_v.weight`, n, kv),
      matrix(`${p}attn_output.weight`, n, n),
      { name: `${p}ffn_norm.weight`, dims: [n], std: 0 },
      matrix(`${p}ffn_gate.weight`, n, ff),
      matrix(`${p}ffn_up.weight`, n, ff),
      matrix(`${p}ffn_down.weight`, ff, n),
    );
  }
  return specs;
}

/** Above this many parameters weights come from the pooled sampler (see {@link writeSyntheticModel}). */
const EXACT_SAMPLING_LIMIT = 16_000_000;
/** Pooled sampling: 2^20 normals, copied in windows of 4096 from seeded random offsets. */
const POOL_SIZE = 1 << 20;
const POOL_WINDOW = 4096;

/**
 * Writes a deterministic llama-architecture GGUF with random weights (defaults: {@link TINY_MODEL}).
 *
 * Each tensor has its own generator derived from the seed and the tensor's name, so tensors are generated lazily,
 * one at a time, while the file streams out. Models up to 16M parameters get an independent normal sample per
 * weight. Bigger ones (the 135M {@link BENCH_MODEL}) would spend several seconds in Box-Muller, so they copy
 * windows of a seeded pool of 2^20 normals scaled per tensor (pre-converted to F16 when the weights are F16):
 * the weights are then reused across windows, which is irrelevant for timing and memory benchmarks, and the file
 * is still byte-identical for the same seed.
 *
 * Errors: `gguf/writeFailed` (see `writeGguf`).
 */
export async function writeSyntheticModel(
  path: string,
  options: SyntheticModelOptions = {},
): Promise<SyntheticModelInfo> {
  const shape: SyntheticModelShape = {
    blocks: options.blocks ?? TINY_MODEL.blocks,
    embeddingLength: options.embeddingLength ?? TINY_MODEL.embeddingLength,
    headCount: options.headCount ?? TINY_MODEL.headCount,
    headCountKv: options.headCountKv ?? TINY_MODEL.headCountKv,
    feedForwardLength: options.feedForwardLength ?? TINY_MODEL.feedForwardLength,
    contextLength: options.contextLength ?? TINY_MODEL.contextLength,
    weightType: options.weightType ?? TINY_MODEL.weightType,
    vocab: options.vocab ?? TINY_MODEL.vocab,
  };
  checkShape(path, shape);
  const arch = options.architecture ?? "llama";
  const vocab = buildSyntheticVocab(shape.vocab, options.duplicateVocab ?? false);
  const specs = llamaTensorSpecs(shape, vocab.size);
  const parameterCount = specs.reduce((sum, s) => sum + s.dims.reduce((a, b) => a * b, 1), 0);
  const rng = new SeededRandom(options.seed ?? 1);
  const sampler = parameterCount <= EXACT_SAMPLING_LIMIT ? null : new PooledSampler(rng.fork("pool"));
  const f16 = shape.weightType === "f16";

  const tensors: GgufTensorInput[] = specs.map((spec) => {
    const count = spec.dims.reduce((a, b) => a * b, 1);
    if (spec.std === 0)
      return { name: spec.name, dims: spec.dims, type: GgmlType.F32, data: () => new Float32Array(count).fill(1) };
    const tensorRng = rng.fork(spec.name);
    const type = f16 ? GgmlType.F16 : GgmlType.F32;
    const data = sampler
      ? () => (f16 ? sampler.f16Bytes(tensorRng, count, spec.std) : sampler.f32(tensorRng, count, spec.std))
      : () => tensorRng.fillNormal(new Float32Array(count), spec.std);
    return { name: spec.name, dims: spec.dims, type, data };
  });

  const kvs: GgufKv[] = [
    { key: "general.architecture", value: ggufValue.string(arch) },
    { key: "general.type", value: ggufValue.string("model") },
    { key: "general.name", value: ggufValue.string(options.name ?? "prism-synthetic") },
    // ggml's LLAMA_FTYPE: 0 = all F32, 1 = mostly F16.
    { key: "general.file_type", value: ggufValue.u32(f16 ? 1 : 0) },
    { key: `${arch}.context_length`, value: ggufValue.u32(shape.contextLength) },
    { key: `${arch}.embedding_length`, value: ggufValue.u32(shape.embeddingLength) },
    { key: `${arch}.block_count`, value: ggufValue.u32(shape.blocks) },
    { key: `${arch}.feed_forward_length`, value: ggufValue.u32(shape.feedForwardLength) },
    { key: `${arch}.rope.dimension_count`, value: ggufValue.u32(shape.embeddingLength / shape.headCount) },
    { key: `${arch}.rope.freq_base`, value: ggufValue.f32(10000) },
    { key: `${arch}.attention.head_count`, value: ggufValue.u32(shape.headCount) },
    { key: `${arch}.attention.head_count_kv`, value: ggufValue.u32(shape.headCountKv) },
    { key: `${arch}.attention.layer_norm_rms_epsilon`, value: ggufValue.f32(1e-5) },
    ...vocab.kvs,
  ];
  if ((options.chatTemplate ?? "chatml") === "chatml") {
    kvs.push({ key: "tokenizer.chat_template", value: ggufValue.string(CHATML_TEMPLATE) });
  }
  const written = await writeGguf(path, { kvs, tensors }, { signal: options.signal });
  return { path, bytes: written.bytes, parameterCount, tensorCount: tensors.length, vocabSize: vocab.size, shape };
}

/** Rejects shapes llama.cpp could not load, before anything is written. */
function checkShape(path: string, shape: SyntheticModelShape): void {
  const sizes = [shape.blocks, shape.embeddingLength, shape.headCount, shape.headCountKv, shape.feedForwardLength];
  const problem = !sizes.concat(shape.contextLength).every((n) => Number.isInteger(n) && n > 0)
    ? "every size must be a positive integer"
    : shape.embeddingLength % shape.headCount !== 0
      ? "headCount must divide embeddingLength"
      : shape.headCount % shape.headCountKv !== 0
        ? "headCountKv must divide headCount"
        : undefined;
  if (problem) {
    throw new AppError("gguf/writeFailed", `Failed to write GGUF file "${path}": invalid model shape: ${problem}.`, {
      path,
      shape,
    });
  }
}

/** Fast normal weights for big models: windows of one seeded pool (see {@link writeSyntheticModel}). */
class PooledSampler {
  private readonly pool: Float32Array;
  private readonly f16Pools = new Map<number, Uint8Array>();

  constructor(rng: SeededRandom) {
    this.pool = rng.fillNormal(new Float32Array(POOL_SIZE));
  }

  f32(rng: SeededRandom, count: number, std: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += POOL_WINDOW) {
      const n = Math.min(POOL_WINDOW, count - i);
      const start = rng.int(POOL_SIZE - n);
      for (let j = 0; j < n; j++) out[i + j] = (this.pool[start + j] ?? 0) * std;
    }
    return out;
  }

  f16Bytes(rng: SeededRandom, count: number, std: number): Uint8Array {
    let half = this.f16Pools.get(std);
    if (!half) {
      half = new Uint8Array(POOL_SIZE * 2);
      encodeFloat16(this.f32Scaled(std), half);
      this.f16Pools.set(std, half);
    }
    const out = new Uint8Array(count * 2);
    for (let i = 0; i < count; i += POOL_WINDOW) {
      const n = Math.min(POOL_WINDOW, count - i);
      const start = rng.int(POOL_SIZE - n);
      out.set(half.subarray(start * 2, (start + n) * 2), i * 2);
    }
    return out;
  }

  private f32Scaled(std: number): Float32Array {
    const scaled = new Float32Array(POOL_SIZE);
    for (let i = 0; i < POOL_SIZE; i++) scaled[i] = (this.pool[i] ?? 0) * std;
    return scaled;
  }
}

/** The projections a LoRA adapter can target, by ggml tensor name within a block. */
export type LoraTarget = "attn_q" | "attn_k" | "attn_v" | "attn_output" | "ffn_gate" | "ffn_up" | "ffn_down";

/** All seven projections of a llama block. */
export const ALL_LORA_TARGETS: readonly LoraTarget[] = Object.freeze([
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_output",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
]);

/** Options of {@link writeSyntheticAdapter}. */
export interface SyntheticAdapterOptions extends WriteGgufOptions {
  /**
   * The base: a GGUF path (preferred: its shapes and architecture are read, so the adapter fits any base, real
   * or quantized) or a synthetic shape. Defaults to {@link TINY_MODEL}.
   */
  base?: string | Partial<SyntheticModelShape>;
  /** LoRA rank r. Defaults to 4. */
  rank?: number;
  /** `adapter.lora.alpha`; effective scale is `scale × alpha / r`. Defaults to 8. */
  alpha?: number;
  /** Projections to adapt. Defaults to all seven ({@link ALL_LORA_TARGETS}). */
  targets?: readonly LoraTarget[];
  /** First block adapted; blocks before it get no tensors. Defaults to 0. */
  firstBlock?: number;
  /** PRNG seed. Defaults to 1. */
  seed?: number;
  /** σ of B. Non-zero (unlike a fresh trainer's zero B) so the adapter visibly changes outputs. Defaults to 0.5. */
  bStd?: number;
  /** `general.architecture`; a value unlike the base's makes an "arch mismatch" fixture. Defaults to the base's. */
  architecture?: string;
  /** Leave out `general.type` for a "not an adapter" fixture. Defaults to false. */
  omitGeneralType?: boolean;
  /** Give every B one output row too many for a "wrong shape" fixture. Defaults to false. */
  shapeMismatch?: boolean;
}

/** What {@link writeSyntheticAdapter} wrote. */
export interface SyntheticAdapterInfo {
  /** The file written. */
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** Number of tensors (two per adapted projection). */
  tensorCount: number;
  /** The architecture written. */
  architecture: string;
}

/**
 * Writes a LoRA adapter GGUF in the format llama.cpp v0.4.0 loads (docs/engine.md §6): `general.type = adapter`,
 * `general.architecture`, `adapter.type = lora`, `adapter.lora.alpha` (f32); for each base weight with
 * `ne = [n_in, n_out]`, `<name>.lora_a` with `ne = [n_in, r]` (σ 1/√n_in) and `<name>.lora_b` with
 * `ne = [r, n_out]` (σ `bStd`), all F32.
 *
 * Errors: `gguf/*` from reading the base; `gguf/writeFailed`.
 */
export async function writeSyntheticAdapter(
  path: string,
  options: SyntheticAdapterOptions = {},
): Promise<SyntheticAdapterInfo> {
  const rank = options.rank ?? 4;
  const targets = new Set<string>(options.targets ?? ALL_LORA_TARGETS);
  const firstBlock = options.firstBlock ?? 0;
  const { architecture: baseArch, weights } = await baseWeights(options.base ?? {});
  const architecture = options.architecture ?? baseArch;
  const rng = new SeededRandom(options.seed ?? 1);
  const tensors: GgufTensorInput[] = [];
  for (const w of weights) {
    const match = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(w.name);
    if (!match || Number(match[1]) < firstBlock || !targets.has(match[2] ?? "") || w.dims.length !== 2) continue;
    const [nIn = 0, nOut = 0] = w.dims;
    const bOut = options.shapeMismatch ? nOut + 1 : nOut;
    const a = rng.fork(`${w.name}.lora_a`);
    const b = rng.fork(`${w.name}.lora_b`);
    tensors.push(
      {
        name: `${w.name}.lora_a`,
        dims: [nIn, rank],
        type: GgmlType.F32,
        data: () => a.fillNormal(new Float32Array(nIn * rank), 1 / Math.sqrt(nIn)),
      },
      {
        name: `${w.name}.lora_b`,
        dims: [rank, bOut],
        type: GgmlType.F32,
        data: () => b.fillNormal(new Float32Array(rank * bOut), options.bStd ?? 0.5),
      },
    );
  }
  const kvs: GgufKv[] = [{ key: "general.architecture", value: ggufValue.string(architecture) }];
  if (!options.omitGeneralType) kvs.push({ key: "general.type", value: ggufValue.string("adapter") });
  kvs.push(
    { key: "adapter.type", value: ggufValue.string("lora") },
    { key: "adapter.lora.alpha", value: ggufValue.f32(options.alpha ?? 8) },
  );
  const written = await writeGguf(path, { kvs, tensors }, { signal: options.signal });
  return { path, bytes: written.bytes, tensorCount: tensors.length, architecture };
}

async function baseWeights(
  base: string | Partial<SyntheticModelShape>,
): Promise<{ architecture: string; weights: { name: string; dims: readonly number[] }[] }> {
  if (typeof base === "string") {
    const file = await readGguf(base);
    return {
      architecture: requireGgufValue(file, "general.architecture", GgufValueType.String),
      weights: file.tensors,
    };
  }
  const shape = { ...TINY_MODEL, ...base };
  return { architecture: "llama", weights: llamaTensorSpecs(shape, 0) };
}
