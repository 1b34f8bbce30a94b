import { describe, expect, it } from "vitest";
import { AppError } from "../../../src/core/errors.js";
import { GATE_HIDDEN_SIZES, Gate, gateWeightsProblem, sigmoid, type GateWeights } from "../../../src/core/gate/Gate.js";
import { erf, erfc, gelu, geluDerivative } from "../../../src/core/gate/gelu.js";
import { SeededRandom } from "../../../src/core/util/SeededRandom.js";

/**
 * A 2 → 2 → 2 → 1 network whose output was computed by hand in float64 with Python's math.erf (every weight is
 * exact in float32):
 *   x  = ([3, -2] − [1, -1]) / [2, 0.5]           = [1, -2]
 *   z1 = I·x                                        = [1, -2]
 *   z2 = [[2, -1], [0.5, 0.25]]·gelu(z1) + [-1, 0.5] = [0.7281897560334443, 0.9092973070601819]
 *   z  = [1, -2]·gelu(z2) + 0.25                     = -0.6800035757117746
 *   p  = σ(z)                                        = 0.3362605045342945
 * With the tanh GELU: z = -0.6801143993191763, p = 0.3362357703311896.
 */
function tinyWeights(activation: GateWeights["activation"] = "gelu"): GateWeights {
  return {
    inputSize: 2,
    hidden: [2, 2],
    activation,
    mean: Float32Array.of(1, -1),
    std: Float32Array.of(2, 0.5),
    w1: Float32Array.of(1, 0, 0, 1),
    b1: Float32Array.of(0, 0),
    w2: Float32Array.of(2, -1, 0.5, 0.25),
    b2: Float32Array.of(-1, 0.5),
    w3: Float32Array.of(1, -2),
    b3: 0.25,
  };
}

/** Random weights of the standard shape for width `h`. */
function randomWeights(h: number, seed = 1): GateWeights {
  const rng = new SeededRandom(seed);
  const [h1, h2] = GATE_HIDDEN_SIZES;
  const normal = (n: number, std: number): Float32Array => rng.fillNormal(new Float32Array(n), std);
  return {
    inputSize: h,
    hidden: [h1, h2],
    activation: "gelu",
    mean: normal(h, 1),
    std: Float32Array.from(normal(h, 1), (v) => Math.abs(v) + 0.1),
    w1: normal(h1 * h, Math.sqrt(2 / h)),
    b1: normal(h1, 0.1),
    w2: normal(h2 * h1, Math.sqrt(2 / h1)),
    b2: normal(h2, 0.1),
    w3: normal(h2, Math.sqrt(1 / h2)),
    b3: 0.1,
  };
}

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError");
}

