import type { EtaPosition } from "../cost/DistillEta.js";

/** A complete snapshot of a job's progress (snapshots, not deltas: a reloaded UI is always consistent). */
export interface JobSnapshot {
  jobId: string;
  state: "running" | "done" | "failed" | "cancelled";
  /** 1–5 for the PRISM stages, 6 while the bundle is assembled. */
  stage: number;
  stageName: string;
  done: number;
  total: number;
  /** Items finished per second in this run of this stage (resumed items excluded). */
  itemsPerSecond: number;
  /** Estimated seconds left in this stage, when known. */
  etaSeconds?: number;
  /** Estimated seconds until the whole job is done, when the job has a cost estimate (docs/method.md §7). */
  jobEtaSeconds?: number;
  message: string;
  startedAt: string;
  error?: { code: string; message: string };
}

/**
 * Builds snapshots and throttles them to about 10 per second; stage changes and the final state are always
 * delivered. A throwing listener is caught, so a broken UI cannot break the job.
 */
export class JobProgress {
  private snapshot: JobSnapshot;
  private lastSent = 0;
  private stageStarted = performance.now();
  private stageBaseline = 0;
  private stage5Phase: "prepare" | "train" = "prepare";
  private jobEta?: (at: EtaPosition) => number | undefined;

  /**
   * @param stageNames Each stage's `stageName`, by stage number (index 0 unused); the job's are `STAGE_NAMES` of
   *   `DistillJob.ts`. Defaults to none (empty names).
   */
  constructor(
    jobId: string,
    private readonly listener: ((s: JobSnapshot) => void) | undefined,
    private readonly onListenerError: (err: unknown) => void,
    private readonly intervalMs = 100,
    private readonly stageNames: readonly string[] = [],
  ) {
    this.snapshot = {
      jobId,
      state: "running",
      stage: 1,
      stageName: stageNames[1] ?? "",
      done: 0,
      total: 0,
      itemsPerSecond: 0,
      message: "starting",
      startedAt: new Date().toISOString(),
    };
  }

  get current(): JobSnapshot {
    return this.snapshot;
  }

  /** Seconds and items of the current stage run by this process (resumed items excluded). */
  stageRun(): { seconds: number; items: number } {
    return {
      seconds: (performance.now() - this.stageStarted) / 1000,
      items: Math.max(0, this.snapshot.done - this.stageBaseline),
    };
  }

  /** Where the job is, for an ETA. */
  position(): EtaPosition {
    const { stage, done, total } = this.snapshot;
    return { stage, done, total, run: this.stageRun(), stage5Phase: this.stage5Phase };
  }

  /** Makes every snapshot carry `jobEtaSeconds` from `eta` (a throwing `eta` leaves it out). */
  setJobEta(eta: (at: EtaPosition) => number | undefined): void {
    this.jobEta = eta;
  }

  /** Enters a stage; `done` items are already finished (resumed), `total` is the stage's size. */
  stage(stage: number, done: number, total: number, message: string): void {
    if (stage !== 5) this.stage5Phase = "prepare";
    this.stageStarted = performance.now();
    this.stageBaseline = done;
    this.snapshot = {
      ...this.snapshot,
      stage,
      stageName: this.stageNames[stage] ?? "",
      done,
      total,
      message,
      itemsPerSecond: 0,
      etaSeconds: undefined,
    };
    this.emit(true);
  }

  /** Updates the count within the current stage (and its size, where it shrinks as the stage learns more). */
  update(done: number, message?: string, total = this.snapshot.total): void {
    const seconds = (performance.now() - this.stageStarted) / 1000;
    const rate = seconds > 0 ? (done - this.stageBaseline) / seconds : 0;
    const left = total - done;
    this.snapshot = {
      ...this.snapshot,
      done,
      total,
      message: message ?? this.snapshot.message,
      itemsPerSecond: rate,
      etaSeconds: rate > 0 ? left / rate : undefined,
    };
    this.emit(done >= total);
  }

  /** Training progress: steps replace items as the stage's unit. */
  stage5Step(step: number, steps: number, message: string): void {
    if (this.stage5Phase !== "train" || this.snapshot.total !== steps) {
      this.stage5Phase = "train";
      this.stage(5, 0, steps, message);
    }
    this.update(step, message);
  }

  /** Reports a free-form message (e.g. a trainer epoch) without changing counts. */
  message(message: string, force = false): void {
    this.snapshot = { ...this.snapshot, message };
    this.emit(force);
  }

  finish(state: JobSnapshot["state"], error?: JobSnapshot["error"]): void {
    this.snapshot = { ...this.snapshot, state, error, message: error?.message ?? state };
    this.emit(true);
  }

  private emit(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastSent < this.intervalMs) return;
    this.lastSent = now;
    if (this.jobEta) {
      let seconds: number | undefined = this.snapshot.state === "done" ? 0 : undefined;
      try {
        if (this.snapshot.state === "running") seconds = this.jobEta(this.position());
      } catch (err) {
        this.onListenerError(err);
      }
      this.snapshot = { ...this.snapshot, jobEtaSeconds: seconds };
    }
    try {
      this.listener?.(this.snapshot);
    } catch (err) {
      this.onListenerError(err);
    }
  }
}
