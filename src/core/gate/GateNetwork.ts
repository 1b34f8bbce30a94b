import type { SeededRandom } from "../util/SeededRandom.js";
import type { GateWeights } from "./Gate.js";
import { gelu, geluDerivative, type GateActivation } from "./gelu.js";

/** AdamW hyper-parameters of one step. */
export interface AdamWStep {
  /** Learning rate of this step (already scheduled). */
  lr: number;
  /** Decoupled weight decay. */
  weightDecay: number;
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Denominator guard. */
  eps: number;
}

/**
 * The gate MLP in training form: float64 parameters in one flat buffer (w1, b1, w2, b2, w3, b3) with gradients and
 * AdamW moments alongside, mini-batch forward and backward passes over standardised feature rows, and conversion to
 * float32 {@link GateWeights}. Every sum runs in a fixed order, so training is bit-reproducible.
 */
export class GateNetwork {
  /** All parameters; the layer views below alias it. */
  readonly params: Float64Array;
  /** The gradient from the last {@link backward}, laid out like {@link params}. */
  readonly grads: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private step = 0;
  private readonly w1: Float64Array;
  /** Row views of w1 and of its gradient: per-row typed arrays make V8's inner loops markedly faster. */
  private readonly w1Rows: Float64Array[];
  private readonly g1Rows: Float64Array[];
  private readonly b1: Float64Array;
  private readonly w2: Float64Array;
  private readonly b2: Float64Array;
  private readonly w3: Float64Array;
  private readonly offsets: { w1: number; b1: number; w2: number; b2: number; w3: number; b3: number };
  // Per-batch activations, sized for the largest batch and reused.
  private z1 = new Float64Array(0);
  private a1 = new Float64Array(0);
  private z2 = new Float64Array(0);
  private a2 = new Float64Array(0);
  private d1 = new Float64Array(0);
  private d2 = new Float64Array(0);

  /**
   * He-initialised weights (normal, std √(2 / fan-in), suited to GELU) for the hidden layers, LeCun (std
   * √(1 / fan-in)) for the output layer so the first logits are moderate, and zero biases.
   */
  constructor(
    readonly inputSize: number,
    readonly hidden: readonly [number, number],
    readonly activation: GateActivation,
    rng: SeededRandom,
  ) {
    const [h1, h2] = hidden;
    const sizes = { w1: h1 * inputSize, b1: h1, w2: h2 * h1, b2: h2, w3: h2, b3: 1 };
    let at = 0;
    const offsets = { w1: 0, b1: 0, w2: 0, b2: 0, w3: 0, b3: 0 };
    for (const key of ["w1", "b1", "w2", "b2", "w3", "b3"] as const) {
      offsets[key] = at;
      at += sizes[key];
    }
    this.offsets = offsets;
    this.params = new Float64Array(at);
    this.grads = new Float64Array(at);
    this.m = new Float64Array(at);
    this.v = new Float64Array(at);
    const view = (key: keyof typeof sizes): Float64Array =>
      this.params.subarray(offsets[key], offsets[key] + sizes[key]);
    this.w1 = view("w1");
    const rowsOf = (buffer: Float64Array): Float64Array[] =>
      Array.from({ length: h1 }, (_, j) => buffer.subarray(j * inputSize, (j + 1) * inputSize));
    this.w1Rows = rowsOf(this.w1);
    this.g1Rows = rowsOf(this.grads.subarray(offsets.w1, offsets.w1 + sizes.w1));
    this.b1 = view("b1");
    this.w2 = view("w2");
    this.b2 = view("b2");
    this.w3 = view("w3");
    fillNormal(this.w1, rng.fork("w1"), Math.sqrt(2 / inputSize));
    fillNormal(this.w2, rng.fork("w2"), Math.sqrt(2 / h1));
    fillNormal(this.w3, rng.fork("w3"), Math.sqrt(1 / h2));
  }

