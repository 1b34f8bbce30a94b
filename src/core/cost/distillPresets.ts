import type { DistillSettingsInput } from "../distill/distillSettings.js";

/** The named sizes of a distillation job (`prism distill --preset`, setting `prism.distill.preset`). */
export type DistillPreset = "quick" | "standard" | "paper";
export const DISTILL_PRESETS: readonly DistillPreset[] = ["quick", "standard", "paper"];

/** What a preset sets; everything else keeps the settings' defaults, and every value can be overridden. */
export interface PresetValues {
  /** Built-in personas to use when the user names none; undefined = all twelve. */
  personaIds?: readonly string[];
  queriesPerPersona: number;
  queryMaxTokens: number;
  answerMaxTokens: number;
  minDistill: number;
  epochs: number;
  contextSize: number;
}

/**
 * The presets (docs/method.md §7 gives the reasoning and what each loses):
 * - `paper`: the method's full settings — 12 personas × 50 queries, 512-token answers, 10 epochs.
 * Windows: 768 tokens holds every sample whole (a prompt of up to 255 tokens plus a 512-token answer) and keeps the
 * trainer within model + 3 GB on the 0.5B shape; 1024 costs 1.2 GB more for the same samples (docs/trainer.md §12).
 * - `standard`: every persona, a third of the queries, shorter answers, 3 epochs.
 * - `quick`: the smallest job that still gives the gate its 16 examples per class at a distill share as low as
 *   a fifth (96 queries) and the LoRA 16 samples; six personas spanning the built-in domains, 256-token answers,
 *   one epoch in 512-token windows (a second costs the 0.5B shape ~10 min on 2 cores: over the hour, measured).
 */
export const PRESET_VALUES: Readonly<Record<DistillPreset, PresetValues>> = {
  quick: {
    personaIds: ["writing", "reasoning", "coding", "stem", "humanities", "helpful"],
    queriesPerPersona: 16,
    queryMaxTokens: 120,
    answerMaxTokens: 256,
    minDistill: 16,
    epochs: 1,
    contextSize: 512,
  },
  standard: {
    queriesPerPersona: 16,
    queryMaxTokens: 160,
    answerMaxTokens: 384,
    minDistill: 24,
    epochs: 3,
    contextSize: 768,
  },
  paper: {
    queriesPerPersona: 50,
    queryMaxTokens: 200,
    answerMaxTokens: 512,
    minDistill: 32,
    epochs: 10,
    contextSize: 768,
  },
};

/** The settings a preset fills. */
type PresetFields = Partial<
  Pick<DistillSettingsInput, "queriesPerPersona" | "minDistill" | "query" | "answer" | "lora">
>;

/**
 * `input` with `preset`'s values wherever the caller left a value unset (explicit options win). Personas are the
 * caller's business: it applies `personaIds` to the built-in set only when the user chose none.
 */
export function applyPreset<T extends PresetFields>(preset: DistillPreset, input: T): T {
  const v = PRESET_VALUES[preset];
  return {
    ...input,
    queriesPerPersona: input.queriesPerPersona ?? v.queriesPerPersona,
    minDistill: input.minDistill ?? v.minDistill,
    query: { ...input.query, maxTokens: input.query?.maxTokens ?? v.queryMaxTokens },
    answer: { ...input.answer, maxTokens: input.answer?.maxTokens ?? v.answerMaxTokens },
    lora: {
      ...input.lora,
      epochs: input.lora?.epochs ?? v.epochs,
      contextSize: input.lora?.contextSize ?? v.contextSize,
    },
  };
}
