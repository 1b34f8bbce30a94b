import { AppError } from "../errors.js";
import { GATE_ACTIVATIONS, gelu, type GateActivation } from "./gelu.js";

/** The paper's hidden sizes: `Linear(h,128) → GELU → Linear(128,64) → GELU → Linear(64,1)`. */
export const GATE_HIDDEN_SIZES: readonly [number, number] = [128, 64];

/**
 * Floor under a stored standard deviation: a dimension that was constant in training must not divide by zero
 * (or blow a tiny difference up by 1e12) at inference.
 */
export const GATE_MIN_STD = 1e-6;

/**
 * Everything a {@link Gate} needs: normalisation statistics and the MLP's parameters, all float32.
 * Matrices are row-major with one row per output unit (PyTorch's `Linear.weight` layout), so `w1[j·inputSize + i]`
 * connects input `i` to hidden unit `j`. Serialised by `gateFile.ts` as plain number arrays.
 */
export interface GateWeights {
  /** Width `h` of the feature vector. */
  inputSize: number;
  /** Sizes of the two hidden layers, `[128, 64]` for a standard gate. */
  hidden: readonly [number, number];
  /** The GELU form both hidden layers use. */
  activation: GateActivation;
  /** Per-dimension mean of the training features (length `inputSize`). */
  mean: Float32Array;
  /** Per-dimension standard deviation of the training features (length `inputSize`, each ≥ 0; floored at use). */
  std: Float32Array;
  /** First layer weights, `hidden[0] × inputSize`. */
  w1: Float32Array;
  /** First layer bias, `hidden[0]`. */
  b1: Float32Array;
  /** Second layer weights, `hidden[1] × hidden[0]`. */
  w2: Float32Array;
  /** Second layer bias, `hidden[1]`. */
  b2: Float32Array;
  /** Output layer weights, `hidden[1]`. */
  w3: Float32Array;
  /** Output layer bias. */
  b3: number;
}

/** A labelled feature: `label` 1 means the adapter (persona) answer won, 0 the base answer. */
export interface GateSample {
  /** The gate feature (block-0 hidden state at the last prompt token), `inputSize` wide. */
  feature: ArrayLike<number>;
  /** 1 = use the adapter, 0 = use the base model. */
  label: 0 | 1;
}

/** The names of the array-valued fields of {@link GateWeights}, in file order. */
export const GATE_WEIGHT_ARRAYS = ["mean", "std", "w1", "b1", "w2", "b2", "w3"] as const;

/** The length each array of {@link GateWeights} must have for the given sizes. */
export function gateArrayLengths(
  inputSize: number,
  hidden: readonly [number, number],
): Record<(typeof GATE_WEIGHT_ARRAYS)[number], number> {
  const [h1, h2] = hidden;
  return { mean: inputSize, std: inputSize, w1: h1 * inputSize, b1: h1, w2: h2 * h1, b2: h2, w3: h2 };
}

/**
 * What is wrong with `weights`, in words ("w1 has 10 values, expected 128 × 4 = 512"), or undefined if they are
 * usable: positive integer sizes, a known activation, arrays of the declared lengths, finite values, std ≥ 0
 * (a zero std is floored at {@link GATE_MIN_STD}).
 */
export function gateWeightsProblem(weights: GateWeights): string | undefined {
  const { inputSize, hidden } = weights;
  if (!Number.isInteger(inputSize) || inputSize < 1) return `inputSize is ${inputSize}, expected a positive integer`;
  if (hidden.length !== 2 || !hidden.every((n) => Number.isInteger(n) && n >= 1)) {
    return `hidden is [${hidden.join(", ")}], expected two positive integers`;
  }
  if (!GATE_ACTIVATIONS.includes(weights.activation)) return `activation "${String(weights.activation)}" is unknown`;
  const lengths = gateArrayLengths(inputSize, hidden);
  const shapes: Record<string, string> = {
    w1: `${hidden[0]} × ${inputSize} = `,
    w2: `${hidden[1]} × ${hidden[0]} = `,
  };
  for (const name of GATE_WEIGHT_ARRAYS) {
    const array = weights[name];
    if (array.length !== lengths[name]) {
      return `${name} has ${array.length} values, expected ${shapes[name] ?? ""}${lengths[name]}`;
    }
    for (let i = 0; i < array.length; i++) {
      if (!Number.isFinite(array[i])) return `${name}[${i}] is ${array[i]}, expected a finite number`;
    }
  }
  if (!Number.isFinite(weights.b3)) return `b3 is ${weights.b3}, expected a finite number`;
  const badStd = weights.std.findIndex((s) => s < 0);
  if (badStd >= 0) return `std[${badStd}] is ${weights.std[badStd]}, expected a non-negative number`;
  return undefined;
}

