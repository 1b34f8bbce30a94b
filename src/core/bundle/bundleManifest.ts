import * as z from "zod";
import { featureSpecSchema } from "../features/featureSpec.js";
import { modelIdentitySchema } from "../model/modelIdentity.js";
import { personaSchema } from "../pipeline/personas.js";

/** The bundle format version this build reads and writes. */
export const BUNDLE_SCHEMA_VERSION = 1;

/** `manifest.json` of a `<name>.prism` bundle. */
export const bundleManifestSchema = z.object({
  schemaVersion: z.literal(BUNDLE_SCHEMA_VERSION),
  name: z.string(),
  createdAt: z.string(),
  /** The base model the adapter and gate were made for (and only for). */
  baseModel: modelIdentitySchema.extend({ fileName: z.string() }),
  personas: z.array(personaSchema).min(1),
  featureSpec: featureSpecSchema,
  threshold: z.number().min(0).max(1),
  adapter: z.object({
    file: z.literal("adapter.gguf"),
    rank: z.number().int().positive(),
    alpha: z.number(),
    /** Blocks below this have no LoRA tensors (the gate reads them). */
    firstBlock: z.number().int().nonnegative(),
    targets: z.array(z.string()),
  }),
  gateFile: z.literal("gate.json"),
  /** The distillation settings, for provenance and re-runs. */
  training: z.record(z.string(), z.unknown()),
  /** Headline numbers; the full ones are in report.json. */
  metrics: z.object({
    queries: z.number().int(),
    distill: z.number().int(),
    retain: z.number().int(),
    gateValidationAccuracy: z.number().nullable(),
    gateValidationAuc: z.number().nullable(),
  }),
});
/** `manifest.json` of a bundle. */
export type BundleManifest = z.infer<typeof bundleManifestSchema>;
