import { gpuChoiceSchema, type GpuChoice } from "../../protocol/engineProtocol.js";
import { UsageError } from "../CliContext.js";

/** Validates `--gpu`. Defaults to `auto`. */
export function gpuFlag(value: string | undefined): GpuChoice {
  if (value === undefined) return "auto";
  const parsed = gpuChoiceSchema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(`--gpu must be one of ${gpuChoiceSchema.options.join(", ")}, got "${value}".`);
  return parsed.data;
}
