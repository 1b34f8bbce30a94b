/**
 * A deterministic stand-in for `NativeTrainer` behind stage 5's `Trainer` seam, for unit tests: it checks the
 * training file the way prism-trainer does, reports `start`/`step`/`epoch`/`checkpoint`/`done` events, checkpoints
 * next to the output (`<out>.ckpt.json`) and resumes from there, and writes a real LoRA adapter GGUF for the base
 * (so bundles built with it pass `readBundle`). The adapter and the losses are a pure function of the training
 * file, settings and seed, so a killed and resumed run ends with exactly the bytes of an uninterrupted one. Failures
 * are `trainer/failed` with the trainer's own code, as `NativeTrainer` reports them (docs/trainer.md §10).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rename, rm } from "node:fs/promises";
import type { Trainer, TrainerEvent, TrainerRun, TrainStageResult } from "../src/core/distill/stage5Train.js";
import { AppError } from "../src/core/errors.js";
import { writeSyntheticAdapter, type LoraTarget } from "../src/core/gguf/syntheticModel.js";
import { writeFileAtomic } from "../src/core/util/writeFileAtomic.js";
import { abortableSleep } from "./abortableSleep.js";

/** Options of {@link FakeTrainer}. */
export interface FakeTrainerOptions {
  /** Samples per optimizer step. Defaults to 4. */
  batchSize?: number;
  /**
   * Dies once when it reaches this global step (1-based), like a trainer killed mid-run: steps before it are
   * checkpointed, the run fails with `trainer/failed` (exit 134), and the next run resumes. Defaults to never.
   */
  failAtStep?: number;
  /** Simulated milliseconds per step (cancellable). Defaults to 0. */
  stepMs?: number;
}

/** One sample line of the training file (docs/trainer.md §8). */
interface Sample {
  id: string;
  tokens: number[];
  answer_start: number;
  teacher?: { ids: number[][]; logp: number[][] };
}

/** The checkpoint the fake keeps beside the output, like prism-trainer's `<out>.ckpt.json`. */
interface Checkpoint {
  step: number;
  dataHash: string;
  epochs: TrainStageResult["epochs"];
}

type TrainResult = Omit<TrainStageResult, "samples" | "trainer">;

/** A deterministic {@link Trainer}; {@link runs} records every call. */
export class FakeTrainer implements Trainer {
  readonly description = "fake-trainer";
  /** Every training run started, with the step it resumed from (0: a fresh start). */
  readonly runs: Array<{ run: TrainerRun; resumedFrom: number }> = [];
  private failAtStep?: number;

  constructor(private readonly options: FakeTrainerOptions = {}) {
    this.failAtStep = options.failAtStep;
  }

  async train(run: TrainerRun): Promise<TrainResult> {
    run.signal?.throwIfAborted();
    const text = await readFile(run.dataPath, "utf8").catch(() => {
      throw failed("data/notFound", `cannot read ${run.dataPath}`, 3);
    });
    const samples = parseSamples(text, run);
    const dataHash = createHash("sha256")
      .update(text)
      .update(JSON.stringify([run.settings, run.firstBlock, run.seed]))
      .digest("hex");
    const checkpointPath = `${run.outPath}.ckpt.json`;
    const checkpoint = await readCheckpoint(checkpointPath, dataHash);
    const resumedFrom = checkpoint?.step ?? 0;
    this.runs.push({ run, resumedFrom });

    const { epochs } = run.settings;
    const perEpoch = Math.ceil(samples.length / (this.options.batchSize ?? 4));
    const steps = perEpoch * epochs;
    const epochLog = [...(checkpoint?.epochs ?? [])];
    const emit = (event: TrainerEvent): void => run.onEvent?.(event);
    emit({ event: "start", mode: "lora", objective: run.settings.loss, samples: samples.length, steps });
    for (let step = resumedFrom + 1; step <= steps; step++) {
      if (step === this.failAtStep) {
        this.failAtStep = undefined;
        throw failed("native/abort", `killed at step ${step}`, 134);
      }
      if (this.options.stepMs) await abortableSleep(this.options.stepMs, run.signal);
      run.signal?.throwIfAborted();
      const epoch = Math.ceil(step / perEpoch);
      const loss = lossAt(dataHash, step);
      emit({ event: "step", epoch, epochs, step, steps, loss });
      if (step % perEpoch === 0) {
        const evalLoss = lossAt(dataHash, -epoch);
        epochLog.push({ epoch, trainLoss: loss, evalLoss });
        emit({ event: "epoch", epoch, epochs, step, loss, evalLoss });
      }
      await writeFileAtomic(checkpointPath, JSON.stringify({ step, dataHash, epochs: epochLog } satisfies Checkpoint));
      emit({ event: "checkpoint", path: checkpointPath, step });
    }

    const partial = `${run.outPath}.partial-${process.pid}`;
    await writeSyntheticAdapter(partial, {
      base: run.basePath,
      rank: run.settings.rank,
      alpha: run.settings.alpha,
      targets: run.settings.targets as LoraTarget[],
      firstBlock: run.firstBlock,
      seed: Number.parseInt(dataHash.slice(0, 8), 16),
    });
    await rename(partial, run.outPath);
    await rm(checkpointPath, { force: true });
    const done = { event: "done", steps, epochs, loss: lossAt(dataHash, steps), path: run.outPath };
    emit(done);
    // Simulated time, so results compare equal across runs.
    return { adapterPath: run.outPath, seconds: steps * 0.001, epochs: epochLog, details: done };
  }
}

