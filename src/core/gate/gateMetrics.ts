/**
 * Pure classification metrics for the gate: ROC-AUC, confusion matrix, accuracy, balanced accuracy, the best
 * threshold by balanced accuracy and binary cross-entropy. Scores are probabilities; a score `≥ threshold` is a
 * positive (adapter) decision, as at inference.
 */
import type { Gate, GateSample } from "./Gate.js";
import { validateGateSamples } from "./validateGateSamples.js";

/** Counts of decisions against labels at one threshold. */
export interface ConfusionMatrix {
  /** Label 1, predicted 1. */
  tp: number;
  /** Label 0, predicted 1. */
  fp: number;
  /** Label 0, predicted 0. */
  tn: number;
  /** Label 1, predicted 0. */
  fn: number;
}

/** How the gate does on one set of samples. */
export interface SplitMetrics {
  /** Number of samples. */
  n: number;
  /** Samples labelled 1. */
  positives: number;
  /** Fraction of correct decisions. */
  accuracy: number;
  /** Mean of the recalls of the classes present (the mean of TPR and TNR when both are). */
  balancedAccuracy: number;
  /** ROC-AUC of the scores; null when only one class is present, where it is undefined. */
  auc: number | null;
  /** Mean binary cross-entropy. */
  loss: number;
  /** Mean over the classes present of each class's mean binary cross-entropy; what early stopping watches. */
  balancedLoss: number;
  /** Decisions at the threshold. */
  confusion: ConfusionMatrix;
}

/** Metrics of a trained gate, stored in its gate file. */
export interface GateMetrics {
  /** On the training split (the original samples, not the class-balanced resample). */
  train: SplitMetrics;
  /** On the held-out validation split. */
  validation: SplitMetrics;
  /** The epoch (1-based) whose weights were kept: the one with the lowest validation loss. */
  bestEpoch: number;
  /** Epochs actually run before early stopping or the epoch limit. */
  epochsRun: number;
  /** The decision threshold the metrics above use. */
  threshold: number;
  /** The threshold that maximises validation balanced accuracy (see {@link bestThreshold}). */
  bestThreshold: number;
}

/** Label-1 and label-0 counts of `labels`. */
function classCounts(labels: ArrayLike<number>): { positives: number; negatives: number } {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives++;
  return { positives, negatives: labels.length - positives };
}

/**
 * ROC-AUC as the Mann-Whitney statistic: the probability that a random positive scores above a random negative,
 * ties counting one half (average ranks). Null when either class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const { positives, negatives } = classCounts(labels);
  if (positives === 0 || negatives === 0) return null;
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positiveRankSum = 0;
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end++;
    const averageRank = (start + 1 + end) / 2; // ranks start..end-1, 1-based
    for (let k = start; k < end; k++) if (labels[order[k]] === 1) positiveRankSum += averageRank;
    start = end;
  }
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** The confusion matrix when a score `≥ threshold` is a positive decision. */
export function confusionMatrix(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): ConfusionMatrix {
  const c: ConfusionMatrix = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < scores.length; i++) {
    const predicted = scores[i] >= threshold;
    if (labels[i] === 1) {
      if (predicted) c.tp++;
      else c.fn++;
    } else if (predicted) c.fp++;
    else c.tn++;
  }
  return c;
}

/** Fraction of correct decisions; 0 for an empty matrix. */
export function accuracy(c: ConfusionMatrix): number {
  const n = c.tp + c.fp + c.tn + c.fn;
  return n === 0 ? 0 : (c.tp + c.tn) / n;
}

/** Mean of the recalls of the classes present: (TPR + TNR) / 2 with both, the one recall with one, 0 with none. */
export function balancedAccuracy(c: ConfusionMatrix): number {
  const recalls: number[] = [];
  if (c.tp + c.fn > 0) recalls.push(c.tp / (c.tp + c.fn));
  if (c.tn + c.fp > 0) recalls.push(c.tn / (c.tn + c.fp));
  return recalls.length === 0 ? 0 : recalls.reduce((a, b) => a + b, 0) / recalls.length;
}

