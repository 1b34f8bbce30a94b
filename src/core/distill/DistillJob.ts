import { mkdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { DistillEta, type StageCostRow } from "../cost/DistillEta.js";
import type { DistillEstimate } from "../cost/estimateDistillation.js";
import { readJobCost, writeJobCost } from "../cost/jobCostFile.js";
import { AppError, isCancellation, toWireError } from "../errors.js";
import { acquireJobLock } from "../jobs/JobLock.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import { assembleBundle } from "./assembleBundle.js";
import { countLabels } from "./countLabels.js";
import { settingsHash } from "./distillSettings.js";
import { runStages, type StageContext } from "./DistillStage.js";
import { JobProgress, type JobSnapshot } from "./JobProgress.js";
import { stage1Queries } from "./stage1Queries.js";
import { stage2Answers } from "./stage2Answers.js";
import { stage3Judge } from "./stage3Judge.js";
import { stage4Gate, type GateStageResult } from "./stage4Gate.js";
import { stage5Train, type TrainStageResult } from "./stage5Train.js";
import { stageObservations, type StageData } from "./stageObservations.js";

/**
 * The stages of a distillation, in order (docs/method.md §3). Each reads what the stages before it made; a stage
 * placed before what it needs fails to compile (`StagesOutput`). Adding a stage: one module (see
 * `stage2Answers.ts`) and one entry here (docs/architecture.md §8).
 */
export const DISTILL_STAGES = [stage1Queries, stage2Answers, stage3Judge, stage4Gate, stage5Train] as const;

/** The number of the step after the stages: writing the bundle. */
const BUNDLE_STEP = DISTILL_STAGES.length + 1;

/** `stageName` by stage number: the stages', then the bundle's. */
export const STAGE_NAMES: readonly string[] = ["", ...DISTILL_STAGES.map((s) => s.name), "bundle"];

/** Options of {@link DistillJob}: the stages' context (its `jobDir` is the working directory) and where the bundle goes. */
export interface DistillJobOptions extends Omit<StageContext, "progress"> {
  /** Where the finished bundle goes (`<name>.prism`); replaced atomically only when complete. */
  outDir: string;
  onProgress?(snapshot: JobSnapshot): void;
  /**
   * The estimate shown before the start: with it, snapshots carry the whole job's ETA (`jobEtaSeconds`) and the
   * report compares estimated and actual time per stage. A resumed job goes on with the one it saved
   * (`cost.json`); without either, snapshots have the stage's ETA only.
   */
  estimate?: DistillEstimate;
  /** Where listener errors and notes go. Defaults to nowhere. */
  log?(message: string): void;
}

/** What a finished job produced. */
export interface DistillResult {
  bundleDir: string;
  queries: number;
  distill: number;
  retain: number;
  gate: GateStageResult;
  training: TrainStageResult;
  /** Estimated and actual seconds per stage, when the job had an estimate. */
  cost?: StageCostRow[];
}

const STATE_VERSION = 1;

/**
 * The distillation job, stages 1–5 (docs/method.md §3) then the bundle. Every finished item is appended to its
 * stage's JSONL log at once, with a seed derived from the job seed and the item, so a re-run after a crash,
 * kill or cancel continues where it stopped, repeats nothing, and produces exactly what an uninterrupted run
 * would. One process at a time holds the job (`job/locked`).
 */
export class DistillJob {
  readonly progress: JobProgress;

  constructor(private readonly o: DistillJobOptions) {
    this.progress = new JobProgress(
      basename(o.jobDir),
      o.onProgress,
      (err) => o.log?.(`progress listener failed: ${String(err)}`),
      100,
      STAGE_NAMES,
    );
  }

  async run(): Promise<DistillResult> {
    const { jobDir, settings, signal } = this.o;
    await mkdir(jobDir, { recursive: true });
    const lock = await acquireJobLock(jobDir);
    try {
      await this.checkState();
      const eta = await this.startEta();
      const { queries, labels, gate, training } = await runStages(
        DISTILL_STAGES,
        { ...this.o, progress: this.progress },
        async (stage, data, seconds) => {
          if (!eta) return;
          const { items } = this.progress.stageRun();
          eta.recordStage(stage.number, { seconds, items, total: this.progress.current.total });
          eta.observe(stageObservations(stage.number, data as StageData, eta.context.tokensPerChar, settings));
          await this.saveEta(eta);
        },
      );
      this.progress.stage(BUNDLE_STEP, 0, 1, "writing the bundle");
      const counts = countLabels(queries, labels, settings);
      const cost = eta?.report();
      await assembleBundle({ jobDir, outDir: this.o.outDir, settings, queries, labels, counts, gate, training, cost });
      await this.writeState("done");
      this.progress.update(1, "done");
      this.progress.finish("done");
      return {
        bundleDir: this.o.outDir,
        queries: queries.length,
        distill: counts.distill,
        retain: counts.retain,
        gate,
        training,
        cost,
      };
    } catch (err) {
      const cancelled = isCancellation(err) || signal?.aborted === true;
      await this.writeState(cancelled ? "cancelled" : "failed", cancelled ? undefined : toWireError(err)).catch(
        () => undefined,
      );
      this.progress.finish(cancelled ? "cancelled" : "failed", cancelled ? undefined : toWireError(err));
      throw err;
    } finally {
      await lock.release();
    }
  }

  /** The job's ETA: the one a previous run saved, else one from the estimate given; none without either. */
  private async startEta(): Promise<DistillEta | undefined> {
    const { jobDir, settings, estimate } = this.o;
    let eta = await readJobCost(jobDir, settings);
    if (!eta && estimate) {
      eta = new DistillEta(settings, estimate.context, estimate.cost);
      await this.saveEta(eta);
    }
    if (eta) this.progress.setJobEta((at) => eta.remainingSeconds(at));
    return eta;
  }

  /** The ETA is advice: failing to save it (a full disk) costs a resumed job its ETA, never this job its work. */
  private async saveEta(eta: DistillEta): Promise<void> {
    await writeJobCost(this.o.jobDir, eta).catch((err: unknown) =>
      this.o.log?.(`could not save the job's ETA (cost.json): ${String(err)}`),
    );
  }

  /** A job directory belongs to one set of settings; refuse to mix. */
  private async checkState(): Promise<void> {
    const path = join(this.o.jobDir, "state.json");
    const hash = settingsHash(this.o.settings);
    let existing: { settingsHash?: string } | undefined;
    try {
      existing = JSON.parse(await readFile(path, "utf8")) as { settingsHash?: string };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new AppError("job/corrupt", `${path} is not valid JSON; delete the job directory to start over.`);
      }
    }
    if (existing && existing.settingsHash !== hash) {
      throw new AppError(
        "job/settingsChanged",
        `The job in ${this.o.jobDir} was started with other settings (model, personas, counts, seed, judge…). ` +
          "Re-run with the same settings to resume, or start it afresh (delete the job directory or pass --fresh).",
      );
    }
    await this.writeState("running");
  }

  private async writeState(status: string, error?: unknown): Promise<void> {
    const state = {
      schemaVersion: STATE_VERSION,
      settingsHash: settingsHash(this.o.settings),
      settings: this.o.settings,
      status,
      error,
      stage: this.progress.current.stage,
      updatedAt: new Date().toISOString(),
    };
    await writeFileAtomic(join(this.o.jobDir, "state.json"), JSON.stringify(state, null, 2));
  }
}
