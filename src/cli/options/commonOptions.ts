/**
 * The options several commands share, declared once so that their names, limits, messages and help read the same
 * everywhere. Commands spread the groups into their option table (`{ ...ENGINE_OPTIONS, … }`) or call the factories
 * where a limit or default differs between commands.
 */
import { loraSettingsSchema } from "../../core/distill/distillSettings.js";
import { parseFeatureSpec, type FeatureSpec } from "../../core/features/featureSpec.js";
import { defaultThreadCount } from "../../core/util/defaultThreadCount.js";
import { gpuChoiceSchema } from "../../protocol/engineProtocol.js";
import {
  choiceOption,
  customOption,
  flagOption,
  intOption,
  numberOption,
  stringOption,
  type CliOption,
} from "./CliOption.js";

/** The largest context any command accepts, in tokens. */
const MAX_CONTEXT = 1_048_576;

/** `--model`, the GGUF file a command loads: required. */
export const MODEL_OPTION = stringOption({
  valueName: "<m.gguf>",
  description: "the GGUF model to load",
  required: true,
});

/** `--bundle`, a distilled bundle: required. */
export const BUNDLE_OPTION = stringOption({ valueName: "<b.prism>", description: "the PRISM bundle", required: true });

/** `--model` where a bundle records its own: optional. */
export const BUNDLE_MODEL_OPTION = stringOption({
  valueName: "<m.gguf>",
  description: "the base model, when it is no longer at the path the bundle records",
  defaultText: "the model the bundle was distilled from",
});

/**
 * `--threads` and `--gpu`, the engine's two knobs, for every command that loads a model. Threads default to the
 * physical cores: more make llama.cpp's CPU pool collapse (`defaultThreadCount`, docs/engine.md §4).
 */
export const ENGINE_OPTIONS = {
  threads: intOption({
    description: "CPU threads of the engine",
    min: 1,
    max: 1024,
    default: () => defaultThreadCount(),
    defaultText: "the physical cores",
  }),
  gpu: choiceOption({
    description: "the GPU backend; false runs on the CPU",
    choices: gpuChoiceSchema.options,
    default: "auto",
  }),
};

/**
 * `--context`, the context size in tokens. Commands differ in the smallest size they accept and in who picks the
 * default (the model's own length, or the synthetic model's shape), so both are parameters.
 */
export function contextOption(o: { min: number; defaultText: string }): CliOption<number | undefined> {
  return intOption({ description: "the context size in tokens", max: MAX_CONTEXT, ...o });
}

/** The default `--context` of commands that run a loaded model: its trained length, capped to bound memory. */
export const MODEL_CONTEXT_DEFAULT = "the model's context length, at most 4096";

/**
 * `--seed`. The engine's sampling seed is 32-bit; seeds of jobs and files are 31-bit (they are mixed into per-item
 * seeds, `itemSeed`), so the limit is a parameter.
 */
export function seedOption<D = undefined>(o: {
  description: string;
  max: number;
  default?: D;
  defaultText?: string;
}): CliOption<number | NoInfer<D>> {
  return intOption({ min: 0, ...o });
}

/** The seed limit of jobs, models and trainer runs. */
export const JOB_SEED_MAX = 2 ** 31 - 1;

/** `--json`: a machine-readable result on stdout instead of text. */
export function jsonOption(what: string): CliOption<boolean> {
  return flagOption(`print ${what} as JSON on stdout`);
}

/** `--max-tokens`, the most tokens one answer may have. */
export function maxTokensOption<D = undefined>(o: {
  max: number;
  default?: D;
  defaultText?: string;
}): CliOption<number | NoInfer<D>> {
  return intOption({ description: "the most tokens an answer may have", min: 1, ...o });
}

/** `--gate-features`: which hidden state feeds the gate (`featureSpec.ts`, docs/method.md §3.4). */
export function gateFeaturesOption<D = undefined>(o: {
  default?: D;
  defaultText?: string;
}): CliOption<FeatureSpec | NoInfer<D>> {
  return customOption({
    valueName: "final|layer:K[/mean]",
    description: "the gate's input: the final embedding, or the state after block K-1 (last or mean token)",
    convert: parseFeatureSpec,
    error: "must be final or layer:K (optionally /mean).",
    ...o,
  });
}

/** `--fresh`: discard the job directory and start over instead of resuming. */
export const FRESH_OPTION = flagOption("discard the unfinished job (<out>.job/) and start over instead of resuming");

/** The LoRA settings the schema applies to absent fields. */
export const LORA_DEFAULTS = loraSettingsSchema.parse({});

/**
 * The LoRA settings `prism distill` and `prism train` share. Absent ones stay undefined so that the settings schema
 * (`loraSettingsSchema`) applies its defaults, the single source the extension uses too; help reads them from it.
 */
export const LORA_OPTIONS = {
  epochs: intOption({
    description: "training epochs of the LoRA",
    min: 1,
    max: 1000,
    defaultText: String(LORA_DEFAULTS.epochs),
  }),
  rank: intOption({ description: "LoRA rank", min: 1, max: 512, defaultText: String(LORA_DEFAULTS.rank) }),
  alpha: numberOption({
    valueName: "A",
    description: "LoRA alpha (the update is scaled by alpha / rank)",
    min: 0.001,
    max: 4096,
    defaultText: String(LORA_DEFAULTS.alpha),
  }),
  lr: numberOption({
    description: "learning rate of the LoRA",
    min: 1e-8,
    max: 1,
    defaultText: String(LORA_DEFAULTS.learningRate),
  }),
  window: intOption({
    description: "training window in tokens",
    min: 256,
    max: 131_072,
    defaultText: String(LORA_DEFAULTS.contextSize),
  }),
};

/** `--loss`: `kl` (distil the teacher's top-k) or `sft` (cross-entropy on the answer). */
export function lossOption(defaultText: string): CliOption<"kl" | "sft" | undefined> {
  return choiceOption({
    description: "the training loss: kl to the teacher's top-k, or sft (cross-entropy on the answer)",
    choices: ["kl", "sft"] as const,
    defaultText,
  });
}

/** The loss the settings schema picks when `--loss` is absent. */
export const DEFAULT_LOSS = LORA_DEFAULTS.loss;