/** Balanced accuracies within this of each other count as a tie (they are sums of small fractions). */
const TIE_EPSILON = 1e-12;

/**
 * The threshold that maximises balanced accuracy. Candidates are the midpoints between consecutive distinct scores
 * plus 0.5 itself (so the choice never does worse than the default on these samples); among equally good candidates
 * the one closest to 0.5 wins. Returns 0.5 when there are no scores.
 */
export function bestThreshold(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { positives, negatives } = classCounts(labels);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const score = (c: { tp: number; tn: number }): number =>
    balancedAccuracy({ tp: c.tp, fn: positives - c.tp, tn: c.tn, fp: negatives - c.tn });

  let best = 0.5;
  let bestScore = score(confusionMatrix(scores, labels, 0.5));
  // Sweep thresholds downwards: every sample above the current midpoint is predicted positive.
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length;) {
    const current = scores[order[k]];
    while (k < order.length && scores[order[k]] === current) {
      if (labels[order[k]] === 1) tp++;
      else fp++;
      k++;
    }
    if (k === order.length) break;
    const threshold = (current + scores[order[k]]) / 2;
    const candidate = score({ tp, tn: negatives - fp });
    if (
      candidate > bestScore + TIE_EPSILON ||
      (candidate >= bestScore - TIE_EPSILON && Math.abs(threshold - 0.5) < Math.abs(best - 0.5))
    ) {
      best = threshold;
      bestScore = Math.max(candidate, bestScore);
    }
  }
  return best;
}

/**
 * Mean binary cross-entropy of probabilities against labels. Each log is clamped at -100, as PyTorch's `BCELoss`
 * does, so a confidently wrong score of exactly 0 or 1 costs 100 rather than infinity. 0 for no samples.
 */
export function binaryCrossEntropy(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (scores.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += sampleLoss(scores[i], labels[i]);
  return sum / scores.length;
}

/** Mean over the classes present of each class's mean binary cross-entropy; 0 for no samples. */
export function balancedBinaryCrossEntropy(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const sums = [0, 0];
  const counts = [0, 0];
  for (let i = 0; i < scores.length; i++) {
    const label = labels[i] === 1 ? 1 : 0;
    sums[label] += sampleLoss(scores[i], label);
    counts[label]++;
  }
  const means = [0, 1].filter((c) => counts[c] > 0).map((c) => sums[c] / counts[c]);
  return means.length === 0 ? 0 : means.reduce((a, b) => a + b, 0) / means.length;
}

function sampleLoss(p: number, label: number): number {
  return -Math.max(Math.log(label === 1 ? p : 1 - p), -100);
}

/** All of {@link SplitMetrics} for scores against labels at a threshold. */
export function splitMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): SplitMetrics {
  const confusion = confusionMatrix(scores, labels, threshold);
  return {
    n: scores.length,
    positives: classCounts(labels).positives,
    accuracy: accuracy(confusion),
    balancedAccuracy: balancedAccuracy(confusion),
    auc: rocAuc(scores, labels),
    loss: binaryCrossEntropy(scores, labels),
    balancedLoss: balancedBinaryCrossEntropy(scores, labels),
    confusion,
  };
}

/** What {@link evaluateGate} returns. */
export interface EvaluateGateResult {
  /** Metrics at the given threshold. */
  metrics: SplitMetrics;
  /** The threshold that would maximise balanced accuracy on these samples. */
  bestThreshold: number;
}

/**
 * Scores labelled samples (for example user-labelled prompts in `prism gate-eval`) with a gate and measures it.
 * @throws AppError `gate/invalidFeatures` (no samples, bad labels, non-finite values) or `gate/wrongWidth`.
 */
export function evaluateGate(gate: Gate, samples: readonly GateSample[], threshold: number): EvaluateGateResult {
  validateGateSamples(samples, gate.inputSize);
  const scores = samples.map((s) => gate.predict(s.feature));
  const labels = samples.map((s) => s.label);
  return { metrics: splitMetrics(scores, labels, threshold), bestThreshold: bestThreshold(scores, labels) };
}
