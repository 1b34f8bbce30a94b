/**
 * The feature head (src/core/gguf/featureHead.ts): its Q4_0 rows dequantise to ±s at the pair's column and 0
 * elsewhere, and the hidden state comes back exactly from the top n_embd + 1 entries of the softmax of its logits,
 * computed here the way llama.cpp's top-k → temperature 1 chain computes them.
 */
import { describe, expect, it } from "vitest";
import {
  decodeFeatureHead,
  FEATURE_HEAD_SCALE,
  featureHeadFits,
  featureHeadTensor,
} from "../../../src/core/gguf/featureHead.js";
import { GgmlType } from "../../../src/core/gguf/ggufTypes.js";
import { SeededRandom } from "../../../src/core/util/SeededRandom.js";

const N_EMBD = 64;
const N_VOCAB = 300;

/** The head's matrix, dequantised from the bytes the writer streams (Q4_0: f16 scale d, value = (q − 8)·d). */
async function dequantisedHead(nEmbd: number, nVocab: number): Promise<Float64Array[]> {
  const tensor = featureHeadTensor(nEmbd, nVocab);
  expect(tensor).toMatchObject({ name: "output.weight", dims: [nEmbd, nVocab], type: GgmlType.Q4_0 });
  const parts: Uint8Array[] = [];
  const data = typeof tensor.data === "function" ? tensor.data() : tensor.data;
  for await (const part of data as AsyncIterable<Uint8Array> | Iterable<Uint8Array>) parts.push(part);
  const bytes = Buffer.concat(parts);
  const rowBytes = (nEmbd / 32) * 18;
  expect(bytes.length).toBe(rowBytes * nVocab);
  return Array.from({ length: nVocab }, (_, r) => {
    const row = new Float64Array(nEmbd);
    for (let b = 0; b < nEmbd / 32; b++) {
      const at = r * rowBytes + b * 18;
      const d = f16(bytes.readUInt16LE(at));
      for (let j = 0; j < 16; j++) {
        const q = bytes[at + 2 + j]!;
        row[b * 32 + j] = ((q & 0x0f) - 8) * d;
        row[b * 32 + j + 16] = ((q >> 4) - 8) * d;
      }
    }
    return row;
  });
}

function f16(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** llama.cpp's top-k → temperature 1 → softmax over the k, as log-probabilities in float32. */
function topKLogProbs(logits: number[], k: number): Map<number, number> {
  const order = logits
    .map((z, i) => [z, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, k);
  const max = order[0]![0];
  const sum = order.reduce((s, [z]) => s + Math.exp(z - max), 0);
  return new Map(order.map(([z, i]) => [i, Math.log(Math.fround(Math.exp(z - max) / sum))]));
}

describe("feature head", () => {
  it("holds +s and −s at each value's pair of rows and zero everywhere else", async () => {
    const w = await dequantisedHead(N_EMBD, N_VOCAB);
    for (let r = 0; r < N_VOCAB; r++) {
      for (let c = 0; c < N_EMBD; c++) {
        const expected = r < 2 * N_EMBD && c === r >> 1 ? (r % 2 === 0 ? 1 : -1) * FEATURE_HEAD_SCALE : 0;
        if (w[r]![c] !== expected) throw new Error(`row ${r} column ${c}: ${w[r]![c]} instead of ${expected}`);
      }
    }
  });

  it("gives the hidden state back from the top n_embd + 1 of its softmax, signs and zeros included", async () => {
    const w = await dequantisedHead(N_EMBD, N_VOCAB);
    const rng = new SeededRandom(7);
    const h = Array.from({ length: N_EMBD }, (_, i) => (i === 5 ? 0 : i === 9 ? 400 : rng.normal() * 3));
    const logits = w.map((row) => row.reduce((s, v, c) => s + v * h[c]!, 0));
    const decoded = decodeFeatureHead(N_EMBD, topKLogProbs(logits, N_EMBD + 1))!;
    expect(decoded).toHaveLength(N_EMBD);
    for (let i = 0; i < N_EMBD; i++) expect(decoded[i]).toBeCloseTo(h[i]!, 3);
    expect(decoded[5]).toBe(0);
  });

  it("refuses a top that cannot come from the head", () => {
    const rng = new SeededRandom(3);
    const ordinary = Array.from({ length: N_VOCAB }, () => rng.normal());
    expect(decodeFeatureHead(N_EMBD, topKLogProbs(ordinary, N_EMBD + 1))).toBeUndefined();
    // too few entries to hold a zero logit
    const h = Array.from({ length: 2 * N_EMBD }, (_, r) => (r % 2 === 0 ? 1 : -1));
    expect(decodeFeatureHead(N_EMBD, topKLogProbs([...h, ...new Array(N_VOCAB - 2 * N_EMBD).fill(0)], N_EMBD))).toBe(
      undefined,
    );
    // both members of a pair positive
    const both = new Map([
      [0, -1],
      [1, -1],
      [200, -3],
      ...Array.from({ length: N_EMBD - 2 }, (_, i) => [300 + i, -3] as [number, number]),
    ]);
    expect(decodeFeatureHead(N_EMBD, both)).toBeUndefined();
  });

  it("fits widths divisible by 32 with at least 2 × width + 1 tokens, and refuses others with a coded error", () => {
    expect(featureHeadFits(896, 151_936)).toBe(true);
    expect(featureHeadFits(64, 129)).toBe(true);
    expect(featureHeadFits(64, 128)).toBe(false);
    expect(featureHeadFits(48, 1000)).toBe(false);
    expect(() => featureHeadTensor(48, 1000)).toThrow(expect.objectContaining({ code: "gguf/invalid" }));
  });
});
