import type { GpuChoice } from "../../protocol/engineProtocol.js";
import { applyPreset, type DistillPreset } from "../cost/distillPresets.js";
import { estimateDistillation, type DistillEstimate } from "../cost/estimateDistillation.js";
import type { EngineClient } from "../engine/EngineClient.js";
import { ModelSession } from "../engine/ModelSession.js";
import { AppError } from "../errors.js";
import { FeatureExtractor } from "../features/FeatureExtractor.js";
import { modelFingerprint, modelIdentity } from "../model/modelIdentity.js";
import { assertTrainerSupport, inspectTrainerSupport, resolveLoraTargets } from "../model/trainerSupport.js";
import { BUILTIN_RULE_JUDGES, PairwiseModelJudge, type Judge } from "../pipeline/judges.js";
import { OpenAiGenerator } from "../pipeline/OpenAiGenerator.js";
import type { Persona } from "../pipeline/personas.js";
import { EngineGenerator, type TextGenerator } from "../pipeline/TextGenerator.js";
import { DistillJob, type DistillJobOptions } from "./DistillJob.js";
import { distillSettingsSchema, type DistillSettings, type DistillSettingsInput } from "./distillSettings.js";
import { NativeTrainer } from "./NativeTrainer.js";

/** What a distillation needs besides its settings: where it runs and with what. */
export interface DistillationSetup {
  engine: EngineClient;
  modelPath: string;
  outDir: string;
  personas: Persona[];
  threads: number;
  gpu: GpuChoice;
  /**
   * `self` (the model judges itself), an http(s) URL of an OpenAI-compatible server, `rule:<name>`, a judge
   * plugin (the reference world's rubric), or a function making a judge from the job's generator (a benchmark's
   * self-judge with a fallback).
   */
  judge: string | Judge | ((generator: TextGenerator) => Judge);
  /** `local` or an http(s) URL of an OpenAI-compatible server. */
  generator: string;
  /** Parallel sequences of the local generator. Defaults to 4. */
  sequences?: number;
  /** Per-sequence context of the local generator. Defaults to min(model, 4096). */
  contextSize?: number;
  /** The prism-trainer binary. */
  trainerBinary: string;
  /** Content-hash cache (see `modelIdentity`). */
  hashCacheFile?: string;
  /** Settings beyond model, personas, judge and generator (counts, seeds, limits, LoRA). */
  settings: Omit<DistillSettingsInput, "model" | "personas" | "judge" | "generator">;
  /** Fills the settings left unset (docs/method.md §7); without one, the settings' defaults (= `paper`). */
  preset?: DistillPreset;
  signal?: AbortSignal;
}

/** A distillation ready to run (or resume). */
export interface PreparedDistillation {
  settings: DistillSettings;
  jobDir: string;
  /** Measures this machine (a few seconds) and estimates the job's work and time per stage. */
  estimate(signal?: AbortSignal): Promise<DistillEstimate>;
  job(options: Pick<DistillJobOptions, "signal" | "onProgress" | "log" | "estimate">): DistillJob;
}

/** Validates a `--judge` value and builds the judge. */
export function makeJudge(spec: string, generator: TextGenerator): Judge {
  if (spec === "self") return new PairwiseModelJudge(generator);
  if (/^https?:\/\//.test(spec)) return new PairwiseModelJudge(new OpenAiGenerator({ baseUrl: spec }));
  const rule = /^rule:(.+)$/.exec(spec)?.[1];
  const make = rule ? BUILTIN_RULE_JUDGES[rule] : undefined;
  if (make) return make();
  throw new AppError(
    "distill/invalidBackend",
    `The judge must be self, an http(s) URL, or rule:${Object.keys(BUILTIN_RULE_JUDGES).join("|rule:")}; got "${spec}".`,
  );
}

/**
 * Assembles a distillation from user-level choices — the same for the CLI and the extension: loads the model,
 * hashes it (cached), builds generator, judge, feature extractor and trainer, and validates the settings.
 */
export async function prepareDistillation(setup: DistillationSetup): Promise<PreparedDistillation> {
  const { engine, modelPath, threads, gpu, signal } = setup;
  if (setup.generator !== "local" && !/^https?:\/\//.test(setup.generator)) {
    throw new AppError(
      "distill/invalidBackend",
      `The generator must be local or an http(s) URL; got "${setup.generator}".`,
    );
  }
  const session = new ModelSession(engine, { modelPath, gpu, threads });
  const info = await session.model(signal);
  const contextSize = setup.contextSize ?? Math.min(info.contextLength || 4096, 4096);
  const sequences = setup.sequences ?? 4;
  const generator: TextGenerator =
    setup.generator === "local"
      ? new EngineGenerator({ session, contextSize, threads, sequences })
      : new OpenAiGenerator({ baseUrl: setup.generator });
  const judge =
    typeof setup.judge === "string"
      ? makeJudge(setup.judge, generator)
      : typeof setup.judge === "function"
        ? setup.judge(generator)
        : setup.judge;
  const identity = await modelIdentity(modelPath, { cacheFile: setup.hashCacheFile, signal });
  const settings = distillSettingsSchema.parse({
    ...(setup.preset ? applyPreset(setup.preset, setup.settings) : setup.settings),
    model: { ...identity, path: modelPath },
    personas: setup.personas,
    judge: judge.description,
    generator: generator.description,
  });
  if (settings.queriesPerPersona === 0 && settings.userPrompts.length === 0) {
    throw new AppError("distill/emptyDataset", "Nothing to distil: no generated queries and no prompts of your own.");
  }
  // Refuse a model stage 5 cannot train on now, not after hours of stages 1-4.
  const support = await inspectTrainerSupport(modelPath, { trainerBinary: setup.trainerBinary, signal });
  assertTrainerSupport(support, modelPath);
  resolveLoraTargets(settings.lora.targets, support.targets);
  const jobDir = `${setup.outDir}.job`;
  const features = new FeatureExtractor({
    engine,
    basePath: modelPath,
    baseFingerprint: modelFingerprint(identity),
    spec: settings.featureSpec,
    cacheDir: jobDir,
    threads,
    gpu,
  });
  const trainer = new NativeTrainer({ binaryPath: setup.trainerBinary, threads });
  const costSetup = {
    session,
    settings,
    threads,
    sequences,
    contextSize,
    localGenerator: setup.generator === "local",
    // the judge's passes cost the local model's time when it judges with the job's own generator
    localJudge: setup.generator === "local" && judge.generator === generator,
  };
  return {
    settings,
    jobDir,
    estimate: (estimateSignal) => estimateDistillation(costSetup, estimateSignal),
    job: (o) =>
      new DistillJob({ jobDir, outDir: setup.outDir, settings, generator, judge, features, session, trainer, ...o }),
  };
}
