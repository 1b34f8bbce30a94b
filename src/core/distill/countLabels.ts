import { AppError } from "../errors.js";
import type { DistillLabel, DistillQuery } from "./distillRecords.js";
import type { DistillSettings } from "./distillSettings.js";

/** Distill/retain counts, overall and per persona (the bundle's report and the stage-5 guard). */
export function countLabels(queries: DistillQuery[], labels: Map<string, DistillLabel>, settings: DistillSettings) {
  const perPersona: Record<string, { queries: number; distill: number; retain: number; distillRate: number }> = {};
  for (const p of settings.personas) perPersona[p.id] = { queries: 0, distill: 0, retain: 0, distillRate: 0 };
  let distill = 0;
  for (const q of queries) {
    const entry = perPersona[q.personaId]!;
    entry.queries++;
    if (labels.get(q.id) === "distill") {
      entry.distill++;
      distill++;
    } else entry.retain++;
  }
  for (const entry of Object.values(perPersona)) entry.distillRate = entry.queries ? entry.distill / entry.queries : 0;
  return { queries: queries.length, distill, retain: queries.length - distill, perPersona };
}

/** The stage-5 guard, checked as soon as the labels are known: too few distill samples to train the LoRA. */
export function assertEnoughDistill(counts: { distill: number; retain: number }, settings: DistillSettings): void {
  if (counts.distill >= settings.minDistill) return;
  throw new AppError(
    "distill/emptyDataset",
    `Only ${counts.distill} of ${counts.distill + counts.retain} queries were labelled distill (the persona answer ` +
      `won both judge passes); at least ${settings.minDistill} are needed to train the LoRA. Generate more queries ` +
      "(--queries-per-persona), bring your own prompts, or use a stronger judge.",
    { distill: counts.distill, retain: counts.retain, minimum: settings.minDistill },
  );
}
