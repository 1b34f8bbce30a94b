import * as z from "zod";

const scores = z.object({ discriminativeAccuracy: z.number(), generativeScore: z.number() });
const perFamily = z.object({ discriminative: z.number(), generative: z.number() });

/** One held-out prompt's three answers and the gate's verdict. */
export const evaluationRowSchema = z.object({
  id: z.string(),
  family: z.enum(["discriminative", "generative"]),
  task: z.string(),
  prompt: z.string(),
  expected: z.string(),
  base: z.string(),
  persona: z.string(),
  prism: z.string(),
  probability: z.number(),
  routed: z.enum(["base", "persona"]),
});
/** One held-out prompt's answers. */
export type EvaluationRow = z.infer<typeof evaluationRowSchema>;

/**
 * `prism eval`'s result (also saved as `<bundle>/evaluation.json` and shown in the report view). Win rates count
 * a tie as half a win; routing rates are the share of prompts sent to the adapter; gate accuracy is the share of
 * held-out prompts routed as their family asks (generative → adapter, discriminative → base).
 */
export const worldEvaluationSchema = z.object({
  kind: z.literal("prism-world-eval"),
  schemaVersion: z.literal(1),
  world: z.object({
    dir: z.string(),
    seed: z.number(),
    reduced: z.boolean(),
    recipeHash: z.string(),
    heldOut: perFamily,
  }),
  bundle: z.string(),
  base: scores,
  persona: scores,
  prism: scores,
  personaVsBaseWinRate: z.number(),
  prismVsBaseWinRate: z.number(),
  winRates: z.object({ persona: perFamily, prism: perFamily }),
  routing: perFamily,
  gateAccuracy: z.number(),
  /** The gate's accuracy on stage 4's own validation split (judge labels), from the bundle's report. */
  gateValidationAccuracy: z.number().nullable(),
  perTask: z.record(z.string(), z.object({ n: z.number(), base: z.number(), persona: z.number(), prism: z.number() })),
  goals: z.object({
    discriminative: z.object({ target: z.number(), met: z.boolean() }),
    generative: z.object({ target: z.number(), met: z.boolean() }),
    gate: z.object({ target: z.number(), met: z.boolean() }),
  }),
  seconds: z.number(),
  evaluatedAt: z.string(),
  rows: z.array(evaluationRowSchema).optional(),
});
/** `prism eval`'s result. */
export type WorldEvaluation = z.infer<typeof worldEvaluationSchema>;

/** The goals: PRISM accuracy ≥ base − 1 point; PRISM rubric ≥ 90 % of the persona prompt's; gate ≥ 90 %. */
export const EVAL_GOALS = Object.freeze({ accuracyDrop: 0.01, rubricShare: 0.9, gateAccuracy: 0.9 });
