import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ModelSession } from "../engine/ModelSession.js";
import { AppError } from "../errors.js";
import { studentMessages } from "../pipeline/studentPrompt.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import type { DistillLabel, DistillQuery } from "./distillRecords.js";
import type { DistillSettings, LoraSettings } from "./distillSettings.js";
import type { JobProgress } from "./JobProgress.js";

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
}

/** Stage 5's seam: anything that turns training sequences into a LoRA adapter GGUF. */
export interface Trainer {
  readonly description: string;
  train(run: TrainerRun): Promise<Omit<TrainStageResult, "samples" | "trainer">>;
}

/** Inputs of {@link stage5Train}. */
export interface TrainStageInput {
  jobDir: string;
  settings: DistillSettings;
  queries: DistillQuery[];
  answers: Map<string, { base: string; persona: string }>;
  labels: Map<string, DistillLabel>;
  session: ModelSession;
  trainer: Trainer;
  firstBlock: number;
  progress: JobProgress;
  signal?: AbortSignal;
}

/**
 * Stage 5: the distill set (student prompt → winning persona answer) tokenised with the model's own chat
 * template, handed to the trainer; its adapter goes into the job directory. A finished training is not
 * repeated; a killed one resumes from the trainer's checkpoint.
 */
export async function stage5Train(input: TrainStageInput): Promise<TrainStageResult> {
  const { jobDir, settings, queries, answers, labels, session, trainer, signal, progress } = input;
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
  if (existsSync(resultPath) && existsSync(adapterPath)) {
    progress.stage(5, 1, 1, "LoRA already trained");
    return JSON.parse(await readFile(resultPath, "utf8")) as TrainStageResult;
  }

  progress.stage(5, 0, distill.length, "tokenising the distill set");
  const { modelId } = await session.model(signal);
  const lines: string[] = [];
  for (const q of distill) {
    signal?.throwIfAborted();
    // The student prompt (no persona) followed by the persona's answer: the LoRA learns to answer like the
    // persona without seeing it (prism-method §3 stage 5).
    const f = await session.engine.request(
      "engine/formatPrompt",
      { modelId, messages: studentMessages(q.query), answer: answers.get(q.id)!.persona },
      { signal },
    );
    lines.push(JSON.stringify({ id: q.id, tokens: f.tokens, answer_start: f.answerStart }));
    progress.update(lines.length);
  }
  const dataPath = join(jobDir, "train.jsonl");
  await writeFileAtomic(dataPath, `${lines.join("\n")}\n`);

  progress.stage(5, 0, 1, `training the LoRA on ${distill.length} samples`);
  const run = await trainer.train({
    basePath: settings.model.path,
    dataPath,
    outPath: adapterPath,
    checkpointDir: join(jobDir, "trainer-checkpoint"),
    settings: settings.lora,
    firstBlock: input.firstBlock,
    seed: settings.seed,
    signal,
    onEvent: (e) => {
      if (e.step !== undefined && e.steps) {
        progress.stage5Step(e.step, e.steps, `epoch ${e.epoch ?? "?"}/${e.epochs ?? "?"}, loss ${fmt(e.loss)}`);
      }
    },
  });
  const result: TrainStageResult = { ...run, samples: distill.length, trainer: trainer.description };
  await writeFileAtomic(resultPath, JSON.stringify(result, null, 2));
  return result;
}

function fmt(x: number | null | undefined): string {
  return typeof x === "number" ? x.toFixed(3) : "–";
}
