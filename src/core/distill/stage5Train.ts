import { join } from "node:path";
import { AppError } from "../errors.js";
import { readGguf } from "../gguf/readGguf.js";
import { presentLoraTargets, resolveLoraTargets, type LoraTarget } from "../model/trainerSupport.js";
import { personaMessages, studentMessages } from "../pipeline/studentPrompt.js";
import { AtomicWriter } from "../util/AtomicWriter.js";
import type { DistillLabel, DistillQuery, QueryAnswers } from "./distillRecords.js";
import type { LoraSettings } from "./distillSettings.js";
import type { DistillStage, StageContext } from "./DistillStage.js";
import { readStageResult, writeStageResult } from "./stageResult.js";
import type { GateStageResult } from "./stage4Gate.js";

/** One progress event of a trainer (the JSON-lines events of prism-trainer). */
export interface TrainerEvent {
  event: string;
  epoch?: number;
  epochs?: number;
  step?: number;
  steps?: number;
  loss?: number | null;
  evalLoss?: number | null;
  tokensPerSecond?: number;
  etaSeconds?: number;
  [key: string]: unknown;
}

/** One training run of stage 5. */
export interface TrainerRun {
  basePath: string;
  /** JSONL, one `{id, tokens, answer_start}` per line: student prompt + persona answer + end of turn. */
  dataPath: string;
  /** The adapter to write (atomically). */
  outPath: string;
  /** Checkpoints for resuming a killed run. */
  checkpointDir: string;
  settings: LoraSettings;
  /** Blocks below this are never adapted (the gate reads them). */
  firstBlock: number;
  seed: number;
  signal?: AbortSignal;
  onEvent?(event: TrainerEvent): void;
}

/** What a training run reports. */
export interface TrainStageResult {
  adapterPath: string;
  samples: number;
  seconds: number;
  /** Per-epoch losses for the report's curve. */
  epochs: Array<{ epoch: number; trainLoss: number | null; evalLoss: number | null }>;
  trainer: string;
  details?: Record<string, unknown>;
  /** How the distill set was prepared for the trainer's window (absent in results of older runs). */
  data?: TrainDataStats;
}

/** What stage 5 did to the distill set before training. */
export interface TrainDataStats {
  /** The trainer's window in tokens (`lora.contextSize`). */
  window: number;
  /** Samples written to the training file. */
  samples: number;
  /**
   * Persona answers that stopped at the answer token limit: trained without the end-of-turn token, so the
   * adapter does not learn to end a turn where the answer was merely cut.
   */
  cutAnswers: number;
  /** Samples longer than the window, cut to it (their answer is partly trained, without an end of turn). */
  truncatedSamples: number;
  /** Samples whose prompt alone fills the window (no answer token fits): left out. */
  droppedSamples: number;
  /** The LoRA targets trained: the requested ones the base model has (fused q/k/v and gate-up mapped). */
  targets: LoraTarget[];
}

/** Stage 5's seam: anything that turns training sequences into a LoRA adapter GGUF. */
export interface Trainer {
  readonly description: string;
  train(run: TrainerRun): Promise<Omit<TrainStageResult, "samples" | "trainer">>;
}

/**
 * Stage 5 (docs/method.md §3.5): the distill set (student prompt → winning persona answer) tokenised with the
 * model's own chat template, with the persona-prompted teacher's top-k rows for `kl`, streamed to `train.jsonl`
 * and handed to the trainer; its adapter goes into the job directory and `training.json`, written last, marks the
 * stage done. A finished training is not repeated; a killed one resumes from the trainer's checkpoint.
 */
export const stage5Train: DistillStage<
  {
    queries: DistillQuery[];
    /** Stage 2's answers; `personaStop: "maxTokens"` marks a persona answer cut by the token limit. */
    answers: Map<string, QueryAnswers>;
    labels: Map<string, DistillLabel>;
    /** Stage 4's result: the LoRA leaves the blocks the gate reads (`protectedBlocks`) alone. */
    gate: Pick<GateStageResult, "protectedBlocks">;
  },
  { training: TrainStageResult }
