import { readFile } from "node:fs/promises";
import * as z from "zod";
import { AppError } from "../errors.js";

/** What PRISM writes to, and needs from, a PEFT `adapter_config.json` (docs/peft.md §4). */
export interface PeftLoraConfig {
  /** `base_model_name_or_path`. */
  baseModel: string;
  /** `r`. */
  rank: number;
  /** `lora_alpha`: PEFT scales the update by `lora_alpha / r`, llama.cpp by `adapter.lora.alpha / r`. */
  alpha: number;
  /** `target_modules`: the module names (`q_proj`), or PEFT's regular-expression form. */
  targetModules: string[] | string;
  /** `layers_to_transform`: the layers that carry LoRA, or null for all. */
  layers: number[] | null;
}

/**
 * The `adapter_config.json` of a PEFT LoRA for a causal LM, with every field `LoraConfig` saves set to the value
 * that means "plain LoRA": no dropout at inference, no DoRA or rsLoRA, no bias, no extra saved modules.
 */
export function peftConfigJson(config: PeftLoraConfig): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: config.baseModel,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: config.layers,
    lora_alpha: config.alpha,
    lora_dropout: 0,
    modules_to_save: null,
    peft_type: "LORA",
    r: config.rank,
    rank_pattern: {},
    revision: null,
    target_modules: config.targetModules,
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: false,
  };
}

const patternRecord = z.union([z.null(), z.record(z.string(), z.unknown())]);
// PEFT writes many more fields, version to version; those that change the arithmetic are checked, the rest ignored.
const configSchema = z.object({
  peft_type: z.string(),
  task_type: z.string().nullish(),
  r: z.int().min(1).max(65_536),
  lora_alpha: z.number().positive(),
  target_modules: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
  base_model_name_or_path: z.string().nullish(),
  layers_to_transform: z.union([z.null(), z.int().min(0), z.array(z.int().min(0))]).optional(),
  bias: z.string().optional(),
  use_dora: z.boolean().optional(),
  use_rslora: z.boolean().optional(),
  fan_in_fan_out: z.boolean().optional(),
  modules_to_save: z.union([z.null(), z.array(z.string())]).optional(),
  rank_pattern: patternRecord.optional(),
  alpha_pattern: patternRecord.optional(),
});

/**
 * Reads and checks a PEFT `adapter_config.json`. A LoRA whose arithmetic llama.cpp's LoRA cannot reproduce is
 * refused rather than converted wrong: DoRA, rsLoRA, trained biases, extra saved modules, per-module ranks or
 * alphas, `fan_in_fan_out` weights.
 *
 * @throws AppError `peft/notFound`; `peft/invalidConfig` (not JSON, a missing or mistyped field, a peft_type
 *   other than LORA, a task other than CAUSAL_LM); `peft/unsupportedConfig` naming the feature.
 */
export async function readPeftConfig(path: string): Promise<PeftLoraConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AppError("peft/notFound", `No PEFT adapter config at ${path}.`, undefined, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError("peft/invalidConfig", `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      "peft/invalidConfig",
      `${path}: ${issue?.path.join(".") || "the top level"}: ${issue?.message}.`,
    );
  }
  const c = parsed.data;
  if (c.peft_type !== "LORA")
    throw new AppError("peft/invalidConfig", `${path}: peft_type is "${c.peft_type}", not "LORA".`);
  if (c.task_type != null && c.task_type !== "CAUSAL_LM") {
    throw new AppError(
      "peft/invalidConfig",
      `${path}: task_type is "${c.task_type}"; PRISM adapts causal LMs (CAUSAL_LM).`,
    );
  }
  const unsupported = [
    c.use_dora && "DoRA (use_dora)",
    c.use_rslora && "rsLoRA (use_rslora)",
    c.bias !== undefined && c.bias !== "none" && `trained biases (bias: "${c.bias}")`,
    c.fan_in_fan_out && "fan_in_fan_out weights",
    c.modules_to_save && c.modules_to_save.length > 0 && "modules_to_save",
    Object.keys(c.rank_pattern ?? {}).length > 0 && "per-module ranks (rank_pattern)",
    Object.keys(c.alpha_pattern ?? {}).length > 0 && "per-module alphas (alpha_pattern)",
  ].filter((x): x is string => typeof x === "string");
  if (unsupported.length > 0) {
    throw new AppError(
      "peft/unsupportedConfig",
      `${path} uses ${unsupported.join(", ")}, which a llama.cpp LoRA cannot express.`,
      { unsupported },
    );
  }
  const layers = c.layers_to_transform;
  return {
    baseModel: c.base_model_name_or_path ?? "",
    rank: c.r,
    alpha: c.lora_alpha,
    targetModules: c.target_modules,
    layers: layers === undefined || layers === null ? null : typeof layers === "number" ? [layers] : layers,
  };
}