  /**
   * Logits for the first `count` standardised feature rows of `inputs` (each `inputSize` wide). The hidden
   * activations stay in scratch buffers for {@link backward}.
   */
  forward(inputs: readonly Float64Array[], count: number, logits: Float64Array): void {
    const { hidden, activation, w2, b1, b2, w3, params } = this;
    const [h1, h2] = hidden;
    this.ensureScratch(count);
    const { z1, a1, z2, a2 } = this;
    firstLayer(this.w1Rows, inputs, count, h1, z1);
    for (let b = 0; b < count; b++) {
      for (let j = 0; j < h1; j++) {
        const z = b1[j] + z1[b * h1 + j];
        z1[b * h1 + j] = z;
        a1[b * h1 + j] = gelu(z, activation);
      }
      for (let k = 0, wRow = 0; k < h2; k++, wRow += h1) {
        let s = 0;
        for (let j = 0; j < h1; j++) s += w2[wRow + j] * a1[b * h1 + j];
        const z = b2[k] + s;
        z2[b * h2 + k] = z;
        a2[b * h2 + k] = gelu(z, activation);
      }
      let s = 0;
      for (let k = 0; k < h2; k++) s += w3[k] * a2[b * h2 + k];
      logits[b] = params[this.offsets.b3] + s;
    }
  }

  /**
   * Gradients of `Σ dLogits[b] · logit[b]` for the batch of the last {@link forward} call, written (not added) to
   * the gradient buffer. For mean BCE, `dLogits[b] = (σ(logit[b]) − label[b]) / count`.
   */
  backward(inputs: readonly Float64Array[], count: number, dLogits: Float64Array): void {
    const { hidden, activation, w2, w3, grads, offsets } = this;
    const [h1, h2] = hidden;
    const { z1, a1, z2, a2, d1, d2 } = this;
    grads.fill(0);
    for (let b = 0; b < count; b++) {
      const g = dLogits[b];
      grads[offsets.b3] += g;
      for (let k = 0; k < h2; k++) {
        grads[offsets.w3 + k] += g * a2[b * h2 + k];
        d2[b * h2 + k] = g * w3[k] * geluDerivative(z2[b * h2 + k], activation);
      }
    }
    for (let b = 0; b < count; b++) {
      for (let j = 0; j < h1; j++) d1[b * h1 + j] = 0;
      for (let k = 0, wRow = 0; k < h2; k++, wRow += h1) {
        const d = d2[b * h2 + k];
        grads[offsets.b2 + k] += d;
        const gRow = offsets.w2 + wRow;
        for (let j = 0; j < h1; j++) {
          grads[gRow + j] += d * a1[b * h1 + j];
          d1[b * h1 + j] += d * w2[wRow + j];
        }
      }
      for (let j = 0; j < h1; j++) {
        const d = d1[b * h1 + j] * geluDerivative(z1[b * h1 + j], activation);
        d1[b * h1 + j] = d;
        grads[offsets.b1 + j] += d;
      }
    }
    firstLayerGradient(this.g1Rows, inputs, count, h1, d1);
  }

  /** One AdamW update from the current gradients, as PyTorch's `AdamW` (decay applied to every parameter). */
  adamW({ lr, weightDecay, beta1, beta2, eps }: AdamWStep): void {
    const { params, grads, m, v } = this;
    this.step++;
    const stepSize = lr / (1 - beta1 ** this.step);
    const sqrtCorrection2 = Math.sqrt(1 - beta2 ** this.step);
    const decay = 1 - lr * weightDecay;
    for (let p = 0; p < params.length; p++) {
      const g = grads[p];
      const mp = beta1 * m[p] + (1 - beta1) * g;
      const vp = beta2 * v[p] + (1 - beta2) * g * g;
      m[p] = mp;
      v[p] = vp;
      params[p] = params[p] * decay - (stepSize * mp) / (Math.sqrt(vp) / sqrtCorrection2 + eps);
    }
  }

  /** The parameters as float32 {@link GateWeights} with the given normalisation statistics. */
  toWeights(mean: Float32Array, std: Float32Array): GateWeights {
    return {
      inputSize: this.inputSize,
      hidden: [this.hidden[0], this.hidden[1]],
      activation: this.activation,
      mean,
      std,
      w1: Float32Array.from(this.w1),
      b1: Float32Array.from(this.b1),
      w2: Float32Array.from(this.w2),
      b2: Float32Array.from(this.b2),
      w3: Float32Array.from(this.w3),
      b3: Math.fround(this.params[this.offsets.b3]),
    };
  }

  private ensureScratch(count: number): void {
    const [h1, h2] = this.hidden;
    if (this.z1.length >= count * h1) return;
    this.z1 = new Float64Array(count * h1);
    this.a1 = new Float64Array(count * h1);
    this.d1 = new Float64Array(count * h1);
    this.z2 = new Float64Array(count * h2);
    this.a2 = new Float64Array(count * h2);
    this.d2 = new Float64Array(count * h2);
  }
}