> = {
  number: 5,
  name: "LoRA training",
  async run(ctx, { queries, answers, labels, gate }) {
    const { jobDir, settings, trainer, signal, progress } = ctx;
    const distill = queries.filter((q) => labels.get(q.id) === "distill");
    if (distill.length < settings.minDistill) {
      throw new AppError(
        "distill/emptyDataset",
        `Only ${distill.length} of ${queries.length} queries were labelled distill (the persona answer won both judge ` +
          `passes); at least ${settings.minDistill} are needed to train the LoRA. Generate more queries ` +
          "(--queries-per-persona), bring your own prompts, or use a stronger judge.",
        { distill: distill.length, retain: queries.length - distill.length, minimum: settings.minDistill },
      );
    }
    const resultPath = join(jobDir, "training.json");
    const adapterPath = join(jobDir, "adapter.gguf");
    const finished = await readStageResult<TrainStageResult>(resultPath, [adapterPath]);
    if (finished) {
      progress.stage(5, 1, 1, "LoRA already trained");
      return { training: finished };
    }

    const dataPath = join(jobDir, "train.jsonl");
    const stats = await writeTrainingData(ctx, distill, answers, dataPath);
    progress.stage(5, 0, 1, `training the LoRA on ${stats.samples} samples`);
    const run = await trainer.train({
      basePath: settings.model.path,
      dataPath,
      outPath: adapterPath,
      checkpointDir: join(jobDir, "trainer-checkpoint"),
      settings: { ...settings.lora, targets: stats.targets },
      firstBlock: gate.protectedBlocks,
      seed: settings.seed,
      signal,
      onEvent: (e) => {
        if (e.step !== undefined && e.steps) {
          progress.stage5Step(e.step, e.steps, `epoch ${e.epoch ?? "?"}/${e.epochs ?? "?"}, loss ${fmt(e.loss)}`);
        }
      },
    });
    const training: TrainStageResult = { ...run, samples: stats.samples, trainer: trainer.description, data: stats };
    await writeStageResult(resultPath, training);
    return { training };
  },
};

/**
 * Tokenises the distill set (and scores the teacher for `kl`) into `dataPath`, streamed and atomic: with teacher
 * rows a sample is ~0.5 MB of JSON (512 positions × top-64), too much to hold for all. Returns what was done to
 * fit the trainer's window. The engine calls of stage 5: `engine/formatPrompt` (student) and `engine/scoreTopK`
 * (teacher).
 */
