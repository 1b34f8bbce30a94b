import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { AppError } from "../errors.js";
import { onJsonLines } from "../util/onJsonLines.js";
import type { Trainer, TrainerEvent, TrainerRun, TrainStageResult } from "./stage5Train.js";

/** Options of {@link NativeTrainer}. */
export interface NativeTrainerOptions {
  /** The `prism-trainer` binary (`node scripts/buildTrainer.mjs --print-path`). */
  binaryPath: string;
  threads: number;
  /** Layers offloaded to the GPU; 0 = CPU. Defaults to 0. */
  gpuLayers?: number;
  /** Seconds between SIGTERM and SIGKILL when cancelling. Defaults to 5. */
  killGraceSeconds?: number;
  /** Every stderr line (llama.cpp's log). */
  onLog?(line: string): void;
}

/** A full fine-tuning run (`--mode full`): every F32 tensor of a small model trains and the whole model is saved. */
export interface FullTrainRun {
  basePath: string;
  /** JSONL, one `{id, tokens, answer_start}` per line. */
  dataPath: string;
  /** The model to write (atomically). */
  outPath: string;
  epochs: number;
  learningRate: number;
  schedule: "linear" | "cosine" | "constant";
  /** Window length in tokens. */
  contextSize: number;
  evalFraction: number;
  /** Also train `token_embd` (upstream llama.cpp skips it; a model trained from scratch needs it). */
  trainEmbeddings: boolean;
  seed: number;
  signal?: AbortSignal;
  onEvent?(event: TrainerEvent): void;
}

/**
 * Runs `prism-trainer train` as a child process in its own process group, reads its JSON-lines events, and
 * turns its exit into a result or a coded error (`trainer/failed` with the trainer's own code and the stderr
 * tail). Cancelling sends SIGTERM to the group, then SIGKILL. A re-run after a kill passes `--resume` when the
 * trainer left a checkpoint next to the output.
 */
export class NativeTrainer implements Trainer {
  constructor(private readonly options: NativeTrainerOptions) {}

  get description(): string {
    return `prism-trainer:${this.options.binaryPath}`;
  }

  async train(run: TrainerRun): Promise<Omit<TrainStageResult, "samples" | "trainer">> {
    const { binaryPath } = this.options;
    if (!existsSync(binaryPath)) {
      throw new AppError(
        "trainer/notBuilt",
        `The LoRA trainer is not built (${binaryPath}); run "npm run build:trainer".`,
      );
    }
    run.signal?.throwIfAborted();
    const s = run.settings;
    const args = [
      "train",
      "--base",
      run.basePath,
      "--data",
      run.dataPath,
      "--out",
      run.outPath,
      "--rank",
      String(s.rank),
      "--alpha",
      String(s.alpha),
      "--targets",
      s.targets.join(","),
      "--layers",
      `${run.firstBlock}-`,
      "--epochs",
      String(s.epochs),
      "--lr",
      String(s.learningRate),
      "--wd",
      String(s.weightDecay),
      "--ctx",
      String(s.contextSize),
      "--loss",
      s.loss,
      "--threads",
      String(this.options.threads),
      "--gpu-layers",
      String(this.options.gpuLayers ?? 0),
      "--seed",
      String(run.seed),
    ];
    if (existsSync(`${run.outPath}.ckpt.json`)) args.push("--resume");
    return this.spawnTrainer(args, run);
  }

  /**
   * Full fine-tuning. Checkpoints at every epoch end; a re-run after a kill resumes from the last one (AdamW's
   * moments restart at zero there, so a resumed result is not bit-identical to an uninterrupted one).
   */
  async trainFull(run: FullTrainRun): Promise<Omit<TrainStageResult, "samples" | "trainer">> {
    const { binaryPath } = this.options;
    if (!existsSync(binaryPath)) {
      throw new AppError("trainer/notBuilt", `The trainer is not built (${binaryPath}); run "npm run build:trainer".`);
    }
    run.signal?.throwIfAborted();
    // prettier-ignore
    const args = [
      "train", "--mode", "full", "--base", run.basePath, "--data", run.dataPath, "--out", run.outPath,
      "--epochs", String(run.epochs), "--lr", String(run.learningRate), "--schedule", run.schedule,
      "--ctx", String(run.contextSize), "--eval-fraction", String(run.evalFraction), "--patience", "0",
      "--checkpoint-every", "0", "--threads", String(this.options.threads),
      "--gpu-layers", String(this.options.gpuLayers ?? 0), "--seed", String(run.seed),
    ];
    if (run.trainEmbeddings) args.push("--train-embeddings");
    if (existsSync(`${run.outPath}.ckpt.json`)) args.push("--resume");
    return this.spawnTrainer(args, run);
  }

  private spawnTrainer(
    args: string[],
    run: Pick<TrainerRun, "outPath" | "signal" | "onEvent">,
  ): Promise<Omit<TrainStageResult, "samples" | "trainer">> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      // detached: its own process group, so cancelling reaches anything it spawns too
      const child = spawn(this.options.binaryPath, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
      const stderr: string[] = [];
      const epochs: TrainStageResult["epochs"] = [];
      let errorEvent: TrainerEvent | undefined;
      let done: TrainerEvent | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {
          return;
        }
        killTimer = setTimeout(
          () => {
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              // already gone
            }
          },
          (this.options.killGraceSeconds ?? 5) * 1000,
        );
      };
      run.signal?.addEventListener("abort", onAbort, { once: true });

      createInterface({ input: child.stderr }).on("line", (line) => {
        stderr.push(line);
        if (stderr.length > 60) stderr.shift();
        this.options.onLog?.(line);
      });
      onJsonLines<TrainerEvent>(child.stdout, (event) => {
        if (event.event === "epoch" && typeof event.epoch === "number") {
          epochs.push({ epoch: event.epoch, trainLoss: num(event.loss), evalLoss: num(event.evalLoss) });
        } else if (event.event === "error") errorEvent = event;
        else if (event.event === "done") done = event;
        run.onEvent?.(event);
      });
      child.once("error", (err) =>
        reject(new AppError("trainer/failed", `Cannot run ${this.options.binaryPath}: ${err.message}`)),
      );
      child.once("close", (code, signal) => {
        clearTimeout(killTimer);
        run.signal?.removeEventListener("abort", onAbort);
        if (run.signal?.aborted) {
          reject(
            run.signal.reason instanceof Error
              ? run.signal.reason
              : new AppError("engine/cancelled", "Training was cancelled."),
          );
          return;
        }
        if (code === 0 && done) {
          resolve({ adapterPath: run.outPath, seconds: (performance.now() - started) / 1000, epochs, details: done });
          return;
        }
        const why = errorEvent
          ? `[${String(errorEvent.code)}] ${String(errorEvent.message)}`
          : signal
            ? `killed by ${signal}`
            : `exit code ${code}`;
        // A CPU the build does not fit is the user's to fix (another build), not a training failure.
        const cpu = errorEvent?.code === "trainer/cpuUnsupported";
        reject(
          new AppError(
            cpu ? "trainer/cpuUnsupported" : "trainer/failed",
            cpu
              ? `prism-trainer cannot run on this CPU: ${String(errorEvent?.message)}`
              : `${args.includes("full") ? "Training" : "LoRA training"} failed: ${why}`,
            {
              exitCode: code,
              signal,
              stderr,
            },
          ),
        );
      });
    });
  }
}

function num(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}
