import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FeatureExtractor } from "../features/FeatureExtractor.js";
import { AppError } from "../errors.js";
import { protectedBlocks } from "../features/featureSpec.js";
import { Gate } from "../gate/Gate.js";
import { writeGateFile } from "../gate/gateFile.js";
import type { GateMetrics } from "../gate/gateMetrics.js";
import { trainGate } from "../gate/trainGate.js";
import { JsonlLog } from "../jobs/JsonlLog.js";
import { modelFingerprint } from "../model/modelIdentity.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import {
  decodeFeature,
  encodeFeature,
  featureRecordSchema,
  type DistillLabel,
  type DistillQuery,
} from "./distillRecords.js";
import type { DistillSettings } from "./distillSettings.js";
import type { JobProgress } from "./JobProgress.js";

/** What stage 4 produced. */
export interface GateStageResult {
  gatePath: string;
  inputSize: number;
  threshold: number;
  metrics: GateMetrics;
  /** Blocks the LoRA must not touch so the gate's input is independent of it. */
  protectedBlocks: number;
  /** Share of each persona's queries the trained gate sends to the adapter. */
  routingRatePerPersona: Record<string, number>;
  /** Median milliseconds per feature. */
  featureMs: number;
}

/** Inputs of {@link stage4Gate}. */
export interface GateStageInput {
  jobDir: string;
  settings: DistillSettings;
  queries: DistillQuery[];
  labels: Map<string, DistillLabel>;
  features: FeatureExtractor;
  progress: JobProgress;
  signal?: AbortSignal;
}

/**
 * The gate learns distill vs retain, so it needs both: checked before any feature is computed, with the counts.
 *
 * @throws AppError `gate/insufficientData` with `{distill, retain, minPerClass}`.
 */
export function assertBothClasses(
  queries: readonly DistillQuery[],
  labels: Map<string, DistillLabel>,
  minPerClass: number,
): void {
  const distill = queries.filter((q) => labels.get(q.id) === "distill").length;
  const retain = queries.length - distill;
  if (distill >= minPerClass && retain >= minPerClass) return;
  throw new AppError(
    "gate/insufficientData",
    `The gate is trained on both labels and needs at least ${minPerClass} queries of each; the judge labelled ` +
      `${distill} distill (the persona answer won both passes) and ${retain} retain of ${queries.length}. ` +
      "Generate more queries (--queries-per-persona) or bring your own prompts.",
    { distill, retain, minPerClass },
  );
}

/**
 * Stage 4: the gate feature of every query's student prompt (persisted per query, so a resumed job does not
 * recompute them), then the gate trained on distill = 1 vs retain = 0 and written to `gate.json`.
 */
export async function stage4Gate(input: GateStageInput): Promise<GateStageResult> {
  const { jobDir, settings, queries, labels, progress, signal } = input;
  assertBothClasses(queries, labels, settings.gate.minPerClass);
  const resultPath = join(jobDir, "gate-result.json");
  const gatePath = join(jobDir, "gate.json");
  const log = await JsonlLog.open(join(jobDir, "features.jsonl"), featureRecordSchema);
  const vectors = new Map<string, number[]>();
  const times: number[] = [];
  try {
    for (const r of log.items) vectors.set(r.id, decodeFeature(r.feature));
    progress.stage(4, vectors.size, queries.length, "computing gate features");
    for (const q of queries) {
      if (vectors.has(q.id)) continue;
      signal?.throwIfAborted();
      const f = await input.features.extract(q.query, signal);
      times.push(f.ms);
      await log.append({ id: q.id, feature: encodeFeature(f.vector) });
      vectors.set(q.id, f.vector);
      progress.update(vectors.size);
    }
  } finally {
    await log.close();
  }
  if (existsSync(resultPath) && existsSync(gatePath)) {
    return JSON.parse(await readFile(resultPath, "utf8")) as GateStageResult;
  }

  progress.message("training the gate", true);
  const samples = queries.map((q) => ({
    feature: vectors.get(q.id)!,
    label: labels.get(q.id) === "distill" ? (1 as const) : (0 as const),
  }));
  const trained = await trainGate(samples, {
    seed: settings.seed,
    minPerClass: settings.gate.minPerClass,
    threshold: settings.gate.threshold,
    signal,
    onProgress: (p) => progress.message(`gate epoch ${p.epoch}: validation loss ${p.validationLoss.toFixed(4)}`),
  });
  const gate = new Gate(trained.weights);
  const routingRatePerPersona: Record<string, number> = {};
  for (const p of settings.personas) {
    const mine = queries.filter((q) => q.personaId === p.id);
    routingRatePerPersona[p.id] = mine.length
      ? mine.filter((q) => gate.predict(vectors.get(q.id)!) >= trained.threshold).length / mine.length
      : 0;
  }
  await writeGateFile(gatePath, {
    weights: trained.weights,
    threshold: trained.threshold,
    featureSpec: settings.featureSpec,
    baseModelFingerprint: modelFingerprint(settings.model),
    metrics: trained.metrics,
    createdAt: new Date().toISOString(),
  });
  const sorted = [...times].sort((a, b) => a - b);
  const result: GateStageResult = {
    gatePath,
    inputSize: trained.weights.inputSize,
    threshold: trained.threshold,
    metrics: trained.metrics,
    protectedBlocks: Math.max(1, protectedBlocks(settings.featureSpec)),
    routingRatePerPersona,
    featureMs: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : 0,
  };
  await writeFileAtomic(resultPath, JSON.stringify(result, null, 2));
  return result;
}