/**
 * `z[b·h1 + j] = w1[j] · x[b]` for the batch, in blocks of two weight rows × four samples: each loaded value
 * serves several multiply-adds (about 1.5× the speed of one row × four samples, 3× one × one). This and
 * {@link firstLayerGradient} are nearly all the training time at h in the thousands.
 */
function firstLayer(
  wRows: readonly Float64Array[],
  inputs: readonly Float64Array[],
  count: number,
  h1: number,
  z: Float64Array,
): void {
  let j = 0;
  for (; j + 2 <= h1; j += 2) {
    const w = wRows[j];
    const v = wRows[j + 1];
    const n = w.length;
    let b = 0;
    for (; b + 4 <= count; b += 4) {
      const x0 = inputs[b];
      const x1 = inputs[b + 1];
      const x2 = inputs[b + 2];
      const x3 = inputs[b + 3];
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let t0 = 0;
      let t1 = 0;
      let t2 = 0;
      let t3 = 0;
      for (let i = 0; i < n; i++) {
        const wi = w[i];
        const vi = v[i];
        const a0 = x0[i];
        const a1 = x1[i];
        const a2 = x2[i];
        const a3 = x3[i];
        s0 += wi * a0;
        s1 += wi * a1;
        s2 += wi * a2;
        s3 += wi * a3;
        t0 += vi * a0;
        t1 += vi * a1;
        t2 += vi * a2;
        t3 += vi * a3;
      }
      z[b * h1 + j] = s0;
      z[(b + 1) * h1 + j] = s1;
      z[(b + 2) * h1 + j] = s2;
      z[(b + 3) * h1 + j] = s3;
      z[b * h1 + j + 1] = t0;
      z[(b + 1) * h1 + j + 1] = t1;
      z[(b + 2) * h1 + j + 1] = t2;
      z[(b + 3) * h1 + j + 1] = t3;
    }
    for (; b < count; b++) {
      const x = inputs[b];
      let s = 0;
      let t = 0;
      for (let i = 0; i < n; i++) {
        s += w[i] * x[i];
        t += v[i] * x[i];
      }
      z[b * h1 + j] = s;
      z[b * h1 + j + 1] = t;
    }
  }
  if (j < h1) {
    const w = wRows[j];
    for (let b = 0; b < count; b++) {
      const x = inputs[b];
      let s = 0;
      for (let i = 0; i < w.length; i++) s += w[i] * x[i];
      z[b * h1 + j] = s;
    }
  }
}

/** `gRows[j] = Σ_b d[b·h1 + j] · x[b]`, blocked like {@link firstLayer} so each gradient value is loaded and stored
 * once per four samples. */
function firstLayerGradient(
  gRows: readonly Float64Array[],
  inputs: readonly Float64Array[],
  count: number,
  h1: number,
  d: Float64Array,
): void {
  let j = 0;
  for (; j + 2 <= h1; j += 2) {
    const g = gRows[j];
    const f = gRows[j + 1];
    const n = g.length;
    let b = 0;
    for (; b + 4 <= count; b += 4) {
      const x0 = inputs[b];
      const x1 = inputs[b + 1];
      const x2 = inputs[b + 2];
      const x3 = inputs[b + 3];
      const d0 = d[b * h1 + j];
      const d1 = d[(b + 1) * h1 + j];
      const d2 = d[(b + 2) * h1 + j];
      const d3 = d[(b + 3) * h1 + j];
      const e0 = d[b * h1 + j + 1];
      const e1 = d[(b + 1) * h1 + j + 1];
      const e2 = d[(b + 2) * h1 + j + 1];
      const e3 = d[(b + 3) * h1 + j + 1];
      for (let i = 0; i < n; i++) {
        const a0 = x0[i];
        const a1 = x1[i];
        const a2 = x2[i];
        const a3 = x3[i];
        g[i] += d0 * a0 + d1 * a1 + d2 * a2 + d3 * a3;
        f[i] += e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3;
      }
    }
    for (; b < count; b++) {
      const x = inputs[b];
      const db = d[b * h1 + j];
      const eb = d[b * h1 + j + 1];
      for (let i = 0; i < n; i++) {
        g[i] += db * x[i];
        f[i] += eb * x[i];
      }
    }
  }
  if (j < h1) {
    const g = gRows[j];
    for (let b = 0; b < count; b++) {
      const x = inputs[b];
      const db = d[b * h1 + j];
      for (let i = 0; i < g.length; i++) g[i] += db * x[i];
    }
  }
}

function fillNormal(dst: Float64Array, rng: SeededRandom, std: number): void {
  for (let i = 0; i < dst.length; i++) dst[i] = rng.normal() * std;
}
