import { ggufValue, type GgufKv } from "./ggufTypes.js";

/** The llama.cpp architectures whose tensor layouts {@link archTensorSpecs} reproduces. */
export type RealArchitecture = "llama" | "qwen2" | "qwen3" | "gemma3" | "phi3";

/** The shape of a small model in a real architecture's layout. */
export interface ArchShape {
  /** `general.architecture`. */
  architecture: RealArchitecture;
  /** Transformer blocks. */
  blocks: number;
  /** `n_embd`. */
  embeddingLength: number;
  /** Query heads. */
  headCount: number;
  /** Key/value heads (GQA when fewer than `headCount`). */
  headCountKv: number;
  /** Per-head width; written as `attention.key_length`/`value_length` when it is not `n_embd / n_head`. */
  headDim: number;
  /** FFN width (`n_ff`; phi3's fused `ffn_up` is twice as wide). */
  feedForwardLength: number;
  /** Trained context length. */
  contextLength: number;
  /** `rope.freq_base`. */
  ropeFreqBase: number;
  /** `attention.layer_norm_rms_epsilon`. */
  rmsEpsilon: number;
  /** No `output.weight`: llama.cpp reuses `token_embd` for the logits. */
  tiedEmbeddings: boolean;
  /** llama: a `rope_freqs` tensor with Llama 3.1's RoPE scaling factors (as convert_hf_to_gguf.py makes). */
  llama3RopeFactors?: boolean;
  /** gemma3: `attention.sliding_window` and `sliding_window_pattern` (every n-th block is global). */
  slidingWindow?: { size: number; pattern: number; freqBaseSwa: number };
}

/** What a tensor is filled with. */
export type TensorInit =
  { kind: "normal"; std: number } | { kind: "ones" } | { kind: "zeros" } | { kind: "values"; values: Float32Array };

/** A tensor of a model: name, dims in ggml order (`ne[0]` innermost), init; 1-D tensors are F32, 2-D F16. */
export interface ArchTensorSpec {
  name: string;
  dims: [number] | [number, number];
  init: TensorInit;
}

/**
 * The tensors llama.cpp's loader creates for `shape.architecture` (its `load_arch_tensors`), in the order
 * convert_hf_to_gguf.py writes them, with the optional ones each vendor's checkpoints carry:
 *
 * - llama: `attn_q/k/v/output`, `ffn_gate/up/down`; optional `output` and `rope_freqs` (Llama 3.1+);
 * - qwen2: llama plus `attn_q/k/v.bias`;
 * - qwen3: llama plus `attn_q_norm`/`attn_k_norm` (`[head_dim]`), head_dim independent of n_embd;
 * - gemma3: qwen3's q/k norms plus `post_attention_norm` and `post_ffw_norm`;
 * - phi3: fused `attn_qkv` (`[n_embd, n_embd + 2·n_embd_kv]`) and fused gate-up `ffn_up` (`[n_embd, 2·n_ff]`),
 *   no `ffn_gate`.
 *
 * Init: norms 1, biases 0, `token_embd` σ 1 (1/√n_embd when tied to the output), `output` σ 2/√n_embd, other
 * matrices σ 1/√fan_in.
 */