/**
 * The trained gate: standardises a feature with the stored mean and std, runs the MLP and returns the probability
 * that the adapter should be used. Computes in float64 over float32 weights; one prediction at h = 4096 is about
 * 0.5 M multiply-adds. Not re-entrant across threads (it reuses scratch buffers), which JavaScript never needs.
 */
export class Gate {
  /** Width `h` of the features this gate accepts. */
  readonly inputSize: number;
  private readonly invStd: Float64Array;
  private readonly x: Float64Array;
  private readonly a1: Float64Array;
  private readonly a2: Float64Array;
  private readonly w1Rows: Float32Array[];
  private readonly w2Rows: Float32Array[];

  /** @throws AppError `gate/invalid` when the weights are inconsistent (see {@link gateWeightsProblem}). */
  constructor(readonly weights: GateWeights) {
    const problem = gateWeightsProblem(weights);
    if (problem) throw new AppError("gate/invalid", `Invalid gate weights: ${problem}.`);
    this.inputSize = weights.inputSize;
    this.invStd = Float64Array.from(weights.std, (s) => 1 / Math.max(s, GATE_MIN_STD));
    this.x = new Float64Array(weights.inputSize);
    this.a1 = new Float64Array(weights.hidden[0]);
    this.a2 = new Float64Array(weights.hidden[1]);
    this.w1Rows = rowViews(weights.w1, weights.inputSize);
    this.w2Rows = rowViews(weights.w2, weights.hidden[0]);
  }

  /**
   * The probability, in [0, 1], that the adapter should answer the prompt whose feature this is.
   * @throws AppError `gate/wrongWidth` if `feature.length` is not {@link inputSize}, `gate/invalidFeatures` if a
   *   value is NaN or infinite.
   */
  predict(feature: ArrayLike<number>): number {
    return sigmoid(this.logit(feature));
  }

  /** The pre-sigmoid score (log-odds) of {@link predict}; same errors. */
  logit(feature: ArrayLike<number>): number {
    const { inputSize, invStd, x, a1, a2 } = this;
    const { mean, b1, b2, w3, b3, activation } = this.weights;
    if (feature.length !== inputSize) {
      throw new AppError(
        "gate/wrongWidth",
        `The feature has ${feature.length} values; this gate expects ${inputSize}.`,
      );
    }
    for (let i = 0; i < inputSize; i++) {
      const v = feature[i];
      if (!Number.isFinite(v)) throw new AppError("gate/invalidFeatures", `Feature value ${i} is ${v}.`);
      x[i] = (v - mean[i]) * invStd[i];
    }
    denseGelu(this.w1Rows, b1, x, a1, activation);
    denseGelu(this.w2Rows, b2, a1, a2, activation);
    let z = b3;
    for (let k = 0; k < a2.length; k++) z += w3[k] * a2[k];
    return z;
  }
}

/** `out = gelu(W·in + b)`, W given as one view per row. */
function denseGelu(
  rows: readonly Float32Array[],
  b: Float32Array,
  input: Float64Array,
  out: Float64Array,
  activation: GateActivation,
): void {
  const n = input.length;
  const n4 = n - (n % 4);
  for (let j = 0; j < out.length; j++) {
    const w = rows[j];
    // Four independent accumulators let V8 overlap the multiply-adds; this is the hot loop of routing.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i < n4; i += 4) {
      s0 += w[i] * input[i];
      s1 += w[i + 1] * input[i + 1];
      s2 += w[i + 2] * input[i + 2];
      s3 += w[i + 3] * input[i + 3];
    }
    for (; i < n; i++) s0 += w[i] * input[i];
    out[j] = gelu(b[j] + (s0 + s1 + s2 + s3), activation);
  }
}

/** One subarray per `width`-wide row of `matrix`; per-row typed arrays make V8's inner loops markedly faster. */
function rowViews(matrix: Float32Array, width: number): Float32Array[] {
  return Array.from({ length: matrix.length / width }, (_, j) => matrix.subarray(j * width, (j + 1) * width));
}

/** The logistic function, written so that neither tail overflows. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}