describe("gelu", () => {
  it("erf and erfc match reference values to double precision", () => {
    // Python math.erf / math.erfc.
    const erfReference: [number, number][] = [
      [0, 0],
      [1e-3, 0.0011283787909692363],
      [0.5, 0.5204998778130465],
      [-1.5, -0.9661051464753108],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
    ];
    for (const [x, y] of erfReference) expect(Math.abs(erf(x) - y)).toBeLessThan(2e-15);
    expect(erfc(4) / 1.541725790028002e-8).toBeCloseTo(1, 12);
    expect(erfc(-3)).toBeCloseTo(1.9999779095030015, 14);
    expect(erf(40)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
  });

  it("has the right values and derivatives in both forms", () => {
    expect(gelu(1, "gelu")).toBeCloseTo(0.8413447460685429, 14);
    expect(gelu(-2, "gelu")).toBeCloseTo(-0.04550026389635842, 14);
    // The left tail keeps its relative precision (Φ comes from erfc, not 1 + erf).
    expect(gelu(-5, "gelu") / -1.4332578593959731e-6).toBeCloseTo(1, 10);
    expect(gelu(1, "geluTanh")).toBeCloseTo(0.8411919906082768, 12);
    for (const activation of ["gelu", "geluTanh"] as const) {
      for (const x of [-3, -0.7, 0, 0.4, 2.5]) {
        const h = 1e-4;
        const numeric = (gelu(x + h, activation) - gelu(x - h, activation)) / (2 * h);
        expect(geluDerivative(x, activation)).toBeCloseTo(numeric, 5);
      }
    }
  });
});

describe("Gate", () => {
  it("matches a hand-computed tiny network (exact GELU)", () => {
    const gate = new Gate(tinyWeights());
    expect(gate.inputSize).toBe(2);
    expect(gate.logit([3, -2])).toBeCloseTo(-0.6800035757117746, 12);
    expect(gate.predict([3, -2])).toBeCloseTo(0.3362605045342945, 12);
    expect(gate.predict(Float32Array.of(3, -2))).toBe(gate.predict([3, -2]));
  });

  it("matches a hand-computed tiny network (tanh GELU)", () => {
    const gate = new Gate(tinyWeights("geluTanh"));
    expect(gate.logit([3, -2])).toBeCloseTo(-0.6801143993191763, 12);
    expect(gate.predict([3, -2])).toBeCloseTo(0.3362357703311896, 12);
  });

  it("floors a zero std instead of dividing by zero", () => {
    const weights = tinyWeights();
    weights.std = Float32Array.of(0, 0.5);
    const gate = new Gate(weights);
    // At the mean the constant dimension contributes exactly 0, as in training.
    weights.std[0] = 1;
    expect(gate.logit([1, -2])).toBe(new Gate(weights).logit([1, -2]));
    expect(Number.isFinite(gate.predict([1 + 1e-3, -2]))).toBe(true);
  });

  it("rejects features of the wrong width or with non-finite values", () => {
    const gate = new Gate(tinyWeights());
    expect(thrown(() => gate.predict([1, 2, 3]))).toMatchObject({ code: "gate/wrongWidth", message: /3 values.*2/ });
    expect(thrown(() => gate.predict([1, NaN]))).toMatchObject({ code: "gate/invalidFeatures", message: /1 is NaN/ });
    expect(thrown(() => gate.predict([Infinity, 0]))).toMatchObject({ code: "gate/invalidFeatures" });
  });

  it("rejects inconsistent weights, naming the array", () => {
    const cases: [Partial<GateWeights>, RegExp][] = [
      [{ w2: new Float32Array(3) }, /w2 has 3 values, expected 2 × 2 = 4/],
      [{ mean: Float32Array.of(0, NaN) }, /mean\[1\] is NaN/],
      [{ std: Float32Array.of(1, -2) }, /std\[1\] is -2/],
      [{ b3: Infinity }, /b3 is Infinity/],
      [{ inputSize: 0 }, /inputSize is 0/],
      [{ activation: "relu" as GateWeights["activation"] }, /activation "relu"/],
    ];
    for (const [patch, message] of cases) {
      const weights = { ...tinyWeights(), ...patch };
      expect(gateWeightsProblem(weights)).toMatch(message);
      expect(thrown(() => new Gate(weights))).toMatchObject({ code: "gate/invalid", message });
    }
  });

  it("sigmoid is stable in both tails", () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(800)).toBe(1);
    expect(sigmoid(-800)).toBe(0);
    expect(sigmoid(-30)).toBeGreaterThan(0);
  });

  it("prints the cost of predict() at h = 3584 and h = 4096", () => {
    for (const h of [3584, 4096]) {
      const gate = new Gate(randomWeights(h));
      const rng = new SeededRandom(2);
      const features = Array.from({ length: 8 }, () => rng.fillNormal(new Float32Array(h)));
      for (let i = 0; i < 100; i++) gate.predict(features[i % 8]);
      const runs = 500;
      const start = performance.now();
      let sink = 0;
      for (let i = 0; i < runs; i++) sink += gate.predict(features[i % 8]);
      const micros = ((performance.now() - start) / runs) * 1000;
      expect(Number.isFinite(sink)).toBe(true);
      console.log(`Gate.predict at h = ${h}: ${micros.toFixed(0)} µs per call (mean of ${runs})`);
    }
  });
});
