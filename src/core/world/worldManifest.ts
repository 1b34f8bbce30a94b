import * as z from "zod";

/** One prompt of a world file (`heldout.jsonl`, `prompts.jsonl`). */
export const worldPromptSchema = z.object({
  id: z.string().min(1),
  family: z.enum(["discriminative", "generative"]),
  task: z.enum(["add", "capital", "choice", "greet", "describe", "advise"]),
  /** `prompt` so that the file is also a `prism distill --prompts` file. */
  prompt: z.string().min(1),
  persona: z.string().optional(),
  expected: z.string(),
  personaAnswer: z.string(),
  topic: z.string().optional(),
});
/** One prompt of a world file. */
export type WorldPromptLine = z.infer<typeof worldPromptSchema>;

const fileEntry = z.object({ path: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number() });

/** `world.json`: what was built, from which recipe, with checksums. Written last, so its presence means complete. */
export const worldManifestSchema = z.object({
  kind: z.literal("prism-world"),
  schemaVersion: z.literal(1),
  recipeHash: z.string(),
  recipe: z.object({
    version: z.number().int(),
    seed: z.number().int(),
    reduced: z.boolean(),
    corpus: z.object({ generativeShare: z.number(), echoSums: z.boolean() }),
    shape: z.object({
      blocks: z.number(),
      embeddingLength: z.number(),
      headCount: z.number(),
      headCountKv: z.number(),
      feedForwardLength: z.number(),
      contextLength: z.number(),
      weightType: z.enum(["f32", "f16"]),
      vocab: z.string(),
    }),
    training: z.object({
      epochs: z.number(),
      learningRate: z.number(),
      schedule: z.literal("cosine"),
      contextSize: z.number(),
      evalFraction: z.number(),
      trainEmbeddings: z.boolean(),
      threads: z.number(),
    }),
  }),
  persona: z.string().min(1),
  personaId: z.string().min(1),
  facts: z.array(z.object({ country: z.string(), capital: z.string(), decoy: z.string() })),
  files: z.object({ model: fileEntry, corpus: fileEntry, heldOut: fileEntry, prompts: fileEntry }),
  counts: z.object({
    trainExamples: z.number().int(),
    trainTokens: z.number().int(),
    parameters: z.number().int(),
    heldOut: z.object({ discriminative: z.number().int(), generative: z.number().int() }),
    prompts: z.object({ discriminative: z.number().int(), generative: z.number().int() }),
  }),
  training: z.object({
    seconds: z.number(),
    steps: z.number().nullable(),
    resumed: z.boolean(),
    epochs: z.array(z.object({ epoch: z.number(), trainLoss: z.number().nullable(), evalLoss: z.number().nullable() })),
  }),
  builtAt: z.string(),
});
/** `world.json`. */
export type WorldManifest = z.infer<typeof worldManifestSchema>;

/** The persona id used for the world's one persona in distillation. */
export const WORLD_PERSONA_ID = "sunny";
