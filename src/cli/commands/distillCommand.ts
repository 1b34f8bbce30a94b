import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { distillSettingsSchema } from "../../core/distill/distillSettings.js";
import { prepareDistillation } from "../../core/distill/prepareDistillation.js";
import { DISTILL_PRESETS, PRESET_VALUES } from "../../core/cost/distillPresets.js";
import { formatDistillCost, type DistillEstimate } from "../../core/cost/estimateDistillation.js";
import { formatFeatureSpec } from "../../core/features/featureSpec.js";
import { DEFAULT_PERSONAS } from "../../core/pipeline/personas.js";
import { cliCacheDir } from "../cliCacheDir.js";
import { UsageError } from "../CliContext.js";
import { choiceOption, flagOption, intOption, listOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import {
  contextOption,
  DEFAULT_LOSS,
  ENGINE_OPTIONS,
  FRESH_OPTION,
  gateFeaturesOption,
  JOB_SEED_MAX,
  jsonOption,
  LORA_OPTIONS,
  lossOption,
  MODEL_CONTEXT_DEFAULT,
  MODEL_OPTION,
  seedOption,
} from "../options/commonOptions.js";
import { readPersonasFile, readPromptsFile } from "../readPromptFiles.js";
import { runDistillJob } from "../runDistillJob.js";
import { trainerBinary } from "../trainerBinary.js";

/**
 * The job settings' defaults, read from their schema for help. Absent options stay undefined so that the schema
 * applies them, as it does for the extension's jobs.
 */
const SETTINGS = distillSettingsSchema.shape;
const DEFAULTS = {
  queriesPerPersona: SETTINGS.queriesPerPersona.parse(undefined),
  seed: SETTINGS.seed.parse(undefined),
  featureSpec: SETTINGS.featureSpec.parse(undefined),
  query: SETTINGS.query.parse(undefined),
  answer: SETTINGS.answer.parse(undefined),
  gate: SETTINGS.gate.parse(undefined),
  minDistill: SETTINGS.minDistill.parse(undefined),
};

/**
 * `prism distill`: runs the five PRISM stages into a bundle. The job lives in `<out>.job/`; re-running the
 * same command resumes it (killed at any moment, it repeats no finished item). Progress goes to stderr.
 */
export const distillCommand = cliCommand(
  {
    name: "distill",
    summary: "run the five PRISM stages on a model into a bundle (resumable)",
    description:
      "Runs the five PRISM stages (docs/method.md §3) on a model: queries, two answers per query, the pairwise " +
      "judge, the gate, and one LoRA for all personas, into the bundle --out. The job lives in <out>.job/; " +
      "re-running the same command resumes it and repeats no finished item. Other settings than the job's are " +
      "refused (job/settingsChanged); --fresh starts over. Progress goes to stderr.",
    options: {
      model: MODEL_OPTION,
      out: stringOption({ valueName: "<name.prism>", description: "the bundle to write", required: true }),
      personas: stringOption({
        valueName: "<file.json|jsonl>",
        description: "personas {id, text}",
        defaultText: "the built-in personas",
      }),
      "persona-ids": listOption({
        description: `use only these persona ids; the built-in ones are ${DEFAULT_PERSONAS.map((p) => p.id).join(", ")}`,
        defaultText: "all",
      }),
      "queries-per-persona": intOption({
        description: "queries stage 1 generates per persona; 0 uses only --prompts",
        min: 0,
        max: 10_000,
        defaultText: String(DEFAULTS.queriesPerPersona),
      }),
      prompts: stringOption({
        valueName: "<file.jsonl|txt>",
        description: "your own prompts, as {prompt, persona?} lines or plain lines",
      }),
      judge: stringOption({
        valueName: "self|rule:longer|rule:shorter|<url>",
        description: "stage 3's judge: the model itself, a rule, or an OpenAI-compatible server",
        default: "self",
      }),
      generator: stringOption({
        valueName: "local|<url>",
        description: "who writes queries and answers in stages 1-2: the model, or an OpenAI-compatible server",
        default: "local",
      }),
      "gate-features": gateFeaturesOption({
        defaultText: formatFeatureSpec(DEFAULTS.featureSpec),
      }),
      seed: seedOption({ description: "the job's seed", max: JOB_SEED_MAX, defaultText: String(DEFAULTS.seed) }),
      ...ENGINE_OPTIONS,
      sequences: intOption({
        description: "parallel sequences of the local generator",
        min: 1,
        max: 64,
        defaultText: "4",
      }),
      context: contextOption({ min: 256, defaultText: MODEL_CONTEXT_DEFAULT }),
      "max-query-tokens": intOption({
        description: "the most tokens of a generated query",
        min: 1,
        max: 32_768,
        defaultText: String(DEFAULTS.query.maxTokens),
      }),
      "max-answer-tokens": intOption({
        description: "the most tokens of an answer",
        min: 1,
        max: 32_768,
        defaultText: String(DEFAULTS.answer.maxTokens),
      }),
      "min-per-class": intOption({
        description: "the fewest judged prompts per gate class (persona, base)",
        min: 2,
        max: 100_000,
        defaultText: String(DEFAULTS.gate.minPerClass),
      }),
      "min-distill": intOption({
        description: "the fewest distill samples the LoRA is trained on",
        min: 1,
        max: 100_000,
        defaultText: String(DEFAULTS.minDistill),
      }),
      ...LORA_OPTIONS,
      loss: lossOption(`${DEFAULT_LOSS}, the paper's`),
      preset: choiceOption({
        choices: DISTILL_PRESETS,
        description:
          "the job's size: quick (6 personas x 16 queries, 256-token answers, 1 epoch), standard, or paper " +
          "(the method's full settings); options given explicitly override it (docs/method.md §7)",
        default: "paper",
      }),
      estimate: flagOption("measure this machine, print the job's work and time estimate per stage, and exit"),
      fresh: FRESH_OPTION,
      json: jsonOption("the summary"),
    },
  },
  async ({ values: v }, ctx) => {
    let personas = v.personas
      ? await readPersonasFile(resolve(v.personas))
      : DEFAULT_PERSONAS.map(({ id, text }) => ({ id, text }));
    // A preset's persona subset applies only to the built-in set, and only when the user named none.
    const wanted = v["persona-ids"] ?? (v.personas ? undefined : PRESET_VALUES[v.preset].personaIds);
    if (wanted) {
      const unknown = wanted.filter((id) => !personas.some((p) => p.id === id));
      if (unknown.length) throw new UsageError(`--persona-ids: unknown persona(s) ${unknown.join(", ")}.`);
      personas = personas.filter((p) => wanted.includes(p.id));
    }
    const userPrompts = v.prompts ? await readPromptsFile(resolve(v.prompts)) : [];
    const prepared = await prepareDistillation({
      engine: ctx.engine(),
      modelPath: resolve(v.model),
      outDir: resolve(v.out),
      personas,
      threads: v.threads,
      gpu: v.gpu,
      judge: v.judge,
      generator: v.generator,
      sequences: v.sequences,
      contextSize: v.context,
      trainerBinary: trainerBinary(),
      hashCacheFile: join(cliCacheDir(), "model-hashes.json"),
      signal: ctx.signal,
      preset: v.preset,
      settings: {
        queriesPerPersona: v["queries-per-persona"],
        userPrompts,
        seed: v.seed,
        featureSpec: v["gate-features"],
        query: { maxTokens: v["max-query-tokens"] },
        answer: { maxTokens: v["max-answer-tokens"] },
        gate: { minPerClass: v["min-per-class"] },
        minDistill: v["min-distill"],
        lora: {
          loss: v.loss,
          epochs: v.epochs,
          rank: v.rank,
          alpha: v.alpha,
          learningRate: v.lr,
          contextSize: v.window,
        },
      },
    });
    if (v.estimate) {
      const estimate = await prepared.estimate(ctx.signal);
      ctx.stdout.write(
        v.json
          ? `${JSON.stringify({ preset: v.preset, rates: estimate.rates, memory: estimate.memory, ...estimate.cost }, null, 2)}\n`
          : `${formatDistillCost(estimate.cost, estimate.rates, estimate.memory).join("\n")}\n`,
      );
      return;
    }
    if (v.fresh) await rm(prepared.jobDir, { recursive: true, force: true });
    // A new job is calibrated first (seconds) so that its progress carries the whole job's ETA; a resumed one goes
    // on with the estimate it saved (docs/method.md §7).
    let estimate: DistillEstimate | undefined;
    if (!existsSync(join(prepared.jobDir, "cost.json"))) {
      estimate = await prepared.estimate(ctx.signal);
      ctx.stderr.write(`estimate: ${formatDistillCost(estimate.cost, estimate.rates, estimate.memory).join("\n  ")}\n`);
    }
    await runDistillJob(prepared, ctx, v.json, estimate);
  },
);
