import type { DistillSettings } from "../distill/distillSettings.js";
import type { ModelSession } from "../engine/ModelSession.js";
import { totalmem } from "node:os";
import { protectedBlocks } from "../features/featureSpec.js";
import { estimateDistillCost, type CostContext, type DistillCost } from "./estimateDistillCost.js";
import { estimateTrainerPeakBytes, readTrainerShape } from "./estimateTrainerMemory.js";
import { measureRates, type MeasuredRates } from "./measureRates.js";

/** Where a distillation runs, as far as its cost is concerned. */
export interface DistillCostSetup {
  session: ModelSession;
  settings: DistillSettings;
  threads: number;
  /** The local generator's parallel sequences and per-sequence context. */
  sequences: number;
  contextSize: number;
  localGenerator: boolean;
  localJudge: boolean;
}

/** A job's estimate with the measurements behind it. */
export interface DistillEstimate {
  cost: DistillCost;
  rates: MeasuredRates;
  /** What the estimate was made with, so that a job's ETA can redo it as facts come in (`DistillEta`). */
  context: CostContext;
  memory: TrainerMemory;
}

/** Stage 5's peak memory against this machine's (docs/trainer.md §12). */
export interface TrainerMemory {
  /** The trainer's estimated peak RSS at the job's window, an upper bound (every position an output row). */
  trainerPeakBytes: number;
  window: number;
  machineBytes: number;
}

/** More than this share of the machine's memory for the trainer is worth a warning before the job starts. */
const MEMORY_WARNING_SHARE = 0.8;

/**
 * Measures this machine (a few seconds, `measureRates`) and estimates the whole job (`estimateDistillCost`); the
 * CLI's `--estimate`, the extension's start dialog and the job's ETA all use it.
 */
export async function estimateDistillation(setup: DistillCostSetup, signal?: AbortSignal): Promise<DistillEstimate> {
  const info = await setup.session.model(signal);
  const rates = await measureRates(setup.session, {
    threads: setup.threads,
    sequences: setup.localGenerator ? setup.sequences : 1,
    // A context of its own, shaped like the generator's (same sequences and size), disposed after: a job's items
    // must not depend on whether a calibration ran before them in the same context (a resumed job skips it).
    contextSize: setup.contextSize,
    signal,
  });
  const spec = setup.settings.featureSpec;
  const context: CostContext = {
    rates: {
      promptTokensPerSecond: rates.promptTokensPerSecond,
      generatedTokensPerSecond: rates.generatedTokensPerSecond,
      trainTokensPerSecond: rates.trainTokensPerSecond,
    },
    tokensPerChar: rates.tokensPerChar,
    localGenerator: setup.localGenerator,
    localJudge: setup.localJudge,
    sequences: setup.localGenerator ? setup.sequences : 1,
    // `layer:K` evaluates the embeddings and K blocks of the model's L (docs/method.md §4).
    featurePassFraction: spec.source === "layer" && info.layers > 0 ? Math.min(1, spec.layer / info.layers) : 1,
  };
  const { lora } = setup.settings;
  const shape = await readTrainerShape(setup.settings.model.path, lora, protectedBlocks(spec), signal);
  const memory = {
    trainerPeakBytes: estimateTrainerPeakBytes(shape, lora.contextSize),
    window: lora.contextSize,
    machineBytes: totalmem(),
  };
  return { cost: estimateDistillCost(setup.settings, context), rates, context, memory };
}

/** A cost estimate in words, for the CLI and the start dialog: per stage, then the total and the assumptions. */
export function formatDistillCost(cost: DistillCost, rates?: MeasuredRates, memory?: TrainerMemory): string[] {
  const names = ["", "queries", "answers", "judge", "gate", "LoRA"];
  const k = (n: number): string => (n >= 10_000 ? `${Math.round(n / 1000)}k` : String(Math.round(n)));
  const lines = cost.stages.map((s) => {
    const work = [
      s.generatedTokens ? `${k(s.generatedTokens)} generated` : "",
      s.promptTokens ? `${k(s.promptTokens)} prompt` : "",
      s.trainTokens ? `${k(s.trainTokens)} training` : "",
    ].filter(Boolean);
    return `stage ${s.stage} ${names[s.stage]}: ${s.items} items, ${work.join(" + ") || "no"} tokens, ~${formatDuration(s.seconds)}`;
  });
  lines.push(`total ~${formatDuration(cost.totalSeconds)} on this machine`);
  if (rates) {
    lines.push(
      `measured: prompt ${rates.promptTokensPerSecond.toFixed(0)} tok/s, decoding ${rates.generatedTokensPerSecond.toFixed(1)} tok/s, ` +
        `training ~${rates.trainTokensPerSecond.toFixed(1)} tok/s (derived)`,
    );
  }
  if (memory) lines.push(formatTrainerMemory(memory));
  if (cost.assumptions.length) lines.push(`assuming ${cost.assumptions.join("; ")}`);
  return lines;
}

/** `3 h 05 min`, `12 min`, `40 s`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** `LoRA trainer: up to ~3.3 GB of memory at a 768-token window (this machine has 24 GB)`, with a warning when tight. */
export function formatTrainerMemory(m: TrainerMemory): string {
  const gb = (b: number): string => `${(b / 1e9).toFixed(1)} GB`;
  const line = `LoRA trainer: up to ~${gb(m.trainerPeakBytes)} of memory at a ${m.window}-token window (this machine has ${gb(m.machineBytes)})`;
  return m.trainerPeakBytes > MEMORY_WARNING_SHARE * m.machineBytes
    ? `${line}: more than it can spare; a smaller window (lora.contextSize, --window) needs less`
    : line;
}