async function writeTrainingData(
  ctx: StageContext,
  distill: readonly DistillQuery[],
  answers: Map<string, QueryAnswers>,
  dataPath: string,
): Promise<TrainDataStats> {
  const { settings, session, signal, progress } = ctx;
  const kl = settings.lora.loss === "kl";
  progress.stage(
    5,
    0,
    distill.length,
    kl ? "tokenising and scoring the teacher (persona in context)" : "tokenising the distill set",
  );
  const info = await session.model(signal);
  const modelId = info.modelId;
  const personas = new Map(settings.personas.map((p) => [p.id, p.text]));
  const teacherContext = kl
    ? await session.context(
        "teacher",
        // 256-token batches bound the logits llama.cpp keeps while scoring (vocabulary × 4 bytes per row: ~155 MB at
        // 151k); measured on the 0.5B shape, no slower than the default 512 (bench/scoreBench.mts).
        { contextSize: Math.min(info.contextLength || 8192, 8192), threads: session.load.threads, batchSize: 256 },
        signal,
      )
    : undefined;
  const window = settings.lora.contextSize;
  // phi3 and others fuse q/k/v and gate/up: train the weights this base has, not a fixed list
  const base = await readGguf(settings.model.path, { signal });
  const targets = resolveLoraTargets(
    settings.lora.targets,
    presentLoraTargets(base.tensors.filter((t) => t.dims.length === 2).map((t) => t.name)),
  );
  const stats: TrainDataStats = {
    window,
    samples: 0,
    cutAnswers: 0,
    truncatedSamples: 0,
    droppedSamples: 0,
    targets,
  };
  // The end-of-turn token formatPrompt appends, learnt once from an empty answer: a cut answer drops it.
  const probe = await session.engine.request(
    "engine/formatPrompt",
    { modelId, messages: studentMessages("?"), answer: "" },
    { signal },
  );
  const endOfTurn = probe.tokens.length > probe.answerStart ? probe.tokens[probe.answerStart] : undefined;
  const data = new AtomicWriter(dataPath);
  let written = 0;
  try {
    for (const q of distill) {
      signal?.throwIfAborted();
      const record = answers.get(q.id)!;
      const answer = record.persona;
      const cut = record.personaStop === "maxTokens";
      // The student prompt (no persona) followed by the persona's answer: the LoRA learns to answer like the
      // persona without seeing it (docs/method.md §3.5).
      const f = await session.engine.request(
        "engine/formatPrompt",
        { modelId, messages: studentMessages(q.query), answer },
        { signal },
      );
      let tokens = f.tokens;
      const dropEnd = cut && endOfTurn !== undefined && tokens.length > f.answerStart && tokens.at(-1) === endOfTurn;
      if (dropEnd) tokens = tokens.slice(0, -1);
      if (cut) stats.cutAnswers++;
      // The trainer refuses samples longer than its window; cut them here (counted) instead of failing the run.
      if (f.answerStart >= window) {
        stats.droppedSamples++;
        progress.update(written + stats.droppedSamples);
        continue;
      }
      if (tokens.length > window) {
        tokens = tokens.slice(0, window);
        stats.truncatedSamples++;
      }
      const answerRows = tokens.length - f.answerStart;
      const sample: Record<string, unknown> = { id: q.id, tokens, answer_start: f.answerStart };
      if (teacherContext) {
        // Defect D1 of the authors' code: the teacher must read the persona, or the KL gradient is ~0.
        const t = await session.engine.request(
          "engine/scoreTopK",
          { contextId: teacherContext, messages: personaMessages(personas.get(q.personaId)!, q.query), answer, k: 64 },
          { signal },
        );
        assertSameAnswer(q.id, f.tokens.slice(f.answerStart), t.tokens.slice(t.answerStart));
        // one row per answer token kept (a dropped end of turn or a truncated tail loses its rows)
        const rows = t.rows.slice(0, answerRows);
        sample.teacher = { ids: rows.map((r) => r.ids), logp: rows.map((r) => round(r.logp)) };
      }
      await data.write(`${JSON.stringify(sample)}\n`);
      written++;
      stats.samples++;
      progress.update(written + stats.droppedSamples);
    }
  } catch (err) {
    await data.abort();
    throw err;
  }
  if (written === 0) {
    await data.abort();
    throw new AppError(
      "distill/emptyDataset",
      `Every distill sample's prompt fills the trainer window (${window} tokens); raise lora.contextSize.`,
      stats,
    );
  }
  await data.commit();
  return stats;
}

/** Teacher and student are forced through the same answer tokens; anything else would misalign every row. */
function assertSameAnswer(id: string, student: number[], teacher: number[]): void {
  if (student.length !== teacher.length || student.some((t, i) => t !== teacher[i])) {
    throw new AppError("trainer/failed", `Sample ${id}: the answer tokenises differently after the teacher's prompt.`);
  }
}

/** Six significant digits are plenty for log-probabilities and keep the training file small. */
function round(values: number[]): number[] {
  return values.map((v) => Number(v.toPrecision(6)));
}

function fmt(x: number | null | undefined): string {
  return typeof x === "number" ? x.toFixed(3) : "–";
}
