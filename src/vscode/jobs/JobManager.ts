import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import * as vscode from "vscode";
import { prepareDistillation } from "../../core/distill/prepareDistillation.js";
import type { DistillPreset } from "../../core/cost/distillPresets.js";
import type { DistillEstimate } from "../../core/cost/estimateDistillation.js";
import type { DistillSettings } from "../../core/distill/distillSettings.js";
import type { JobSnapshot } from "../../core/distill/JobProgress.js";
import { AppError, isCancellation } from "../../core/errors.js";
import type { Persona } from "../../core/pipeline/personas.js";
import type { PrismService } from "../PrismService.js";

/** One distillation job as the Jobs view shows it. */
export interface JobEntry {
  name: string;
  jobDir: string;
  bundleDir: string;
  /** `interrupted`: the job was running when its window closed or crashed; it can be resumed. */
  state: "running" | "done" | "failed" | "cancelled" | "interrupted";
  snapshot?: JobSnapshot;
  settings?: DistillSettings;
  error?: string;
}

/** What "PRISM: Start Distillation" collects. */
export interface StartOptions {
  name: string;
  personas: Persona[];
  queriesPerPersona: number;
  userPrompts: Array<{ prompt: string; personaId?: string }>;
  /** Extra settings (tests: small counts and limits). */
  overrides?: Record<string, unknown>;
  judge?: string;
  /** Fills what the options leave unset (docs/method.md §7). */
  preset?: DistillPreset;
  /**
   * Shown the measured estimate once the model is loaded, before any work; the job starts only if it resolves
   * true (false cancels without leaving a job behind). Without it the job starts at once.
   */
  confirm?(estimate: DistillEstimate): Promise<boolean>;
}

/**
 * Runs and lists distillation jobs in the extension's storage (`jobs/<name>.prism.job`, bundle next to it).
 * A job's truth is its directory (state.json, JSONL logs), so jobs from an earlier window or a crash show up
 * and resume exactly where they stopped.
 */
export class JobManager implements vscode.Disposable {
  private readonly running = new Map<
    string,
    { controller: AbortController; snapshot?: JobSnapshot; done: Promise<void> }
  >();
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changeEmitter.event;
  /** Called when a job finishes, with its bundle (the command offers to activate it). */
  onDidFinish?: (entry: JobEntry) => void;

  constructor(
    private readonly service: PrismService,
    private readonly trainerBinary: () => string,
  ) {}

  get jobsDir(): string {
    return join(this.service.storageDir, "jobs");
  }

