import { AppError } from "../errors.js";
import { SeededRandom } from "../util/SeededRandom.js";
import { GATE_HIDDEN_SIZES, Gate, sigmoid, type GateSample, type GateWeights } from "./Gate.js";
import { GateNetwork } from "./GateNetwork.js";
import { balancedBinaryCrossEntropy, bestThreshold, splitMetrics, type GateMetrics } from "./gateMetrics.js";
import type { GateActivation } from "./gelu.js";
import { validateGateSamples } from "./validateGateSamples.js";

/** One epoch's report from {@link trainGate}. */
export interface TrainGateProgress {
  /** The epoch just finished, 1-based. */
  epoch: number;
  /** The epoch limit (training may stop earlier). */
  epochs: number;
  /** Mean binary cross-entropy over the epoch's class-balanced batches, each measured before its update. */
  trainLoss: number;
  /** Class-balanced validation binary cross-entropy (mean of the per-class means); what early stopping watches. */
  validationLoss: number;
  /** Validation accuracy at the fixed threshold (0.5 when the threshold is "balanced"). */
  validationAccuracy: number;
}

/** Options of {@link trainGate}. */
export interface TrainGateOptions {
  /** Seed of every random choice (split, initialisation, resampling, shuffling). Defaults to 42. */
  seed?: number;
  /** Most epochs to run. Defaults to 30. */
  epochs?: number;
  /** Peak AdamW learning rate, decayed to zero over `epochs` by a cosine schedule. Defaults to 1e-3. */
  learningRate?: number;
  /** AdamW decoupled weight decay. Defaults to 0.01. */
  weightDecay?: number;
  /** Mini-batch size, capped at the number of training samples. Defaults to 32. */
  batchSize?: number;
  /** Epochs without a lower validation loss before stopping; the best epoch's weights are kept. Defaults to 5. */
  patience?: number;
  /** Fraction of each class held out for validation (at least one sample of each). Defaults to 0.1. */
  validationFraction?: number;
  /** Fewest samples of each class to train at all; at least 2. Defaults to 16. */
  minPerClass?: number;
  /**
   * Decision threshold stored with the gate: a number in [0, 1], or "balanced" for the one that maximises
   * validation balanced accuracy. Defaults to 0.5 (the paper's).
   */
  threshold?: number | "balanced";
  /** Hidden layer sizes; anything but the default is for tests and experiments. Defaults to [128, 64]. */
  hidden?: readonly [number, number];
  /** GELU form. Defaults to "gelu" (exact, erf). */
  activation?: GateActivation;
  /** Cancels training between batches; the promise rejects with the signal's reason. Defaults to none. */
  signal?: AbortSignal;
  /** Called after every epoch. A listener that throws is ignored rather than breaking training. Defaults to none. */
  onProgress?: (progress: TrainGateProgress) => void;
}

/** What {@link trainGate} returns. */
export interface TrainGateResult {
  /** The best epoch's weights with the training split's normalisation statistics. */
  weights: GateWeights;
  /** The decision threshold chosen by `options.threshold`. */
  threshold: number;
  /** Train and validation metrics at that threshold, with the early-stopping outcome. */
  metrics: GateMetrics;
}

/** A constant dimension gets std 1 rather than a tiny floor: it carries no information, and a floor would turn any
 * difference at inference into a huge standardised value. */
const CONSTANT_STD_BELOW = 1e-6;
const ADAM_BETAS = [0.9, 0.999] as const;
const ADAM_EPS = 1e-8;
/** Longest stretch of synchronous work before yielding to the event loop, so a host stays responsive. */
const YIELD_EVERY_MS = 50;

/**
 * Trains the routing gate (docs/method.md §3.4): a stratified hold-out split, standardisation from the training
 * split, an MLP trained with binary cross-entropy on class-balanced epochs (the minority class resampled to parity),
 * AdamW with a cosine schedule and early stopping on validation loss. Deterministic: the same samples, options and
 * seed give bit-identical weights.
 *
 * @throws AppError `gate/insufficientData` (fewer than `minPerClass` samples of a class; the message gives both
 *   counts), `gate/invalidFeatures` (non-finite values, mixed widths, bad labels), `gate/invalidOptions`.
 *   Rejects with `signal.reason` when cancelled.
 */