/** Validates the training file as prism-trainer does before it trains (exit 3, `data/*`). */
function parseSamples(text: string, run: TrainerRun): Sample[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) throw failed("data/empty", `${run.dataPath} has no samples`, 3);
  return lines.map((line, i) => {
    let s: Sample;
    try {
      s = JSON.parse(line) as Sample;
    } catch {
      throw failed("data/invalidJson", `line ${i + 1} is not JSON`, 3);
    }
    const where = `line ${i + 1} (${String(s.id)})`;
    if (!Array.isArray(s.tokens) || !s.tokens.every((t) => Number.isInteger(t) && t >= 0)) {
      throw failed("data/invalid", `${where}: tokens must be non-negative integers`, 3);
    }
    if (!Number.isInteger(s.answer_start) || s.answer_start < 1 || s.answer_start >= s.tokens.length) {
      throw failed("data/invalid", `${where}: answer_start must point into tokens`, 3);
    }
    if (s.tokens.length > run.settings.contextSize) {
      throw failed("data/tooLong", `${where}: ${s.tokens.length} tokens exceed --ctx ${run.settings.contextSize}`, 3);
    }
    const answer = s.tokens.length - s.answer_start;
    if (run.settings.loss === "kl") {
      const t = s.teacher;
      if (!t || t.ids.length !== answer || t.logp.length !== answer) {
        throw failed("data/invalid", `${where}: kl needs one teacher row per answer token (${answer})`, 3);
      }
      if (t.ids.some((row, r) => row.length === 0 || row.length !== t.logp[r]!.length)) {
        throw failed("data/invalid", `${where}: teacher ids and logp rows differ in length`, 3);
      }
    }
    return s;
  });
}

async function readCheckpoint(path: string, dataHash: string): Promise<Checkpoint | undefined> {
  if (!existsSync(path)) return undefined;
  const checkpoint = JSON.parse(await readFile(path, "utf8")) as Checkpoint;
  // A checkpoint of other data is not resumed from (prism-trainer checks the same).
  return checkpoint.dataHash === dataHash ? checkpoint : undefined;
}

/** A loss that falls with the step, with a little data-dependent noise. */
function lossAt(dataHash: string, step: number): number {
  const noise = createHash("sha256").update(`${dataHash}:${step}`).digest().readUInt16LE(0) / 65536;
  return Number((3 / (1 + Math.abs(step) / 4) + 0.1 * noise).toFixed(6));
}

/** The error NativeTrainer makes of a failed prism-trainer run. */
function failed(code: string, message: string, exitCode: number): AppError {
  return new AppError("trainer/failed", `LoRA training failed: [${code}] ${message}`, {
    exitCode,
    signal: null,
    stderr: [],
  });
}
