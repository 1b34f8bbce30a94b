import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { DistillSettings } from "../distill/distillSettings.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import { DistillEta } from "./DistillEta.js";

const seconds = z.number().finite().nonnegative();
const count = z.number().finite().nonnegative();

const costFileSchema = z.object({
  schemaVersion: z.literal(1),
  context: z.object({
    rates: z.object({
      promptTokensPerSecond: z.number().finite().positive(),
      generatedTokensPerSecond: z.number().finite().positive(),
      trainTokensPerSecond: z.number().finite().positive(),
    }),
    tokensPerChar: z.number().finite().positive(),
    localJudge: z.boolean(),
    localGenerator: z.boolean(),
    featurePassFraction: z.number().finite().min(0).max(1),
    sequences: z.number().int().min(1).max(256).optional(),
  }),
  initial: z.object({
    stages: z
      .array(
        z.object({
          stage: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]),
          items: count,
          promptTokens: count,
          generatedTokens: count,
          trainTokens: count,
          seconds,
        }),
      )
      .length(5),
    totalSeconds: seconds,
    assumptions: z.array(z.string()),
  }),
  observed: z.object({
    queries: count.optional(),
    queryTokens: count.optional(),
    answerTokens: count.optional(),
    distill: count.optional(),
  }),
  stages: z.record(z.string().regex(/^[1-5]$/), z.object({ seconds, items: count, total: count })),
});

/** `cost.json` of a job directory: the calibration, the first estimate, what was observed and each stage's time. */
export type JobCostFile = z.infer<typeof costFileSchema>;

const FILE = "cost.json";

/** Writes the ETA's state so that a resumed job (another process, even) goes on converging from it. */
export async function writeJobCost(jobDir: string, eta: DistillEta): Promise<void> {
  const file: JobCostFile = {
    schemaVersion: 1,
    context: eta.context,
    initial: eta.initial,
    observed: eta.observations,
    stages: Object.fromEntries([...eta.stageRuns].map(([stage, run]) => [String(stage), run])),
  };
  await writeFileAtomic(join(jobDir, FILE), JSON.stringify(file, null, 2));
}

/**
 * The ETA a job left in `jobDir`, or undefined when there is none or it is unreadable: the ETA is advice, so a
 * damaged file costs the job its ETA, never its work.
 */
export async function readJobCost(jobDir: string, settings: DistillSettings): Promise<DistillEta | undefined> {
  let raw: string;
  try {
    raw = await readFile(join(jobDir, FILE), "utf8");
  } catch {
    return undefined;
  }
  let parsed: JobCostFile;
  try {
    parsed = costFileSchema.parse(JSON.parse(raw));
  } catch {
    return undefined;
  }
  const eta = new DistillEta(settings, parsed.context, parsed.initial);
  eta.observe(parsed.observed);
  for (const [stage, run] of Object.entries(parsed.stages)) eta.recordStage(Number(stage), run);
  return eta;
}
