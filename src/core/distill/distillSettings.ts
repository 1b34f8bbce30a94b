import { createHash } from "node:crypto";
import * as z from "zod";
import { featureSpecSchema } from "../features/featureSpec.js";
import { modelIdentitySchema } from "../model/modelIdentity.js";
import { LORA_TARGETS } from "../model/trainerSupport.js";
import { personaSchema } from "../pipeline/personas.js";

const decoding = (temperature: number, maxTokens: number) =>
  z
    .object({
      temperature: z.number().min(0).max(5).default(temperature),
      maxTokens: z.number().int().min(1).max(32_768).default(maxTokens),
    })
    .prefault({});

/** LoRA training settings of stage 5 (docs/method.md §3.5, docs/trainer.md §10). */
export const loraSettingsSchema = z
  .object({
    rank: z.number().int().min(1).max(512).default(16),
    alpha: z.number().positive().max(4096).default(32),
    /**
     * Block weights to adapt. Stage 5 keeps those the base model has, mapping q/k/v to a fused `attn_qkv` and
     * `ffn_gate` to a fused gate-up `ffn_up` (phi3). Defaults to all seven split projections.
     */
    targets: z
      .array(z.enum(LORA_TARGETS))
      .min(1)
      .default(["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]),
    epochs: z.number().int().min(1).max(1000).default(10),
    learningRate: z.number().positive().max(1).default(2e-4),
    weightDecay: z.number().min(0).max(1).default(0.01),
    /** Window length in tokens (a multiple of 256). */
    contextSize: z.number().int().min(256).max(131_072).default(768),
    /**
     * `kl` (the paper's): KL to the persona-prompted teacher's top-64 at T = 2; measured better than `sft`
     * (cross-entropy on the persona answer) on every seed of src/trainer/README.md's study. Defaults to `kl`.
     */
    loss: z.enum(["sft", "kl"]).default("kl"),
  })
  .prefault({});
/** LoRA training settings of stage 5. */
export type LoraSettings = z.output<typeof loraSettingsSchema>;

/**
 * Everything that determines a distillation job's output. A re-run with the same settings resumes; with
 * different settings it is refused (`job/settingsChanged`), so one job directory never mixes two runs.
 */
export const distillSettingsSchema = z.object({
  /** The base model: path plus identity (architecture, shapes digest, size, content hash). */
  model: modelIdentitySchema.extend({ path: z.string() }),
  personas: z.array(personaSchema).min(1, "at least one persona is needed"),
  /** Generated queries per persona (stage 1); 0 = only the user's prompts. */
  queriesPerPersona: z.number().int().min(0).max(10_000).default(50),
  /** The user's own prompts; those without a persona are assigned personas round-robin. */
  userPrompts: z.array(z.object({ prompt: z.string().min(1), personaId: z.string().optional() })).default([]),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(42),
  featureSpec: featureSpecSchema.default({ source: "layer", layer: 1, pooling: "last" }),
  query: decoding(0.9, 200),
  answer: decoding(0.7, 512),
  /** Stage 3 judge and stages 1–2 generator, as descriptions (they change the data, so they are settings). */
  judge: z.string(),
  generator: z.string(),
  gate: z
    .object({
      minPerClass: z.number().int().min(1).default(16),
      threshold: z.union([z.number().min(0).max(1), z.literal("balanced")]).default(0.5),
    })
    .prefault({}),
  /** Fewest distill samples the LoRA is trained on; fewer fail with `distill/emptyDataset`. */
  minDistill: z.number().int().min(1).default(32),
  lora: loraSettingsSchema,
});
/** Everything that determines a distillation job's output. */
export type DistillSettings = z.output<typeof distillSettingsSchema>;
/** Distillation settings before defaults. */
export type DistillSettingsInput = z.input<typeof distillSettingsSchema>;

/** A stable hash of the settings that decide the output (the model path may move; its content may not). */
export function settingsHash(settings: DistillSettings): string {
  const { model, ...rest } = settings;
  const { path: _path, ...identity } = model;
  return createHash("sha256")
    .update(canonicalJson({ model: identity, ...rest }))
    .digest("hex")
    .slice(0, 32);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A deterministic 32-bit seed for one item: same job seed and item, same seed, in any run order. */
export function itemSeed(jobSeed: number, key: string): number {
  let h = (0x811c9dc5 ^ jobSeed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}
