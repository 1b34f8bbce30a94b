import { AppError } from "../errors.js";
import type { GateSample } from "./Gate.js";

/** What {@link validateGateSamples} found. */
export interface GateSampleSummary {
  /** The common feature width. */
  inputSize: number;
  /** Samples labelled 1. */
  positives: number;
  /** Samples labelled 0. */
  negatives: number;
}

/**
 * Checks that every sample has a 0/1 label and a feature of finite numbers, all of one width (or of `inputSize` when
 * given, as when evaluating an existing gate).
 *
 * @throws AppError `gate/invalidFeatures` for an empty list, a bad label, a non-finite value or mixed widths;
 *   `gate/wrongWidth` for features of the wrong width for a given `inputSize`. Messages name the sample index.
 */
export function validateGateSamples(samples: readonly GateSample[], inputSize?: number): GateSampleSummary {
  if (samples.length === 0) throw new AppError("gate/invalidFeatures", "There are no samples.");
  const width = inputSize ?? samples[0]?.feature.length ?? 0;
  if (width < 1) throw new AppError("gate/invalidFeatures", "Sample 0 has an empty feature.");
  let positives = 0;
  samples.forEach(({ feature, label }, index) => {
    if (label === 1) positives++;
    else if (label !== 0) {
      throw new AppError("gate/invalidFeatures", `Sample ${index} has label ${String(label)}; labels are 0 or 1.`);
    }
    if (feature.length !== width) {
      throw inputSize === undefined
        ? new AppError(
            "gate/invalidFeatures",
            `Sample ${index} has ${feature.length} feature values but sample 0 has ${width}; all must be equally wide.`,
            { index, width: feature.length, expected: width },
          )
        : new AppError(
            "gate/wrongWidth",
            `Sample ${index} has ${feature.length} feature values; the gate expects ${width}.`,
            { index, width: feature.length, expected: width },
          );
    }
    for (let i = 0; i < width; i++) {
      const v = feature[i];
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new AppError("gate/invalidFeatures", `Sample ${index} has a non-finite feature value ${v} at ${i}.`, {
          index,
          position: i,
        });
      }
    }
  });
  return { inputSize: width, positives, negatives: samples.length - positives };
}
