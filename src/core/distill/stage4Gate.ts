import { join } from "node:path";
import { AppError } from "../errors.js";
import { protectedBlocks } from "../features/featureSpec.js";
import { Gate } from "../gate/Gate.js";
import { writeGateFile } from "../gate/gateFile.js";
import type { GateMetrics } from "../gate/gateMetrics.js";
import { trainGate } from "../gate/trainGate.js";
import { modelFingerprint } from "../model/modelIdentity.js";
import {
  decodeFeature,
  encodeFeature,
  featureRecordSchema,
  type DistillLabel,
  type DistillQuery,
} from "./distillRecords.js";
import type { DistillStage, StageContext } from "./DistillStage.js";
import { runStageItems } from "./runStageItems.js";
import { readStageResult, writeStageResult } from "./stageResult.js";

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
 * Stage 4 (docs/method.md §3.4): the gate feature of every query's student prompt (`features.jsonl`, so a resumed
 * job does not recompute them), then the gate trained on distill = 1 vs retain = 0 and written to `gate.json`;
 * `gate-result.json`, written last, marks the stage done.
 */
export const stage4Gate: DistillStage<
  { queries: DistillQuery[]; labels: Map<string, DistillLabel> },
  { gate: GateStageResult }
> = {
  number: 4,
  name: "gate",
  async run(ctx, { queries, labels }) {
    const { jobDir, settings, progress } = ctx;
    // Entered before the check, so a job refused here is reported as failed in stage 4.
    progress.stage(4, 0, queries.length, "gate features");
    assertBothClasses(queries, labels, settings.gate.minPerClass);
    const times: number[] = [];
    const records = await runStageItems(ctx, {
      stage: 4,
      message: "computing gate features",
      log: "features.jsonl",
      schema: featureRecordSchema,
      items: queries,
      itemKey: (q) => q.id,
      recordKey: (r) => r.id,
      // One at a time: the feature model has a single embedding context.
      concurrency: 1,
      work: async (q, signal) => {
        const f = await ctx.features.extract(q.query, signal);
        times.push(f.ms);
        return { id: q.id, feature: encodeFeature(f.vector) };
      },
    });
    const resultPath = join(jobDir, "gate-result.json");
    const gatePath = join(jobDir, "gate.json");
    const finished = await readStageResult<GateStageResult>(resultPath, [gatePath]);
    if (finished) return { gate: finished };
    const vectors = new Map(records.map((r) => [r.id, decodeFeature(r.feature)]));
    const gate = await trainAndWriteGate(ctx, queries, labels, vectors, gatePath);
    const sorted = [...times].sort((a, b) => a - b);
    const result: GateStageResult = {
      gatePath,
      inputSize: gate.inputSize,
      threshold: gate.threshold,
      metrics: gate.metrics,
      protectedBlocks: Math.max(1, protectedBlocks(settings.featureSpec)),
      routingRatePerPersona: gate.routingRatePerPersona,
      featureMs: sorted.length ? sorted[Math.floor(sorted.length / 2)]! : 0,
    };
    await writeStageResult(resultPath, result);
    return { gate: result };
  },
};

/** Trains the gate on the features (deterministic for the job seed) and writes `gate.json`. */
async function trainAndWriteGate(
  ctx: StageContext,
  queries: readonly DistillQuery[],
  labels: Map<string, DistillLabel>,
  vectors: Map<string, number[]>,
  gatePath: string,
): Promise<Pick<GateStageResult, "inputSize" | "threshold" | "metrics" | "routingRatePerPersona">> {
  const { settings, progress, signal } = ctx;
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
  return {
    inputSize: trained.weights.inputSize,
    threshold: trained.threshold,
    metrics: trained.metrics,
    routingRatePerPersona,
  };
}
