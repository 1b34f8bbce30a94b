import type { GateSample } from "../../../src/core/gate/Gate.js";
import { SeededRandom } from "../../../src/core/util/SeededRandom.js";

/** Options of {@link syntheticGateSamples}. */
export interface SyntheticGateSamplesOptions {
  /** "clusters": two Gaussian clusters; "linearRule": label = sign(x3 + x17 − x42) with a margin, in pure noise. */
  task: "clusters" | "linearRule";
  /** Feature width. */
  width: number;
  /** Samples labelled 1. */
  positives: number;
  /** Samples labelled 0. */
  negatives: number;
  /** PRNG seed; the task's geometry (cluster direction, offsets) depends only on `task` and `width`. */
  seed: number;
  /** For "clusters": distance of each cluster mean from the origin, in noise standard deviations. Defaults to 3. */
  separation?: number;
}

/**
 * Labelled features for gate tests. Every dimension also gets its own offset and scale so standardisation has
 * something to do, and the features are float32 like real embeddings. Draws from the same task with different seeds
 * are independent samples of one distribution, so one seed can train and another test.
 */
export function syntheticGateSamples(options: SyntheticGateSamplesOptions): GateSample[] {
  const { task, width, seed, separation = 3 } = options;
  const geometry = new SeededRandom(width * 7919 + (task === "clusters" ? 1 : 2));
  const direction = Array.from({ length: width }, () => geometry.normal());
  const norm = Math.hypot(...direction);
  const offset = Array.from({ length: width }, () => geometry.normal() * 5);
  const scale = Array.from({ length: width }, () => Math.exp(geometry.normal()));
  const rng = new SeededRandom(seed);
  const labels: (0 | 1)[] = [...Array<1>(options.positives).fill(1), ...Array<0>(options.negatives).fill(0)];
  return labels.map((label) => {
    const raw = new Float64Array(width);
    if (task === "clusters") {
      for (let i = 0; i < width; i++) raw[i] = rng.normal() + ((label ? 1 : -1) * separation * direction[i]) / norm;
    } else {
      // Rejection-sample until the rule agrees with the label by a margin, so the task is separable.
      for (;;) {
        for (let i = 0; i < width; i++) raw[i] = rng.normal();
        const rule = raw[3] + raw[17 % width] - raw[42 % width];
        if ((label === 1 && rule > 0.5) || (label === 0 && rule < -0.5)) break;
      }
    }
    return { feature: Float32Array.from(raw, (v, i) => v * scale[i] + offset[i]), label };
  });
}
