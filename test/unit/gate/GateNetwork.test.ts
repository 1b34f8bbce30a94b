import { describe, expect, it } from "vitest";
import { Gate } from "../../../src/core/gate/Gate.js";
import { GateNetwork } from "../../../src/core/gate/GateNetwork.js";
import { SeededRandom } from "../../../src/core/util/SeededRandom.js";

const INPUT = 7;
const HIDDEN: [number, number] = [5, 3];
/** Six rows: one block of four plus a remainder of two, so both paths of the batched first layer run. */
const BATCH = 6;

function setup(activation: "gelu" | "geluTanh"): {
  network: GateNetwork;
  inputs: Float64Array[];
  dLogits: Float64Array;
} {
  const rng = new SeededRandom(3);
  const network = new GateNetwork(INPUT, HIDDEN, activation, rng.fork("net"));
  // Non-zero biases so every parameter's gradient path is exercised.
  for (let p = 0; p < network.params.length; p++) network.params[p] += rng.normal() * 0.1;
  const inputs = Array.from({ length: BATCH }, () => Float64Array.from({ length: INPUT }, () => rng.normal()));
  const dLogits = Float64Array.from({ length: BATCH }, () => rng.normal());
  return { network, inputs, dLogits };
}

/** Σ dLogits[b] · logit[b], the scalar whose gradient backward() computes. */
function objective(network: GateNetwork, inputs: Float64Array[], dLogits: Float64Array): number {
  const logits = new Float64Array(BATCH);
  network.forward(inputs, BATCH, logits);
  return logits.reduce((sum, z, b) => sum + z * dLogits[b], 0);
}

describe("GateNetwork", () => {
  for (const activation of ["gelu", "geluTanh"] as const) {
    it(`backward() matches finite differences for every parameter (${activation})`, () => {
      const { network, inputs, dLogits } = setup(activation);
      objective(network, inputs, dLogits);
      network.backward(inputs, BATCH, dLogits);
      const analytic = network.grads.slice();
      const h = 1e-6;
      for (let p = 0; p < network.params.length; p++) {
        const saved = network.params[p];
        network.params[p] = saved + h;
        const up = objective(network, inputs, dLogits);
        network.params[p] = saved - h;
        const down = objective(network, inputs, dLogits);
        network.params[p] = saved;
        expect(analytic[p]).toBeCloseTo((up - down) / (2 * h), 6);
      }
    });
  }

  it("forward() agrees with Gate on the exported float32 weights", () => {
    const { network, inputs } = setup("gelu");
    // Round the parameters to float32 first, so both sides compute with the same values.
    network.params.set(Float32Array.from(network.params));
    const logits = new Float64Array(BATCH);
    network.forward(inputs, BATCH, logits);
    const gate = new Gate(network.toWeights(new Float32Array(INPUT), new Float32Array(INPUT).fill(1)));
    inputs.forEach((x, b) => expect(gate.logit(x)).toBeCloseTo(logits[b], 12));
  });

  it("an AdamW step moves against the gradient and decays the weights", () => {
    const { network, inputs, dLogits } = setup("gelu");
    objective(network, inputs, dLogits);
    network.backward(inputs, BATCH, dLogits);
    const before = network.params.slice();
    const grads = network.grads.slice();
    network.adamW({ lr: 1e-3, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    // The first bias-corrected Adam step is lr · g / (|g| + eps): about lr against the gradient's sign.
    for (let p = 0; p < before.length; p++) {
      if (Math.abs(grads[p]) > 1e-4) expect(network.params[p] - before[p]).toBeCloseTo(-1e-3 * Math.sign(grads[p]), 6);
    }
    network.grads.fill(0);
    const decayed = network.params.slice();
    network.adamW({ lr: 0.1, weightDecay: 0.5, beta1: 0, beta2: 0, eps: 1e-8 });
    expect(network.params[0]).toBeCloseTo(decayed[0] * 0.95, 12);
  });
});