export async function trainGate(
  samples: readonly GateSample[],
  options: TrainGateOptions = {},
): Promise<TrainGateResult> {
  const opts = resolveOptions(options);
  const { signal } = options;
  signal?.throwIfAborted();
  const { inputSize, positives, negatives } = validateGateSamples(samples);
  if (positives < opts.minPerClass || negatives < opts.minPerClass) {
    throw new AppError(
      "gate/insufficientData",
      `Training the gate needs at least ${opts.minPerClass} samples of each class; got ${positives} positive ` +
        `(adapter) and ${negatives} negative (base).`,
      { positives, negatives, minPerClass: opts.minPerClass },
    );
  }

  const rng = new SeededRandom(opts.seed);
  const { train, validation } = stratifiedSplit(samples, opts.validationFraction, rng.fork("split"));
  const { mean, std } = featureStats(samples, train, inputSize);
  const trainX = standardise(samples, train, mean, std, inputSize);
  const validationX = standardise(samples, validation, mean, std, inputSize);
  const validationLabels = validation.map((i) => samples[i].label);
  const trainRows = rowViews(trainX, train.length, inputSize);
  const validationRows = rowViews(validationX, validation.length, inputSize);

  const network = new GateNetwork(inputSize, opts.hidden, opts.activation, rng.fork("init"));
  const shuffleRng = rng.fork("epochs");
  const byClass: [number[], number[]] = [[], []];
  train.forEach((sampleIndex, row) => byClass[samples[sampleIndex].label].push(row));
  const epochSize = 2 * Math.max(byClass[0].length, byClass[1].length);
  const batchSize = Math.min(opts.batchSize, train.length);
  const stepsPerEpoch = Math.ceil(epochSize / batchSize);
  const totalSteps = opts.epochs * stepsPerEpoch;
  const fixedThreshold = opts.threshold === "balanced" ? 0.5 : opts.threshold;

  const rows = new Int32Array(batchSize);
  const batch: Float64Array[] = [];
  const logits = new Float64Array(Math.max(batchSize, validation.length));
  const dLogits = new Float64Array(batchSize);
  const trainLabels = train.map((i) => samples[i].label);
  let best = { loss: Infinity, epoch: 0, params: network.params.slice() };
  let epochsRun = 0;
  let step = 0;
  let lastYield = performance.now();

  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    await yieldToEventLoop();
    signal?.throwIfAborted();
    lastYield = performance.now();
    const order = balancedEpoch(byClass, shuffleRng);
    let lossSum = 0;
    for (let start = 0; start < order.length; start += batchSize) {
      const count = Math.min(batchSize, order.length - start);
      for (let b = 0; b < count; b++) {
        rows[b] = order[start + b];
        batch[b] = trainRows[rows[b]];
      }
      network.forward(batch, count, logits);
      for (let b = 0; b < count; b++) {
        const z = logits[b];
        const y = trainLabels[rows[b]];
        lossSum += softplus(z) - y * z;
        dLogits[b] = (sigmoid(z) - y) / count;
      }
      network.backward(batch, count, dLogits);
      const lr = (opts.learningRate * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2;
      network.adamW({ lr, weightDecay: opts.weightDecay, beta1: ADAM_BETAS[0], beta2: ADAM_BETAS[1], eps: ADAM_EPS });
      step++;
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        signal?.throwIfAborted();
        lastYield = performance.now();
      }
    }
    epochsRun = epoch;

    network.forward(validationRows, validation.length, logits);
    const validationScores = Array.from(logits.subarray(0, validation.length), sigmoid);
    const validationLoss = balancedBinaryCrossEntropy(validationScores, validationLabels);
    const progress: TrainGateProgress = {
      epoch,
      epochs: opts.epochs,
      trainLoss: lossSum / order.length,
      validationLoss,
      validationAccuracy: splitMetrics(validationScores, validationLabels, fixedThreshold).accuracy,
    };
    try {
      options.onProgress?.(progress);
    } catch {
      // CONTRIBUTING.md §6: a throwing listener must not break the job.
    }
    if (validationLoss < best.loss) best = { loss: validationLoss, epoch, params: network.params.slice() };
    else if (epoch - best.epoch >= opts.patience) break;
  }

  network.params.set(best.params);
  const weights = network.toWeights(mean, std);
  const gate = new Gate(weights);
  const score = (indices: number[]): number[] => indices.map((i) => gate.predict(samples[i].feature));
  const trainScores = score(train);
  const validationScores = score(validation);
  const validationBest = bestThreshold(validationScores, validationLabels);
  const threshold = opts.threshold === "balanced" ? validationBest : opts.threshold;
  return {
    weights,
    threshold,
    metrics: {
      train: splitMetrics(trainScores, trainLabels, threshold),
      validation: splitMetrics(validationScores, validationLabels, threshold),
      bestEpoch: best.epoch,
      epochsRun,
      threshold,
      bestThreshold: validationBest,
    },
  };
}

type ResolvedOptions = Required<Omit<TrainGateOptions, "signal" | "onProgress">>;

