import { describe, expect, it } from "vitest";
import { AppError } from "../../../src/core/errors.js";
import { Gate, type GateSample, type GateWeights } from "../../../src/core/gate/Gate.js";
import { evaluateGate } from "../../../src/core/gate/gateMetrics.js";
import { trainGate, type TrainGateProgress } from "../../../src/core/gate/trainGate.js";
import { syntheticGateSamples } from "./syntheticGateSamples.js";

/** Training runs take seconds on a busy 2-core machine. */
const SLOW = 120_000;

async function trainError(samples: GateSample[], options = {}): Promise<AppError> {
  const err = await trainGate(samples, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

function bytes(weights: GateWeights): Buffer[] {
  const { mean, std, w1, b1, w2, b2, w3, b3 } = weights;
  return [mean, std, w1, b1, w2, b2, w3, Float32Array.of(b3)].map((a) =>
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
  );
}

/** A small task for the option and error tests: quick to train. */
const small = (positives = 24, negatives = 24): GateSample[] =>
  syntheticGateSamples({ task: "clusters", width: 16, positives, negatives, seed: 5 });

describe("trainGate", () => {
  it(
    "learns two Gaussian clusters in 128 dimensions (held-out accuracy ≥ 0.95)",
    async () => {
      const task = { task: "clusters", width: 128 } as const;
      const result = await trainGate(syntheticGateSamples({ ...task, positives: 200, negatives: 200, seed: 1 }));
      const test = syntheticGateSamples({ ...task, positives: 500, negatives: 500, seed: 2 });
      const { metrics } = evaluateGate(new Gate(result.weights), test, result.threshold);
      console.log(
        `clusters h=128: validation accuracy ${result.metrics.validation.accuracy.toFixed(3)}, ` +
          `fresh test accuracy ${metrics.accuracy.toFixed(3)}, AUC ${metrics.auc?.toFixed(4)}, ` +
          `epochs ${result.metrics.epochsRun} (best ${result.metrics.bestEpoch})`,
      );
      expect(metrics.accuracy).toBeGreaterThanOrEqual(0.95);
      expect(result.metrics.validation.accuracy).toBeGreaterThanOrEqual(0.95);
      expect(result.metrics.validation).toMatchObject({ n: 40, positives: 20 });
      expect(result.metrics.train).toMatchObject({ n: 360, positives: 180 });
      expect(result.threshold).toBe(0.5);
      expect(result.weights.hidden).toEqual([128, 64]);
      expect(result.weights.activation).toBe("gelu");
    },
    SLOW,
  );

  it(
    "learns a linear rule on three dimensions buried in 45 of noise (held-out accuracy ≥ 0.95)",
    async () => {
      const task = { task: "linearRule", width: 48 } as const;
      const result = await trainGate(syntheticGateSamples({ ...task, positives: 300, negatives: 300, seed: 1 }));
      const test = syntheticGateSamples({ ...task, positives: 500, negatives: 500, seed: 2 });
      const { metrics } = evaluateGate(new Gate(result.weights), test, result.threshold);
      console.log(
        `linear rule h=48: validation accuracy ${result.metrics.validation.accuracy.toFixed(3)}, ` +
          `fresh test accuracy ${metrics.accuracy.toFixed(3)}, AUC ${metrics.auc?.toFixed(4)}`,
      );
      expect(metrics.accuracy).toBeGreaterThanOrEqual(0.95);
    },
    SLOW,
  );

  it(
    "is deterministic: same seed, bit-identical weights; another seed, different weights",
    async () => {
      const samples = syntheticGateSamples({ task: "clusters", width: 32, positives: 40, negatives: 50, seed: 9 });
      const options = { epochs: 4, seed: 7 };
      const a = await trainGate(samples, options);
      const b = await trainGate(samples, options);
      const c = await trainGate(samples, { ...options, seed: 8 });
      expect(bytes(a.weights)).toEqual(bytes(b.weights));
      expect(a.metrics).toEqual(b.metrics);
      expect(bytes(c.weights)[2]).not.toEqual(bytes(a.weights)[2]);
    },
    SLOW,
  );

  it(
    "stays well above chance under 20 vs 200 class imbalance",
    async () => {
      const task = { task: "clusters", width: 64 } as const;
      const result = await trainGate(syntheticGateSamples({ ...task, positives: 20, negatives: 200, seed: 1 }));
      const test = syntheticGateSamples({ ...task, positives: 500, negatives: 500, seed: 2 });
      const { metrics } = evaluateGate(new Gate(result.weights), test, result.threshold);
      console.log(
        `imbalanced 20/200 h=64: fresh balanced accuracy ${metrics.balancedAccuracy.toFixed(3)}, ` +
          `recall of the minority ${(metrics.confusion.tp / 500).toFixed(3)}`,
      );
      expect(result.metrics.validation).toMatchObject({ n: 22, positives: 2 });
      expect(metrics.balancedAccuracy).toBeGreaterThanOrEqual(0.85);
      // Without balancing the minority class would mostly be predicted as the majority.
      expect(metrics.confusion.tp / 500).toBeGreaterThanOrEqual(0.75);
    },
    SLOW,
  );

  it("refuses fewer than minPerClass samples of a class, naming the counts", async () => {
    const err = await trainError(small(15, 40));
    expect(err).toMatchObject({ code: "gate/insufficientData", message: /at least 16 .*15 positive .*40 negative/ });
    expect(err.detail).toEqual({ positives: 15, negatives: 40, minPerClass: 16 });
    expect(await trainError(small(40, 3), { minPerClass: 4 })).toMatchObject({ code: "gate/insufficientData" });
    expect(await trainError([])).toMatchObject({ code: "gate/invalidFeatures", message: /no samples/ });
    const ok = await trainGate(small(4, 4), { minPerClass: 4, epochs: 2 });
    // One of each class held out even from four.
    expect(ok.metrics.validation).toMatchObject({ n: 2, positives: 1 });
  });

  it("refuses non-finite features, mixed widths and bad labels", async () => {
    const withValue = (v: number): GateSample[] => {
      const samples = small();
      samples[7] = { ...samples[7], feature: Float32Array.from(samples[7].feature, (x, i) => (i === 3 ? v : x)) };
      return samples;
    };
    expect(await trainError(withValue(NaN))).toMatchObject({
      code: "gate/invalidFeatures",
      message: /Sample 7 .*NaN at 3/,
    });
    expect(await trainError(withValue(-Infinity))).toMatchObject({ code: "gate/invalidFeatures" });
    const mixed = small();
    mixed[5] = { ...mixed[5], feature: Array.from(mixed[5].feature).slice(0, 15) };
    expect(await trainError(mixed)).toMatchObject({ code: "gate/invalidFeatures", message: /Sample 5 has 15 .*16/ });
    const badLabel = small();
    badLabel[2] = { ...badLabel[2], label: 2 as 0 | 1 };
    expect(await trainError(badLabel)).toMatchObject({ code: "gate/invalidFeatures", message: /label 2/ });
  });

  it("refuses invalid options", async () => {
    for (const options of [
      { epochs: 0 },
      { learningRate: -1 },
      { batchSize: 1.5 },
      { validationFraction: 1 },
      { minPerClass: 1 },
      { threshold: 2 },
      { patience: 0 },
    ]) {
      expect(await trainError(small(), options)).toMatchObject({ code: "gate/invalidOptions" });
    }
  });

  it("reports progress once per epoch", async () => {
    const events: TrainGateProgress[] = [];
    const result = await trainGate(small(), { epochs: 4, patience: 10, onProgress: (p) => events.push(p) });
    expect(events.map((e) => [e.epoch, e.epochs])).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    for (const e of events) {
      expect(e.trainLoss).toBeGreaterThan(0);
      expect(e.validationLoss).toBeGreaterThan(0);
      expect(e.validationAccuracy).toBeGreaterThanOrEqual(0);
      expect(e.validationAccuracy).toBeLessThanOrEqual(1);
    }
    expect(result.metrics.epochsRun).toBe(4);
    const best = events.reduce((a, b) => (b.validationLoss < a.validationLoss ? b : a));
    expect(result.metrics.bestEpoch).toBe(best.epoch);
    // A throwing listener does not break training.
    await expect(
      trainGate(small(), {
        epochs: 2,
        onProgress: () => {
          throw new Error("listener bug");
        },
      }),
    ).resolves.toBeDefined();
  });

  it("stops early after `patience` epochs without a lower validation loss and keeps the best epoch", async () => {
    const events: TrainGateProgress[] = [];
    // A learning rate this high makes the validation loss stop improving almost at once.
    const result = await trainGate(small(), { learningRate: 0.5, patience: 2, onProgress: (p) => events.push(p) });
    expect(result.metrics.epochsRun).toBe(result.metrics.bestEpoch + 2);
    expect(events).toHaveLength(result.metrics.epochsRun);
    expect(result.metrics.epochsRun).toBeLessThan(30);
  });

  it("cancels mid-training, rejecting with the signal's reason", async () => {
    const controller = new AbortController();
    const reason = new Error("user cancelled");
    const epochs: number[] = [];
    const promise = trainGate(small(), {
      epochs: 30,
      patience: 30,
      signal: controller.signal,
      onProgress: ({ epoch }) => {
        epochs.push(epoch);
        if (epoch === 2) controller.abort(reason);
      },
    });
    await expect(promise).rejects.toBe(reason);
    expect(epochs).toEqual([1, 2]);
    await expect(trainGate(small(), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it("chooses the threshold: fixed, or the validation balanced-accuracy optimum", async () => {
    const fixed = await trainGate(small(), { epochs: 3, threshold: 0.3 });
    expect(fixed.threshold).toBe(0.3);
    expect(fixed.metrics.threshold).toBe(0.3);
    // The threshold does not affect training, so both runs have the same weights and validation split.
    const atHalf = await trainGate(small(20, 60), { epochs: 3 });
    const balanced = await trainGate(small(20, 60), { epochs: 3, threshold: "balanced" });
    expect(bytes(balanced.weights)).toEqual(bytes(atHalf.weights));
    expect(balanced.threshold).toBe(balanced.metrics.bestThreshold);
    expect(balanced.metrics.bestThreshold).toBe(atHalf.metrics.bestThreshold);
    expect(balanced.metrics.validation.balancedAccuracy).toBeGreaterThanOrEqual(
      atHalf.metrics.validation.balancedAccuracy,
    );
  });
});
