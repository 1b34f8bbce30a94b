/**
 * A complete distillation on fakes, for unit tests of the stages and the job: the real generator, self-judge,
 * feature extractor and model session of src/core, over a {@link FakeEngine} whose replies make a small,
 * predictable world, and a {@link FakeTrainer}. Only the base model is a real (tiny, generated) GGUF, because
 * stage 4 truncates it and stage 5 reads its tensors.
 *
 * The world: persona `p` asked for question `n` writes "How would p handle case n in practice?"; every answer
 * names its side; the judge prefers the persona's answer for even cases and the base answer for odd ones (so
 * queries alternate distill, retain); the gate feature's first value says whether the case is even.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { STAGE_NAMES, type DistillJobOptions } from "../src/core/distill/DistillJob.js";
import { distillSettingsSchema, type DistillSettings } from "../src/core/distill/distillSettings.js";
import type { StageContext } from "../src/core/distill/DistillStage.js";
import { JobProgress, type JobSnapshot } from "../src/core/distill/JobProgress.js";
import { ModelSession } from "../src/core/engine/ModelSession.js";
import { FeatureExtractor } from "../src/core/features/FeatureExtractor.js";
import { writeSyntheticModel } from "../src/core/gguf/syntheticModel.js";
import { modelFingerprint, modelIdentity, type ModelIdentity } from "../src/core/model/modelIdentity.js";
import { PairwiseModelJudge } from "../src/core/pipeline/judges.js";
import type { Persona } from "../src/core/pipeline/personas.js";
import { EngineGenerator } from "../src/core/pipeline/TextGenerator.js";
import { FakeEngine, type FakeEngineOptions, type FakeGenerateRequest } from "./FakeEngine.js";
import { FakeTrainer, type FakeTrainerOptions } from "./FakeTrainer.js";

/** Two personas of the fake world. */
export const FAKE_PERSONAS: Persona[] = [
  { id: "chef", text: "You are a chef." },
  { id: "pilot", text: "You are an airline pilot." },
];

/** The tiny base model of the fake world and its identity. */
export interface FakeBaseModel {
  path: string;
  identity: ModelIdentity;
}

/**
 * Writes the fake world's base model (a tiny generated GGUF, `base.gguf`) into `dir`. Read-only once written, so a
 * test file can write it once and share it between its distillations (writing one costs more than a fake stage).
 */
export async function fakeBaseModel(dir: string): Promise<FakeBaseModel> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, "base.gguf");
  await writeSyntheticModel(path, { seed: 3 });
  return { path, identity: await modelIdentity(path) };
}

/** Options of {@link fakeDistillation}. */
export interface FakeDistillationOptions {
  /** The base model to use. Defaults to one written into the distillation's directory. */
  base?: FakeBaseModel;
  /** Settings beyond model, personas, judge and generator (defaults: 8 queries per persona, small limits). */
  settings?: Record<string, unknown>;
  /** Extra engine options (more replies are tried before the world's). */
  engine?: FakeEngineOptions;
  trainer?: FakeTrainerOptions;
  /** Parallel generations (the generator's sequences). Defaults to 2. */
  sequences?: number;
}

/** A ready distillation on fakes, see {@link fakeDistillation}. */
export interface FakeDistillation {
  engine: FakeEngine;
  trainer: FakeTrainer;
  settings: DistillSettings;
  basePath: string;
  jobDir: string;
  outDir: string;
  /** The job's options; a fresh session, generator, judge and extractor each time, like a new process. */
  jobOptions(extra?: Partial<DistillJobOptions>): DistillJobOptions;
  /** A stage context with progress snapshots collected in `snapshots`. */
  stageContext(extra?: Partial<StageContext>): StageContext & { snapshots: JobSnapshot[] };
}

/** The case number of a fake-world query ("… case 3 …"), or -1. */
export function caseOf(text: string): number {
  return Number(/\bcase (\d+)\b/.exec(text)?.[1] ?? -1);
}