function resolveOptions(options: TrainGateOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    seed: options.seed ?? 42,
    epochs: options.epochs ?? 30,
    learningRate: options.learningRate ?? 1e-3,
    weightDecay: options.weightDecay ?? 0.01,
    batchSize: options.batchSize ?? 32,
    patience: options.patience ?? 5,
    validationFraction: options.validationFraction ?? 0.1,
    minPerClass: options.minPerClass ?? 16,
    threshold: options.threshold ?? 0.5,
    hidden: options.hidden ?? GATE_HIDDEN_SIZES,
    activation: options.activation ?? "gelu",
  };
  const problems: string[] = [];
  const integer = (name: keyof ResolvedOptions, value: number, min: number): void => {
    if (!Number.isInteger(value) || value < min) problems.push(`${name} is ${value}, expected an integer ≥ ${min}`);
  };
  if (!Number.isFinite(o.seed)) problems.push(`seed is ${o.seed}, expected a finite number`);
  integer("epochs", o.epochs, 1);
  integer("batchSize", o.batchSize, 1);
  integer("patience", o.patience, 1);
  integer("minPerClass", o.minPerClass, 2);
  if (!(o.learningRate > 0 && Number.isFinite(o.learningRate))) {
    problems.push(`learningRate is ${o.learningRate}, expected a positive number`);
  }
  // The decoupled decay multiplies each weight by 1 − lr·weightDecay, which must stay positive.
  if (!(o.weightDecay >= 0 && o.weightDecay * o.learningRate < 1)) {
    problems.push(`weightDecay is ${o.weightDecay}, expected ≥ 0 with learningRate · weightDecay < 1`);
  }
  if (!(o.validationFraction > 0 && o.validationFraction < 1)) {
    problems.push(`validationFraction is ${o.validationFraction}, expected a number in (0, 1)`);
  }
  if (o.threshold !== "balanced" && !(o.threshold >= 0 && o.threshold <= 1)) {
    problems.push(`threshold is ${o.threshold}, expected a number in [0, 1] or "balanced"`);
  }
  if (o.hidden.length !== 2 || !o.hidden.every((n) => Number.isInteger(n) && n >= 1)) {
    problems.push(`hidden is [${o.hidden.join(", ")}], expected two positive integers`);
  }
  if (o.activation !== "gelu" && o.activation !== "geluTanh") problems.push(`activation is ${String(o.activation)}`);
  if (problems.length > 0) {
    throw new AppError("gate/invalidOptions", `Invalid gate training options: ${problems.join("; ")}.`);
  }
  return o;
}

/**
 * Holds out `fraction` of each class (rounded, at least one, never the whole class), chosen by a seeded shuffle.
 * Returns sample indices in ascending order.
 */
function stratifiedSplit(
  samples: readonly GateSample[],
  fraction: number,
  rng: SeededRandom,
): { train: number[]; validation: number[] } {
  const train: number[] = [];
  const validation: number[] = [];
  for (const label of [0, 1]) {
    const members = samples.flatMap((s, i) => (s.label === label ? [i] : []));
    shuffle(members, rng);
    const held = Math.min(Math.max(Math.round(fraction * members.length), 1), members.length - 1);
    validation.push(...members.slice(0, held));
    train.push(...members.slice(held));
  }
  return { train: train.sort((a, b) => a - b), validation: validation.sort((a, b) => a - b) };
}

/** Per-dimension mean and population std over the training rows (two passes, for accuracy). */
function featureStats(
  samples: readonly GateSample[],
  rows: readonly number[],
  width: number,
): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(width);
  for (const r of rows) {
    const f = samples[r].feature;
    for (let i = 0; i < width; i++) sum[i] += f[i];
  }
  const mean = sum.map((s) => s / rows.length);
  const squares = new Float64Array(width);
  for (const r of rows) {
    const f = samples[r].feature;
    for (let i = 0; i < width; i++) squares[i] += (f[i] - mean[i]) ** 2;
  }
  const std = squares.map((s) => {
    const sd = Math.sqrt(s / rows.length);
    return sd < CONSTANT_STD_BELOW ? 1 : sd;
  });
  return { mean: Float32Array.from(mean), std: Float32Array.from(std) };
}

/**
 * The rows' features standardised with the float32 statistics the gate will store, so training sees exactly the
 * inputs inference will compute.
 */
function standardise(
  samples: readonly GateSample[],
  rows: readonly number[],
  mean: Float32Array,
  std: Float32Array,
  width: number,
): Float64Array {
  const x = new Float64Array(rows.length * width);
  const invStd = Float64Array.from(std, (s) => 1 / s);
  rows.forEach((r, row) => {
    const f = samples[r].feature;
    for (let i = 0; i < width; i++) x[row * width + i] = (f[i] - mean[i]) * invStd[i];
  });
  return x;
}

/** One subarray per `width`-wide row of `x`. */
function rowViews(x: Float64Array, count: number, width: number): Float64Array[] {
  return Array.from({ length: count }, (_, r) => x.subarray(r * width, (r + 1) * width));
}

/**
 * One epoch's row order: every row of the majority class once, the minority class resampled to the same count
 * (each minority row ⌊majority/minority⌋ times, the remainder drawn without replacement), all shuffled.
 */
function balancedEpoch(byClass: readonly [number[], number[]], rng: SeededRandom): number[] {
  const [a, b] = byClass;
  const [major, minor] = a.length >= b.length ? [a, b] : [b, a];
  const order = [...major];
  for (let k = 0; k + minor.length <= major.length; k += minor.length) order.push(...minor);
  const extra = [...minor];
  shuffle(extra, rng);
  order.push(...extra.slice(0, major.length % minor.length));
  return shuffle(order, rng);
}

/** Fisher-Yates in place. */
function shuffle<T>(items: T[], rng: SeededRandom): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** log(1 + e^z) without overflow: the BCE of a logit is softplus(z) − y·z. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
