import type { ModelSession } from "../engine/ModelSession.js";
import type { FeatureExtractor } from "../features/FeatureExtractor.js";
import type { Judge } from "../pipeline/judges.js";
import type { TextGenerator } from "../pipeline/TextGenerator.js";
import type { DistillSettings } from "./distillSettings.js";
import type { JobProgress } from "./JobProgress.js";
import type { Trainer } from "./stage5Train.js";

/** What every stage may use: the job directory, the settings, the job's tools, its progress and its signal. */
export interface StageContext {
  /** The working directory: state, each stage's log and result files (docs/architecture.md §6). Re-running resumes here. */
  jobDir: string;
  settings: DistillSettings;
  /** Stages 1–2 text. */
  generator: TextGenerator;
  /** Stage 3. */
  judge: Judge;
  /** Stage 4 features (the same extractor the router uses). */
  features: FeatureExtractor;
  /** The base model in the engine: formats LoRA training sequences with its chat template. */
  session: ModelSession;
  /** Stage 5. */
  trainer: Trainer;
  progress: JobProgress;
  signal?: AbortSignal;
}

/**
 * One stage of the distillation (docs/method.md §3): reads what earlier stages made (`In`, e.g. `{queries}`),
 * makes its own data (`Out`, e.g. `{answers}`), and is resumable on its own — finished items are in its JSONL
 * log, a finished result in its result file — so running it again after a kill redoes nothing
 * (docs/architecture.md §8).
 */
export interface DistillStage<In extends object, Out extends object> {
  /** Its position in `DISTILL_STAGES`, from 1: the stage number of progress snapshots and of docs/method.md §3. */
  readonly number: number;
  /** Its name in progress snapshots (`stageName`), e.g. `answers`. */
  readonly name: string;
  run(ctx: StageContext, input: In): Promise<Out>;
}

/** Any stage, for lists of stages; each list's order is checked by {@link StagesOutput}. */
// `never` in: a method parameter is checked bivariantly, so every stage is one of these.
export type AnyDistillStage = DistillStage<never, object>;

/**
 * What running `Stages` in order hands on: the merged outputs of all of them. A stage whose input is not made by
 * the stages before it turns the result into an error type, so a misordered list fails to compile where the
 * result is used.
 */
export type StagesOutput<
  Stages extends readonly AnyDistillStage[],
  Have extends object = object,
> = Stages extends readonly [infer First, ...infer Rest extends readonly AnyDistillStage[]]
  ? First extends DistillStage<infer In, infer Out>
    ? Have extends In
      ? StagesOutput<Rest, Have & Out>
      : { stageOrderError: "a stage needs data that no earlier stage makes"; stage: First; has: Have }
    : never
  : Have;

/** Called after each stage with what the stages so far made and the stage's wall time in this run. */
export type StageDoneHook = (stage: AnyDistillStage, data: object, seconds: number) => Promise<void> | void;

/** Runs `stages` in order, each on the merged outputs of those before it. */
export async function runStages<const Stages extends readonly AnyDistillStage[]>(
  stages: Stages,
  ctx: StageContext,
  onStageDone?: StageDoneHook,
): Promise<StagesOutput<Stages>> {
  let data: object = {};
  for (const stage of stages) {
    ctx.signal?.throwIfAborted();
    const started = performance.now();
    data = { ...data, ...(await (stage as DistillStage<object, object>).run(ctx, data)) };
    await onStageDone?.(stage, data, (performance.now() - started) / 1000);
  }
  return data as StagesOutput<Stages>;
}
