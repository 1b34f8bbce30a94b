import { existsSync } from "node:fs";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { StageCostRow } from "../cost/DistillEta.js";
import { BUNDLE_SCHEMA_VERSION, type BundleManifest } from "../bundle/bundleManifest.js";
import { replaceDirectory } from "../util/replaceDirectory.js";
import { writeFailed, writeFileAtomic } from "../util/writeFileAtomic.js";
import type { DistillLabel, DistillQuery } from "./distillRecords.js";
import type { DistillSettings } from "./distillSettings.js";
import type { GateStageResult } from "./stage4Gate.js";
import type { TrainStageResult } from "./stage5Train.js";

/** Inputs of {@link assembleBundle}. */
export interface AssembleInput {
  jobDir: string;
  outDir: string;
  settings: DistillSettings;
  queries: DistillQuery[];
  labels: Map<string, DistillLabel>;
  counts: { queries: number; distill: number; retain: number; perPersona: Record<string, unknown> };
  gate: GateStageResult;
  training: TrainStageResult;
  /** Estimated and actual seconds per stage (docs/method.md §7), when the job had an estimate. */
  cost?: StageCostRow[];
}

const DATA_FILES = ["queries.jsonl", "answers.jsonl", "judgements.jsonl", "train.jsonl"];

/**
 * Writes the bundle (manifest, adapter, gate, stage data, report) into a sibling temp directory and only then
 * moves it over `outDir`: until that rename, the previous bundle at `outDir` stays complete and loadable.
 */
export async function assembleBundle(input: AssembleInput): Promise<void> {
  const tmp = join(dirname(input.outDir), `.${basename(input.outDir)}.partial-${process.pid}`);
  try {
    await writeBundleInto(tmp, input);
  } catch (err) {
    // Nothing half-written stays behind; the previous bundle (if any) was never touched.
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw writeFailed(input.outDir, err);
  }
}

async function writeBundleInto(tmp: string, input: AssembleInput): Promise<void> {
  const { jobDir, outDir, settings, gate, training, counts } = input;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, "data"), { recursive: true });
  await copyFile(training.adapterPath, join(tmp, "adapter.gguf"));
  await copyFile(gate.gatePath, join(tmp, "gate.json"));
  for (const f of DATA_FILES) if (existsSync(join(jobDir, f))) await copyFile(join(jobDir, f), join(tmp, "data", f));
  await writeFileAtomic(
    join(tmp, "data", "labels.jsonl"),
    input.queries
      .map((q) => JSON.stringify({ id: q.id, personaId: q.personaId, query: q.query, label: input.labels.get(q.id) }))
      .join("\n") + "\n",
  );

  const { path: modelPath, ...identity } = settings.model;
  const manifest: BundleManifest = {
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    name: basename(outDir).replace(/\.prism$/, ""),
    createdAt: new Date().toISOString(),
    baseModel: { ...identity, fileName: basename(modelPath) },
    personas: settings.personas,
    featureSpec: settings.featureSpec,
    threshold: gate.threshold,
    adapter: {
      file: "adapter.gguf",
      rank: settings.lora.rank,
      alpha: settings.lora.alpha,
      firstBlock: gate.protectedBlocks,
      targets: settings.lora.targets,
    },
    gateFile: "gate.json",
    training: settings as unknown as Record<string, unknown>,
    metrics: {
      queries: counts.queries,
      distill: counts.distill,
      retain: counts.retain,
      gateValidationAccuracy: gate.metrics.validation.accuracy,
      gateValidationAuc: gate.metrics.validation.auc,
    },
  };
  const report = {
    counts,
    gate: {
      metrics: gate.metrics,
      threshold: gate.threshold,
      routingRatePerPersona: gate.routingRatePerPersona,
      featureMs: gate.featureMs,
    },
    training: { ...training, adapterPath: "adapter.gguf" },
    cost: input.cost,
  };
  await writeFileAtomic(join(tmp, "report.json"), JSON.stringify(report, null, 2));
  // The manifest goes last: a directory without one is never mistaken for a bundle.
  await writeFileAtomic(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2));

  await replaceDirectory(tmp, outDir);
}
