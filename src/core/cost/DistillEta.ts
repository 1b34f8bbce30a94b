import type { DistillSettings } from "../distill/distillSettings.js";
import {
  estimateDistillCost,
  type CostContext,
  type CostObservations,
  type DistillCost,
} from "./estimateDistillCost.js";

/** Time spent on a stage and the share of its items that time covered (`items` of `total`). */
export interface StageRun {
  seconds: number;
  items: number;
  total: number;
}

/** Where the job is: its stage, the stage's counts and what ran of it in this process. */
export interface EtaPosition {
  stage: number;
  done: number;
  total: number;
  /** Seconds and items of the current stage run by this process (resumed items excluded). */
  run: { seconds: number; items: number };
  /** Stage 5 counts its preparation (tokenising, teacher scoring) and then training steps. */
  stage5Phase?: "prepare" | "train";
}

/** One stage's row of the job's cost report. */
export interface StageCostRow {
  stage: number;
  /** Before the job started (calibration and assumptions only). */
  estimatedSeconds: number;
  /** With everything observed by the end of the job: how good the cost model is once its inputs are known. */
  reestimatedSeconds: number;
  /** Wall time spent on the stage, over every run of the job; undefined when it never ran in a measured run. */
  actualSeconds?: number;
}

/** A measured rate must cover this many items, or this share of the stage, before it is trusted on its own. */
const MIN_MEASURED_ITEMS = 3;
const MIN_MEASURED_SHARE = 0.1;
/** A correction outside this range means the calibration is not this job's machine; it is bounded, not trusted. */
const CORRECTION_RANGE = [0.2, 5] as const;

/**
 * The whole job's ETA, converging as it runs (docs/method.md §7): the cost model of `estimateDistillCost`,
 * re-run with each observation (kept queries, query and answer lengths, distill count), scaled by how the
 * finished work compared with its estimate (a loaded machine, a slower model), and for the current stage
 * blended into its own measured item rate as items finish.
 */
export class DistillEta {
  private observed: CostObservations = {};
  private readonly runs = new Map<number, StageRun>();

  constructor(
    private readonly settings: DistillSettings,
    /** The calibration and set-up the estimate is made with (no observations). */
    readonly context: CostContext,
    /** The estimate shown before the job started. */
    readonly initial: DistillCost,
  ) {}

  observe(o: CostObservations): void {
    this.observed = { ...this.observed, ...o };
  }

  get observations(): CostObservations {
    return { ...this.observed };
  }

  /** Adds a stage's time (a resumed job reports each run's share). */
  recordStage(stage: number, run: StageRun): void {
    const before = this.runs.get(stage);
    this.runs.set(stage, {
      seconds: (before?.seconds ?? 0) + run.seconds,
      items: (before?.items ?? 0) + run.items,
      total: run.total,
    });
  }

  get stageRuns(): ReadonlyMap<number, StageRun> {
    return this.runs;
  }

  /** The estimate with everything observed so far. */
  current(): DistillCost {
    return estimateDistillCost(this.settings, { ...this.context, observed: this.observed });
  }

  /** Measured ÷ estimated seconds of the work done so far (1 before anything is measured), bounded. */
  correction(cost = this.current(), live?: EtaPosition): number {
    let actual = 0;
    let expected = 0;
    const add = (stage: number, run: StageRun): void => {
      const est = cost.stages[stage - 1]?.seconds ?? 0;
      if (est <= 0 || run.total <= 0 || run.items <= 0 || run.seconds <= 0) return;
      actual += run.seconds;
      expected += (est * Math.min(run.items, run.total)) / run.total;
    };
    for (const [stage, run] of this.runs) add(stage, run);
    // Stage 5's two phases have different rates, so its live items are not a share of its estimate; and a
    // stage's first item or two (a cold cache, one long answer) say too little.
    if (live && live.stage < 5 && live.run.items >= MIN_MEASURED_ITEMS)
      add(live.stage, { ...live.run, total: live.total });
    if (expected <= 0) return 1;
    return Math.min(CORRECTION_RANGE[1], Math.max(CORRECTION_RANGE[0], actual / expected));
  }

  /** Seconds until the job's bundle is written, from `at`. */
  remainingSeconds(at: EtaPosition): number {
    const cost = this.current();
    const k = this.correction(cost, at);
    let left = 0;
    const stage = cost.stages[at.stage - 1];
    if (stage) left += this.stageLeft(stage.seconds * k, cost, at, k);
    for (const s of cost.stages) if (s.stage > at.stage) left += s.seconds * k;
    return left;
  }

  /** Per stage: estimated before the start, re-estimated with the observations, and the measured wall time. */
  report(): StageCostRow[] {
    const now = this.current();
    return this.initial.stages.map((s, i) => ({
      stage: s.stage,
      estimatedSeconds: s.seconds,
      reestimatedSeconds: now.stages[i]?.seconds ?? 0,
      actualSeconds: this.runs.get(s.stage)?.seconds,
    }));
  }

  /** The current stage's remaining seconds: the modelled rest, blended into the stage's own measured rate. */
  private stageLeft(modelled: number, cost: DistillCost, at: EtaPosition, k: number): number {
    const share = at.total > 0 ? Math.min(1, at.done / at.total) : 0;
    if (at.stage === 5) {
      // Stage 5 = preparation (teacher scoring, in prompt tokens) then training (steps); `done/total` counts one.
      const prep = cost.stages[4]!.promptTokens / this.context.rates.promptTokensPerSecond;
      const train = Math.max(0, cost.stages[4]!.seconds - prep);
      // The measured item rate is the current phase's, so it only replaces that phase's modelled rest.
      if (at.stage5Phase === "train") return this.blend(train * (1 - share) * k, at);
      return this.blend(prep * (1 - share) * k, at) + train * k;
    }
    return this.blend(modelled * (1 - share), at);
  }

  private blend(modelled: number, at: EtaPosition): number {
    const { items, seconds } = at.run;
    if (items <= 0 || seconds <= 0) return modelled;
    const measured = ((at.total - at.done) * seconds) / items;
    const w = Math.min(1, items / Math.max(MIN_MEASURED_ITEMS, MIN_MEASURED_SHARE * at.total));
    return w * measured + (1 - w) * modelled;
  }
}
