import { parseFeatureSpec, type FeatureSpec } from "../../core/features/featureSpec.js";
import { UsageError } from "../CliContext.js";

/** Validates `--gate-features` (`final` or `layer:K`, optionally `/mean`); undefined when not given. */
export function featureSpecFlag(value: string | undefined): FeatureSpec | undefined {
  if (value === undefined) return undefined;
  const spec = parseFeatureSpec(value);
  if (!spec) throw new UsageError("--gate-features must be final or layer:K (optionally /mean).");
  return spec;
}
