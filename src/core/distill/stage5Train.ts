import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ModelSession } from "../engine/ModelSession.js";
import { AppError } from "../errors.js";
import { personaMessages, studentMessages } from "../pipeline/studentPrompt.js";
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
        { contextSize: Math.min(info.contextLength || 8192, 8192), threads: session.load.threads },
        signal,
      )
    : undefined;
  const lines: string[] = [];
  for (const q of distill) {
    signal?.throwIfAborted();
    const answer = answers.get(q.id)!.persona;
    // The student prompt (no persona) followed by the persona's answer: the LoRA learns to answer like the
    // persona without seeing it (prism-method §3 stage 5).
    const f = await session.engine.request(
      "engine/formatPrompt",
      { modelId, messages: studentMessages(q.query), answer },
      { signal },
    );
    const sample: Record<string, unknown> = { id: q.id, tokens: f.tokens, answer_start: f.answerStart };
    if (teacherContext) {
      // Defect D1 of the authors' code: the teacher must read the persona, or the KL gradient is ~0.
      const t = await session.engine.request(
        "engine/scoreTopK",
        { contextId: teacherContext, messages: personaMessages(personas.get(q.personaId)!, q.query), answer, k: 64 },
        { signal },
      );
      assertSameAnswer(q.id, f.tokens.slice(f.answerStart), t.tokens.slice(t.answerStart));
      sample.teacher = { ids: t.rows.map((r) => r.ids), logp: t.rows.map((r) => round(r.logp)) };
    }
    lines.push(JSON.stringify(sample));
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