export function archTensorSpecs(shape: ArchShape, vocabSize: number): ArchTensorSpec[] {
  const { architecture: arch, embeddingLength: n, feedForwardLength: ff, headDim } = shape;
  const q = headDim * shape.headCount;
  const kv = headDim * shape.headCountKv;
  const ones = (name: string, size: number): ArchTensorSpec => ({ name, dims: [size], init: { kind: "ones" } });
  const zeros = (name: string, size: number): ArchTensorSpec => ({ name, dims: [size], init: { kind: "zeros" } });
  const matrix = (name: string, nIn: number, nOut: number): ArchTensorSpec => ({
    name,
    dims: [nIn, nOut],
    init: { kind: "normal", std: 1 / Math.sqrt(nIn) },
  });

  const specs: ArchTensorSpec[] = [
    // Tied: the same matrix makes the logits, so at σ 1 the residual's copy of the last input token outweighs the
    // blocks and a random model repeats its last prompt token ("\n") forever; σ 1/√n_embd gives varied text.
    {
      name: "token_embd.weight",
      dims: [n, vocabSize],
      init: { kind: "normal", std: shape.tiedEmbeddings ? 1 / Math.sqrt(n) : 1 },
    },
  ];
  if (shape.llama3RopeFactors) {
    specs.push({
      name: "rope_freqs.weight",
      dims: [headDim / 2],
      init: { kind: "values", values: llama3RopeFactors(headDim, shape.ropeFreqBase) },
    });
  }
  for (let b = 0; b < shape.blocks; b++) {
    const p = `blk.${b}.`;
    specs.push(ones(`${p}attn_norm.weight`, n));
    if (arch === "phi3") specs.push(matrix(`${p}attn_qkv.weight`, n, q + 2 * kv));
    else {
      specs.push(matrix(`${p}attn_q.weight`, n, q), matrix(`${p}attn_k.weight`, n, kv));
      specs.push(matrix(`${p}attn_v.weight`, n, kv));
    }
    if (arch === "qwen2")
      specs.push(zeros(`${p}attn_q.bias`, q), zeros(`${p}attn_k.bias`, kv), zeros(`${p}attn_v.bias`, kv));
    if (arch === "qwen3" || arch === "gemma3") {
      specs.push(ones(`${p}attn_q_norm.weight`, headDim), ones(`${p}attn_k_norm.weight`, headDim));
    }
    specs.push(matrix(`${p}attn_output.weight`, q, n));
    if (arch === "gemma3") specs.push(ones(`${p}post_attention_norm.weight`, n));
    specs.push(ones(`${p}ffn_norm.weight`, n));
    if (arch === "phi3") specs.push(matrix(`${p}ffn_up.weight`, n, 2 * ff));
    else specs.push(matrix(`${p}ffn_gate.weight`, n, ff), matrix(`${p}ffn_up.weight`, n, ff));
    specs.push(matrix(`${p}ffn_down.weight`, ff, n));
    if (arch === "gemma3") specs.push(ones(`${p}post_ffw_norm.weight`, n));
  }
  specs.push(ones("output_norm.weight", n));
  if (!shape.tiedEmbeddings) {
    specs.push({ name: "output.weight", dims: [n, vocabSize], init: { kind: "normal", std: 2 / Math.sqrt(n) } });
  }
  return specs;
}

/** The hyper-parameter KVs (`<arch>.*`) llama.cpp's `load_hparams` reads for `shape`. */
export function archHparamKvs(shape: ArchShape, vocabSize: number): GgufKv[] {
  const a = shape.architecture;
  const kvs: GgufKv[] = [
    { key: `${a}.context_length`, value: ggufValue.u32(shape.contextLength) },
    { key: `${a}.embedding_length`, value: ggufValue.u32(shape.embeddingLength) },
    { key: `${a}.block_count`, value: ggufValue.u32(shape.blocks) },
    { key: `${a}.feed_forward_length`, value: ggufValue.u32(shape.feedForwardLength) },
    { key: `${a}.attention.head_count`, value: ggufValue.u32(shape.headCount) },
    { key: `${a}.attention.head_count_kv`, value: ggufValue.u32(shape.headCountKv) },
    { key: `${a}.rope.freq_base`, value: ggufValue.f32(shape.ropeFreqBase) },
    { key: `${a}.attention.layer_norm_rms_epsilon`, value: ggufValue.f32(shape.rmsEpsilon) },
  ];
  if (shape.headDim * shape.headCount !== shape.embeddingLength) {
    kvs.push(
      { key: `${a}.attention.key_length`, value: ggufValue.u32(shape.headDim) },
      { key: `${a}.attention.value_length`, value: ggufValue.u32(shape.headDim) },
    );
  }
  if (a === "llama" || a === "phi3") {
    kvs.push({ key: `${a}.rope.dimension_count`, value: ggufValue.u32(shape.headDim) });
  }
  if (a === "llama") kvs.push({ key: `${a}.vocab_size`, value: ggufValue.u32(vocabSize) });
  if (shape.slidingWindow) {
    const swa = shape.slidingWindow;
    kvs.push(
      { key: `${a}.attention.sliding_window`, value: ggufValue.u32(swa.size) },
      { key: `${a}.attention.sliding_window_pattern`, value: ggufValue.u32(swa.pattern) },
      { key: `${a}.rope.freq_base_swa`, value: ggufValue.f32(swa.freqBaseSwa) },
    );
  }
  return kvs;
}

/**
 * Llama 3.1's RoPE scaling factors per frequency (factor 8, low/high frequency factors 1 and 4, original
 * context 8192), computed as convert_hf_to_gguf.py does for `rope_type: llama3`.
 */
export function llama3RopeFactors(headDim: number, base: number): Float32Array {
  const factor = 8;
  const low = 1;
  const high = 4;
  const oldContext = 8192;
  const lowWavelen = oldContext / low;
  const highWavelen = oldContext / high;
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < out.length; i++) {
    const freq = 1 / Math.pow(base, (2 * i) / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = (oldContext / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}
