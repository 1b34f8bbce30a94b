import { describe, expect, it } from "vitest";
import { Gate } from "../../../src/core/gate/Gate.js";
import {
  accuracy,
  balancedAccuracy,
  balancedBinaryCrossEntropy,
  bestThreshold,
  binaryCrossEntropy,
  confusionMatrix,
  evaluateGate,
  rocAuc,
  splitMetrics,
} from "../../../src/core/gate/gateMetrics.js";

describe("rocAuc", () => {
  it("matches hand-computed cases", () => {
    // Positive/negative pairs ordered correctly: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4) → 3/4.
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
  });

  it("counts ties as one half", () => {
    // Pairs: 0.6⁺ vs 0.2⁻ = 1, 0.6⁺ vs 0.6⁻ = ½, 0.9⁺ vs both = 2 → 3.5 / 4.
    expect(rocAuc([0.2, 0.6, 0.6, 0.9], [0, 0, 1, 1])).toBe(0.875);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // Three positives tied with one negative at 0.7, one negative below: (3·1 + 3·½) / 6.
    expect(rocAuc([0.7, 0.7, 0.7, 0.7, 0.1], [1, 1, 1, 0, 0])).toBe(0.75);
  });

  it("is null when a class is missing", () => {
    expect(rocAuc([0.1, 0.9], [1, 1])).toBeNull();
    expect(rocAuc([], [])).toBeNull();
  });
});

describe("confusion matrix, accuracy and balanced accuracy", () => {
  it("treats a score equal to the threshold as positive", () => {
    expect(confusionMatrix([0.1, 0.5, 0.7, 0.4], [0, 1, 1, 0], 0.5)).toEqual({ tp: 2, fp: 0, tn: 2, fn: 0 });
    const c = confusionMatrix([0.1, 0.5, 0.7, 0.4], [0, 1, 1, 0], 0.6);
    expect(c).toEqual({ tp: 1, fp: 0, tn: 2, fn: 1 });
    expect(accuracy(c)).toBe(0.75);
    expect(balancedAccuracy(c)).toBe(0.75);
  });

  it("balanced accuracy averages the class recalls, and only over classes present", () => {
    const imbalanced = { tp: 1, fn: 1, tn: 8, fp: 0 };
    expect(accuracy(imbalanced)).toBe(0.9);
    expect(balancedAccuracy(imbalanced)).toBe(0.75);
    expect(balancedAccuracy({ tp: 3, fn: 1, tn: 0, fp: 0 })).toBe(0.75);
    expect(balancedAccuracy({ tp: 0, fn: 0, tn: 0, fp: 0 })).toBe(0);
    expect(accuracy({ tp: 0, fn: 0, tn: 0, fp: 0 })).toBe(0);
  });
});

describe("bestThreshold", () => {
  it("picks the midpoint that maximises balanced accuracy", () => {
    // At 0.5 only 0.9 is positive (BA 0.75); between 0.2 and 0.3 everything is right.
    expect(bestThreshold([0.1, 0.2, 0.3, 0.9], [0, 0, 1, 1])).toBe(0.25);
    expect(bestThreshold([0.6, 0.7, 0.8, 0.95], [0, 0, 1, 1])).toBe(0.75);
  });

  it("breaks ties towards 0.5", () => {
    // Candidates 0.15 and 0.7 both reach BA 0.75 (0.4 and 0.5 only 0.5); 0.7 is closer to 0.5.
    expect(bestThreshold([0.1, 0.2, 0.6, 0.8], [0, 1, 0, 1])).toBe(0.7);
    // 0.5 itself is a candidate: when it is as good as any midpoint, it stays.
    expect(bestThreshold([0.1, 0.2, 0.7, 0.95], [0, 0, 1, 1])).toBe(0.5);
  });

  it("falls back to 0.5 without distinct scores", () => {
    expect(bestThreshold([], [])).toBe(0.5);
    expect(bestThreshold([0.3, 0.3], [0, 1])).toBe(0.5);
  });
});

describe("binary cross-entropy", () => {
  it("matches hand-computed values", () => {
    expect(binaryCrossEntropy([0.8, 0.3], [1, 0])).toBeCloseTo(0.2899092476264711, 15);
    // Mean over all three versus the mean of the per-class means.
    expect(binaryCrossEntropy([0.8, 0.6, 0.3], [1, 1, 0])).toBeCloseTo(0.3635480396729776, 15);
    expect(balancedBinaryCrossEntropy([0.8, 0.6, 0.3], [1, 1, 0])).toBeCloseTo(0.36182976573941633, 15);
  });

  it("clamps each log at -100 like PyTorch", () => {
    expect(binaryCrossEntropy([0, 1], [1, 0])).toBe(100);
    expect(binaryCrossEntropy([], [])).toBe(0);
  });
});

describe("splitMetrics and evaluateGate", () => {
  it("assembles every metric", () => {
    const m = splitMetrics([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.5);
    expect(m).toMatchObject({
      n: 4,
      positives: 2,
      accuracy: 0.75,
      balancedAccuracy: 0.75,
      auc: 0.75,
      confusion: { tp: 1, fp: 0, tn: 2, fn: 1 },
    });
    expect(m.loss).toBeCloseTo(binaryCrossEntropy([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 15);
  });

  it("scores samples with a gate", () => {
    // logit = gelu(gelu(x)): increasing for x ≥ 0.
    const gate = new Gate({
      inputSize: 1,
      hidden: [1, 1],
      activation: "gelu",
      mean: Float32Array.of(0),
      std: Float32Array.of(1),
      w1: Float32Array.of(1),
      b1: Float32Array.of(0),
      w2: Float32Array.of(1),
      b2: Float32Array.of(0),
      w3: Float32Array.of(1),
      b3: 0,
    });
    const samples = [
      { feature: [0.1], label: 0 as const },
      { feature: [0.5], label: 1 as const },
      { feature: [1], label: 1 as const },
      { feature: [2], label: 1 as const },
    ];
    const { metrics, bestThreshold: best } = evaluateGate(gate, samples, 0.5);
    expect(metrics).toMatchObject({ n: 4, positives: 3, auc: 1 });
    // Every score is ≥ 0.5 (logit ≥ 0), so all are predicted positive at 0.5.
    expect(metrics.confusion).toEqual({ tp: 3, fp: 1, tn: 0, fn: 0 });
    const low = gate.predict([0.1]);
    const mid = gate.predict([0.5]);
    expect(best).toBe((low + mid) / 2);
    expect(() => evaluateGate(gate, [{ feature: [1, 2], label: 0 }], 0.5)).toThrow(
      expect.objectContaining({ code: "gate/wrongWidth" }),
    );
    expect(() => evaluateGate(gate, [], 0.5)).toThrow(expect.objectContaining({ code: "gate/invalidFeatures" }));
  });
});