/** The fake world's replies: queries, side-labelled answers, and a judge that favours even cases' persona answer. */
function worldReplies(): NonNullable<FakeEngineOptions["replies"]> {
  const personaOf = (description: string) => FAKE_PERSONAS.find((p) => description.includes(p.text))?.id ?? "x";
  return [
    {
      system: "You create evaluation questions",
      text: (r: FakeGenerateRequest) => {
        const n = Number(/Question (\d+):$/.exec(r.prompt)?.[1]);
        return `How would ${personaOf(r.prompt)} handle case ${n} in practice?`;
      },
    },
    {
      system: "impartial evaluator",
      text: (r: FakeGenerateRequest) => {
        const [, question = "", a = ""] =
          /^Question:\n([\s\S]*?)\n\nAnswer A:\n([\s\S]*?)\n\nAnswer B:/.exec(r.prompt) ?? [];
        const personaIsA = a.startsWith("[persona]");
        const personaWins = caseOf(question) % 2 === 0;
        return personaWins === personaIsA ? "A" : "B";
      },
    },
    { system: /\S/, text: (r: FakeGenerateRequest) => `[persona] ${r.system} On ${r.prompt}: mind the details.` },
    { text: (r: FakeGenerateRequest) => `[base] On ${r.prompt}: it depends.` },
  ];
}

/**
 * A distillation whose job and bundle directories are in `dir` (with the base model, unless `base` is given).
 * Everything is deterministic: two runs in fresh directories produce the same logs, gate and adapter.
 */
export async function fakeDistillation(dir: string, o: FakeDistillationOptions = {}): Promise<FakeDistillation> {
  await mkdir(dir, { recursive: true });
  const { path: basePath, identity } = o.base ?? (await fakeBaseModel(dir));
  const engine = new FakeEngine({
    ...o.engine,
    model: { embeddingSize: 8, ...o.engine?.model },
    replies: [...(o.engine?.replies ?? []), ...worldReplies()],
    embed:
      o.engine?.embed ??
      ((input, model) => {
        const even = caseOf(input) % 2 === 0 ? 1 : -1;
        return Array.from({ length: model.embeddingSize }, (_, i) => (i === 0 ? even : Math.sin(input.length + i)));
      }),
  });
  const trainer = new FakeTrainer(o.trainer);
  const sequences = o.sequences ?? 2;
  const jobDir = join(dir, "out.prism.job");
  const outDir = join(dir, "out.prism");
  // The job creates it; stages run alone expect it.
  await mkdir(jobDir, { recursive: true });
  const settings = distillSettingsSchema.parse({
    queriesPerPersona: 8,
    query: { maxTokens: 120 },
    answer: { maxTokens: 200 },
    minDistill: 4,
    gate: { minPerClass: 4 },
    lora: { rank: 4, alpha: 8, epochs: 2, contextSize: 256 },
    ...o.settings,
    model: { ...identity, path: basePath },
    personas: FAKE_PERSONAS,
    // what the generator and judge below describe themselves as
    judge: `model:local:${basePath}`,
    generator: `local:${basePath}`,
  });
  const tools = () => {
    const session = new ModelSession(engine, { modelPath: basePath, gpu: "false", threads: 1 });
    const generator = new EngineGenerator({ session, contextSize: 2048, threads: 1, sequences });
    const judge = new PairwiseModelJudge(generator);
    const features = new FeatureExtractor({
      engine,
      basePath,
      baseFingerprint: modelFingerprint(identity),
      spec: settings.featureSpec,
      cacheDir: jobDir,
      threads: 1,
      gpu: "false",
    });
    return { session, generator, judge, features, trainer };
  };
  return {
    engine,
    trainer,
    settings,
    basePath,
    jobDir,
    outDir,
    jobOptions: (extra = {}) => ({ jobDir, outDir, settings, ...tools(), ...extra }),
    stageContext: (extra = {}) => {
      const snapshots: JobSnapshot[] = [];
      // No throttling: tests see every snapshot.
      const progress = new JobProgress(
        "test",
        (s) => snapshots.push(s),
        () => undefined,
        0,
        STAGE_NAMES,
      );
      return { jobDir, settings, ...tools(), progress, ...extra, snapshots };
    },
  };
}