  async list(): Promise<JobEntry[]> {
    await mkdir(this.jobsDir, { recursive: true });
    const names = (await readdir(this.jobsDir))
      .filter((n) => n.endsWith(".prism.job"))
      .map((n) => n.slice(0, -".prism.job".length));
    const out: JobEntry[] = [];
    for (const name of names.sort()) {
      const jobDir = join(this.jobsDir, `${name}.prism.job`);
      const entry: JobEntry = { name, jobDir, bundleDir: join(this.jobsDir, `${name}.prism`), state: "interrupted" };
      try {
        const state = JSON.parse(await readFile(join(jobDir, "state.json"), "utf8")) as {
          status?: string;
          settings?: DistillSettings;
          error?: { message?: string };
        };
        entry.settings = state.settings;
        const live = this.running.get(name);
        if (live) {
          entry.state = "running";
          entry.snapshot = live.snapshot;
        } else if (state.status === "done" || state.status === "failed" || state.status === "cancelled") {
          entry.state = state.status;
          entry.error = state.error?.message;
        } else entry.state = "interrupted"; // "running" on disk but no live run: the window went away mid-job
      } catch {
        entry.error = "state.json is missing or unreadable";
      }
      out.push(entry);
    }
    // A job just started has no directory until its model is loaded; it is running all the same.
    for (const [name, live] of this.running) {
      if (out.some((e) => e.name === name)) continue;
      const jobDir = join(this.jobsDir, `${name}.prism.job`);
      out.push({
        name,
        jobDir,
        bundleDir: join(this.jobsDir, `${name}.prism`),
        state: "running",
        snapshot: live.snapshot,
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Starts a new job (refusing a name in use). */
  async start(o: StartOptions): Promise<void> {
    if (!/^[\w.-]{1,64}$/.test(o.name))
      throw new AppError("job/invalidName", "Job names are 1–64 letters, digits, '.', '_' or '-'.");
    if (existsSync(join(this.jobsDir, `${o.name}.prism.job`))) {
      throw new AppError("job/locked", `A job named "${o.name}" exists already; resume or delete it.`);
    }
    await mkdir(this.jobsDir, { recursive: true });
    this.launch(
      o.name,
      o.personas,
      {
        queriesPerPersona: o.queriesPerPersona,
        userPrompts: o.userPrompts,
        ...(o.overrides ?? {}),
      },
      o.judge ?? "self",
      { preset: o.preset, confirm: o.confirm },
    );
  }

  /** Resumes an interrupted, failed or cancelled job with its recorded settings. */
  async resume(name: string): Promise<void> {
    const entry = (await this.list()).find((e) => e.name === name);
    if (!entry?.settings) throw new AppError("job/corrupt", `Job "${name}" has no recorded settings to resume with.`);
    if (this.running.has(name)) return;
    const { model: _model, personas, judge, generator: _generator, ...rest } = entry.settings;
    this.launch(name, personas, rest, judge.startsWith("rule:") ? judge : "self");
  }

  cancel(name: string): void {
    this.running.get(name)?.controller.abort();
  }

  async delete(name: string): Promise<void> {
    this.cancel(name);
    await this.running.get(name)?.done;
    await rm(join(this.jobsDir, `${name}.prism.job`), { recursive: true, force: true });
    this.changeEmitter.fire();
  }

  /** Resolves when a running job ends (tests). */
  async whenSettled(name: string): Promise<void> {
    await this.running.get(name)?.done;
  }

  private launch(
    name: string,
    personas: Persona[],
    settings: Record<string, unknown>,
    judge: string,
    start: Pick<StartOptions, "preset" | "confirm"> = {},
  ): void {
    const controller = new AbortController();
    const entry = { controller, snapshot: undefined as JobSnapshot | undefined, done: Promise.resolve() };
    this.running.set(name, entry);
    const config = this.service.config();
    const outDir = join(this.jobsDir, `${name}.prism`);
    entry.done = (async () => {
      try {
        const prepared = await prepareDistillation({
          engine: this.service.engine,
          modelPath: this.service.modelSession(config).load.modelPath,
          outDir,
          personas,
          threads: config.threads,
          gpu: config.gpu,
          judge,
          generator: "local",
          trainerBinary: this.trainerBinary(),
          hashCacheFile: join(this.service.storageDir, "model-hashes.json"),
          signal: controller.signal,
          settings,
          preset: start.preset,
        });
        const estimate = start.confirm ? await prepared.estimate(controller.signal) : undefined;
        if (estimate && !(await start.confirm!(estimate))) {
          this.service.log.info(`distillation "${name}" not started: declined after the estimate`);
          return;
        }
        await prepared
          .job({
            estimate,
            signal: controller.signal,
            onProgress: (s) => {
              entry.snapshot = s;
              this.changeEmitter.fire();
            },
            log: (m) => this.service.log.warn(m),
          })
          .run();
        this.service.log.info(`distillation "${name}" finished: ${outDir}`);
      } catch (err) {
        if (!isCancellation(err)) this.service.log.error(`distillation "${name}" failed: ${(err as Error).message}`);
        throw err;
      } finally {
        this.running.delete(name);
        this.changeEmitter.fire();
      }
      const finished = (await this.list()).find((e) => e.name === name);
      if (finished) this.onDidFinish?.(finished);
    })();
    // Failures are recorded in the job's state.json and shown in the view; the promise is for waiters only.
    entry.done.catch(() => undefined);
    this.changeEmitter.fire();
  }

  /** The snapshot of a running job. */
  snapshot(name: string): JobSnapshot | undefined {
    return this.running.get(name)?.snapshot;
  }

  dispose(): void {
    for (const r of this.running.values()) r.controller.abort();
    this.changeEmitter.dispose();
  }
}
