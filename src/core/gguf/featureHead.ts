import { AppError } from "../errors.js";
import { GgmlType } from "./ggufTypes.js";
import type { GgufTensorInput } from "./writeGguf.js";

/**
 * The feature head: an `output.weight` that turns a model's logits into its last hidden state (after the final
 * norm), so a gate feature can be read from one ordinary decode — the output layer runs for the last token only —
 * instead of an embedding context, where llama.cpp runs the 152k-row output layer for every prompt token
 * (docs/engine.md §8).
 *
 * Rows `2i` and `2i + 1` hold `+FEATURE_HEAD_SCALE` and `−FEATURE_HEAD_SCALE` at column `i`; every other row is
 * zero. So logit `2i` is `s·h[i]`, logit `2i + 1` is `−s·h[i]`, and all the rest are 0: for each `i` one of the pair
 * is ≥ 0, and the top `n_embd + 1` logits hold it for every `i` plus at least one zero, whose log-probability is the
 * softmax's constant (see {@link decodeFeatureHead}). The small scale keeps every logit within float32's softmax
 * range for hidden states up to ±5000.
 *
 * Stored as Q4_0, which holds ±s and 0 exactly (a block's scale is `∓s/8` and its quants 0 or 8) at a quarter of
 * F16's size. ggml multiplies a Q4_0 matrix by the hidden state quantised to Q8_0 in blocks of 32, so a feature
 * carries 8-bit precision relative to the largest value of its block of 32 (measured in docs/method.md §3.4).
 */
export const FEATURE_HEAD_SCALE = 1 / 64;

const QK4_0 = 32;
const Q4_0_BLOCK_BYTES = 18;
/** Rows per yielded chunk: bounded memory for a 152k-row head. */
const ROWS_PER_CHUNK = 4096;

/** Whether a model of this width and vocabulary can carry the head (Q4_0 rows, two rows per value and a zero). */
export function featureHeadFits(nEmbd: number, nVocab: number): boolean {
  return nEmbd > 0 && nEmbd % QK4_0 === 0 && nVocab >= 2 * nEmbd + 1;
}

/** The head as a tensor to write: `[nEmbd, nVocab]` Q4_0. Throws `gguf/invalid` where it does not fit. */
export function featureHeadTensor(nEmbd: number, nVocab: number): GgufTensorInput {
  if (!featureHeadFits(nEmbd, nVocab)) {
    throw new AppError(
      "gguf/invalid",
      `A feature head needs a width divisible by 32 and at least 2 × width + 1 tokens, not ${nEmbd} and ${nVocab}.`,
      { nEmbd, nVocab },
    );
  }
  return { name: "output.weight", dims: [nEmbd, nVocab], type: GgmlType.Q4_0, data: () => headRows(nEmbd, nVocab) };
}

function* headRows(nEmbd: number, nVocab: number): Generator<Uint8Array> {
  const rowBytes = (nEmbd / QK4_0) * Q4_0_BLOCK_BYTES;
  for (let first = 0; first < nVocab; first += ROWS_PER_CHUNK) {
    const rows = Math.min(ROWS_PER_CHUNK, nVocab - first);
    const chunk = new Uint8Array(rows * rowBytes); // zero bytes: scale 0, so every value 0
    const view = new DataView(chunk.buffer);
    for (let r = 0; r < rows; r++) {
      const row = first + r;
      if (row >= 2 * nEmbd) break;
      const column = row >> 1;
      const block = r * rowBytes + Math.floor(column / QK4_0) * Q4_0_BLOCK_BYTES;
      // Value = (q − 8)·d: quant 0 gives −8d = ±s, quant 8 gives 0.
      view.setUint16(block, f16Bits(((row & 1) === 0 ? -1 : 1) * (FEATURE_HEAD_SCALE / 8)), true);
      chunk.fill(0x88, block + 2, block + Q4_0_BLOCK_BYTES);
      // Element j sits in the low nibble of byte j (j < 16), element j + 16 in the high nibble of byte j.
      const j = column % QK4_0;
      const at = block + 2 + (j % 16);
      chunk[at] = j < 16 ? chunk[at]! & 0xf0 : chunk[at]! & 0x0f;
    }
    yield chunk;
  }
}

/** IEEE half-precision bits of a power of two within f16's normal range (all the head needs). */
function f16Bits(x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const exponent = Math.log2(Math.abs(x));
  if (!Number.isInteger(exponent) || exponent < -14 || exponent > 15)
    throw new Error(`${x} is not an f16 power of two`);
  return sign | ((exponent + 15) << 10);
}

/**
 * The hidden state from the top `nEmbd + 1` tokens of the head's softmax (token id → log-probability). Every
 * log-probability is `logit − c` for one constant `c`. At most `nEmbd` logits are positive, so the smallest of the
 * top `nEmbd + 1` is a zero logit and gives `c`. Returns undefined where the top cannot come from a feature head:
 * too few entries, a token past the head's rows with a non-zero logit, or both members of a pair positive.
 */
export function decodeFeatureHead(nEmbd: number, top: ReadonlyMap<number, number>): number[] | undefined {
  if (top.size < nEmbd + 1) return undefined;
  let zero = Infinity;
  for (const logp of top.values()) zero = Math.min(zero, logp);
  const h = new Array<number>(nEmbd).fill(0);
  const seen = new Uint8Array(nEmbd);
  for (const [token, logp] of top) {
    // Zero logits give bit-identical probabilities, so exact comparison is right here.
    if (token >= 2 * nEmbd) {
      if (logp !== zero) return undefined;
      continue;
    }
    if (logp === zero) continue;
    const i = token >> 1;
    if (seen[i]) return undefined;
    seen[i] = 1;
    const value = (logp - zero) / FEATURE_HEAD_SCALE;
    h[i] = (token & 1) === 0 ? value : -value;
  }
  return h;
}
