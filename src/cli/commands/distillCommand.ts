import { rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { prepareDistillation } from "../../core/distill/prepareDistillation.js";
import { DEFAULT_PERSONAS } from "../../core/pipeline/personas.js";
import { defaultThreadCount } from "../../core/util/defaultThreadCount.js";
import { intFlag, numberFlag, UsageError, type CliContext } from "../CliContext.js";
import { readPersonasFile, readPromptsFile } from "../readPromptFiles.js";
import { runDistillJob } from "../runDistillJob.js";
import { trainerBinary } from "../trainerBinary.js";
import { featureSpecFlag } from "./featureSpecFlag.js";
import { gpuFlag } from "./gpuFlag.js";

export const DISTILL_USAGE =
  "prism distill --model <m.gguf> --out <name.prism> [--personas <file.json|jsonl>] [--persona-ids a,b] " +
  "[--queries-per-persona N] [--prompts <file.jsonl|txt>] [--judge self|rule:longer|rule:shorter|<url>] " +
  "[--generator local|<url>] [--gate-features final|layer:K] [--seed N] [--threads N] [--sequences N] " +
  "[--context N] [--max-query-tokens N] [--max-answer-tokens N] [--min-per-class N] [--min-distill N] " +
  "[--epochs N] [--rank N] [--alpha A] [--lr X] [--window N] [--loss kl|sft] [--gpu …] [--fresh] [--json]";

/** The per-user cache of the CLI (model content hashes). */
export function cliCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "prism");
}

/**
 * `prism distill`: runs the five PRISM stages into a bundle. The job lives in `<out>.job/`; re-running the
 * same command resumes it (killed at any moment, it repeats no finished item). Progress goes to stderr.
 */
export async function distillCommand(args: string[], ctx: CliContext): Promise<void> {
  const stringFlags = [
    "model",
    "out",
    "personas",
    "persona-ids",
    "queries-per-persona",
    "prompts",
    "judge",
    "generator",
    "gate-features",
    "seed",
    "threads",
    "sequences",
    "context",
    "max-query-tokens",
    "max-answer-tokens",
    "min-per-class",
    "min-distill",
    "epochs",
    "rank",
    "alpha",
    "lr",
    "window",
    "loss",
    "gpu",
  ];
  const options: Record<string, { type: "string" | "boolean" }> = {
    fresh: { type: "boolean" },
    json: { type: "boolean" },
  };
  for (const k of stringFlags) options[k] = { type: "string" };
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
  const v = values as Record<string, string | boolean | undefined>;
  const s = (k: string): string | undefined => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".`);
  if (!s("model")) throw new UsageError("--model is required.");
  if (!s("out")) throw new UsageError("--out is required.");
  const modelPath = resolve(s("model")!);
  const outDir = resolve(s("out")!);
  const threads = intFlag("threads", s("threads"), 1, 1024) ?? defaultThreadCount();
  const gpu = gpuFlag(s("gpu"));
  const featureSpec = featureSpecFlag(s("gate-features"));

  let personas = s("personas")
    ? await readPersonasFile(resolve(s("personas")!))
    : DEFAULT_PERSONAS.map(({ id, text }) => ({ id, text }));
  if (s("persona-ids")) {
    const wanted = s("persona-ids")!
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
    const unknown = wanted.filter((id) => !personas.some((p) => p.id === id));
    if (unknown.length) throw new UsageError(`--persona-ids: unknown persona(s) ${unknown.join(", ")}.`);
    personas = personas.filter((p) => wanted.includes(p.id));
  }
  const userPrompts = s("prompts") ? await readPromptsFile(resolve(s("prompts")!)) : [];
  const generatorSpec = s("generator") ?? "local";
  const prepared = await prepareDistillation({
    engine: ctx.engine(),
    modelPath,
    outDir,
    personas,
    threads,
    gpu,
    judge: s("judge") ?? "self",
    generator: generatorSpec,
    sequences: intFlag("sequences", s("sequences"), 1, 64),
    contextSize: intFlag("context", s("context"), 256, 1_048_576),
    trainerBinary: trainerBinary(),
    hashCacheFile: join(cliCacheDir(), "model-hashes.json"),
    signal: ctx.signal,
    settings: {
      queriesPerPersona: intFlag("queries-per-persona", s("queries-per-persona"), 0, 10_000),
      userPrompts,
      seed: intFlag("seed", s("seed"), 0, 2 ** 31 - 1),
      featureSpec,
      query: { maxTokens: intFlag("max-query-tokens", s("max-query-tokens"), 1, 32_768) },
      answer: { maxTokens: intFlag("max-answer-tokens", s("max-answer-tokens"), 1, 32_768) },
      gate: { minPerClass: intFlag("min-per-class", s("min-per-class"), 2, 100_000) },
      minDistill: intFlag("min-distill", s("min-distill"), 1, 100_000),
      lora: {
        loss: lossFlag(s("loss")),
        epochs: intFlag("epochs", s("epochs"), 1, 1000),
        rank: intFlag("rank", s("rank"), 1, 512),
        alpha: numberFlag("alpha", s("alpha"), 0.001, 4096),
        learningRate: numberFlag("lr", s("lr"), 1e-8, 1),
        contextSize: intFlag("window", s("window"), 256, 131_072),
      },
    },
  });
  if (v.fresh) await rm(prepared.jobDir, { recursive: true, force: true });
  await runDistillJob(prepared, ctx, v.json === true);
}

function lossFlag(value: string | undefined): "sft" | "kl" | undefined {
  if (value === undefined || value === "sft" || value === "kl") return value;
  throw new UsageError(`--loss must be kl (the paper's, default) or sft, got "${value}".`);
}
