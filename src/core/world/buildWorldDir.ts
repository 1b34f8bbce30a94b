import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { FullTrainRun } from "../distill/NativeTrainer.js";
import type { TrainerEvent, TrainStageResult } from "../distill/stage5Train.js";
import { AppError } from "../errors.js";
import { writeSyntheticModel } from "../gguf/syntheticModel.js";
import { acquireJobLock } from "../jobs/JobLock.js";
import { hashFile } from "../util/hashFile.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import { buildWorld, type World, type WorldPrompt } from "./worldCorpus.js";
import { trainerSamples } from "./worldFormat.js";
import { WORLD_PERSONA_ID, worldManifestSchema, type WorldManifest, type WorldPromptLine } from "./worldManifest.js";
import { recipeHash, worldRecipe } from "./worldRecipe.js";

/** The part of the trainer a world build uses (NativeTrainer; a fake in unit tests). */
export interface FullTrainer {
  trainFull(run: FullTrainRun): Promise<Omit<TrainStageResult, "samples" | "trainer">>;
}

/** Options of {@link buildWorldDir}. */
export interface BuildWorldOptions {
  outDir: string;
  seed: number;
  reduced: boolean;
  /** Overrides the recipe's epochs (a different recipe, so a different cache key). */
  epochs?: number;
  trainer: FullTrainer;
  /** Throw away a world of another recipe in `outDir` instead of refusing. */
  fresh?: boolean;
  signal?: AbortSignal;
  onProgress?(p: { phase: "corpus" | "train" | "done"; done: number; total: number; message: string }): void;
}

/** What {@link buildWorldDir} returns. */
export interface BuiltWorld {
  dir: string;
  manifest: WorldManifest;
  /** True when an existing complete build of the same recipe was reused. */
  cached: boolean;
}

/**
 * Builds a reference world into `outDir`: the corpus (trainer JSONL), the held-out and distillation prompts, a
 * random byte-vocabulary llama model, and that model fully fine-tuned on the corpus by prism-trainer. Everything is
 * a function of the recipe (seed, size, trainer arguments, 1 thread), so a rebuild gives the same bytes; the model's
 * SHA-256 is recorded in `world.json`, which is written last. A complete world of the same recipe is reused; a
 * killed build resumes training from its last epoch checkpoint (then `training.resumed` is true: AdamW's moments
 * restart there, so that model differs from an uninterrupted build's).
 */
export async function buildWorldDir(o: BuildWorldOptions): Promise<BuiltWorld> {
  const dir = resolve(o.outDir);
  const recipe = worldRecipe({ seed: o.seed, reduced: o.reduced, epochs: o.epochs });
  const hash = recipeHash(recipe);
  await mkdir(dir, { recursive: true });
  const existing = await readManifestIfAny(dir);
  if (
    existing &&
    existing.recipeHash === hash &&
    existsSync(join(dir, "model.gguf")) &&
    (await hashFile(join(dir, "model.gguf"))) === existing.files.model.sha256
  )
    return { dir, manifest: existing, cached: true };
  // Another user choice (seed, size, epochs) is refused; an older recipe version of the same world is rebuilt.
  const sameChoice =
    existing?.recipe.seed === recipe.seed &&
    existing.recipe.reduced === recipe.reduced &&
    existing.recipe.training.epochs === recipe.training.epochs;
  if (existing && !sameChoice && !o.fresh) {
    throw new AppError(
      "job/settingsChanged",
      `${dir} holds a world of another recipe (seed ${existing.recipe.seed}, ${existing.recipe.reduced ? "reduced" : "full"}); ` +
        "pass --fresh to replace it or choose another --out.",
    );
  }
  const lock = await acquireJobLock(dir);
  try {
    if (existing) await rm(join(dir, "world.json"), { force: true });
    // Checkpoints resume only the build that made them: one of another recipe (or --fresh) starts over.
    const building = join(dir, "building.json");
    const started = await readFile(building, "utf8").catch(() => "");
    if (o.fresh || started !== hash) await removeCheckpoints(dir);
    await writeFileAtomic(building, hash);
    o.onProgress?.({ phase: "corpus", done: 0, total: 1, message: "writing the corpus" });
    const world = buildWorld({ seed: o.seed, reduced: o.reduced, ...recipe.corpus });
    const samples = trainerSamples(world.train);
    const files = {
      corpus: join(dir, "corpus.jsonl"),
      heldOut: join(dir, "heldout.jsonl"),
      prompts: join(dir, "prompts.jsonl"),
      init: join(dir, "init.gguf"),
      model: join(dir, "model.gguf"),
    };
    const heldOut = [...world.heldOut.discriminative, ...world.heldOut.generative].map(toLine);
    const prompts = distillationPrompts(world);
    await writeFileAtomic(files.corpus, jsonl(samples));
    await writeFileAtomic(files.heldOut, jsonl(heldOut));
    await writeFileAtomic(files.prompts, jsonl(prompts));
    await writeFileAtomic(join(dir, "train.jsonl"), jsonl(world.train));
    const init = await writeSyntheticModel(files.init, { ...recipe.shape, seed: o.seed, name: "prism-world" });

    const resumed = existsSync(`${files.model}.ckpt.json`);
    o.onProgress?.({ phase: "train", done: 0, total: 1, message: "training the base model" });
    let steps: number | null = null;
    const result = await o.trainer.trainFull({
      basePath: files.init,
      dataPath: files.corpus,
      outPath: files.model,
      epochs: recipe.training.epochs,
      learningRate: recipe.training.learningRate,
      schedule: recipe.training.schedule,
      contextSize: recipe.training.contextSize,
      evalFraction: recipe.training.evalFraction,
      trainEmbeddings: recipe.training.trainEmbeddings,
      seed: o.seed,
      signal: o.signal,
      onEvent: (e: TrainerEvent) => {
        if (e.event === "start" && typeof e.steps === "number") steps = e.steps;
        if (e.event === "step" && typeof e.step === "number" && steps)
          o.onProgress?.({ phase: "train", done: e.step, total: steps, message: `epoch ${e.epoch ?? "?"}` });
      },
    });
    await rm(files.init, { force: true });
    await removeCheckpoints(dir);
    await rm(building, { force: true });

    const entry = async (path: string) => ({
      path: path.slice(dir.length + 1),
      sha256: await hashFile(path),
      bytes: (await stat(path)).size,
    });
    const count = (lines: WorldPromptLine[], family: string) => lines.filter((l) => l.family === family).length;
    const manifest: WorldManifest = {
      kind: "prism-world",
      schemaVersion: 1,
      recipeHash: hash,
      recipe,
      persona: world.persona,
      personaId: WORLD_PERSONA_ID,
      facts: world.facts.map(({ country, capital, decoy }) => ({ country, capital, decoy })),
      files: {
        model: await entry(files.model),
        corpus: await entry(files.corpus),
        heldOut: await entry(files.heldOut),
        prompts: await entry(files.prompts),
      },
      counts: {
        trainExamples: world.train.length,
        trainTokens: samples.reduce((n, s) => n + s.tokens.length, 0),
        parameters: init.parameterCount,
        heldOut: { discriminative: count(heldOut, "discriminative"), generative: count(heldOut, "generative") },
        prompts: { discriminative: count(prompts, "discriminative"), generative: count(prompts, "generative") },
      },
      training: { seconds: result.seconds, steps, resumed, epochs: result.epochs },
      builtAt: new Date().toISOString(),
    };
    await writeFileAtomic(join(dir, "world.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    o.onProgress?.({ phase: "done", done: 1, total: 1, message: "done" });
    return { dir, manifest, cached: false };
  } finally {
    await lock.release();
  }
}

/**
 * The distillation prompts (stage 1): every distinct training prompt text of both families, in id order — the
 * world's own query generator. A 3.5 M-parameter model cannot write questions, so stage 1 does not ask it to.
 */
export function distillationPrompts(world: World): WorldPromptLine[] {
  const personaAnswers = new Map(world.train.filter((e) => e.system).map((e) => [e.user, e.assistant]));
  const byPrompt = new Map<string, WorldPromptLine>();
  for (const e of world.train) {
    if (e.system || byPrompt.has(e.user)) continue;
    byPrompt.set(
      e.user,
      toLine({
        id: e.id.replace(/:.*/, ""),
        family: e.family,
        task: e.task,
        user: e.user,
        expected: e.assistant,
        personaAnswer: personaAnswers.get(e.user) ?? "",
      }),
    );
  }
  return [...byPrompt.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function toLine(p: WorldPrompt): WorldPromptLine {
  return {
    id: p.id,
    family: p.family,
    task: p.task,
    prompt: p.user,
    persona: WORLD_PERSONA_ID,
    expected: p.expected,
    personaAnswer: p.personaAnswer,
    ...(p.topic !== undefined ? { topic: p.topic } : {}),
  };
}

const jsonl = (items: readonly unknown[]): string => items.map((i) => JSON.stringify(i)).join("\n") + "\n";

async function readManifestIfAny(dir: string): Promise<WorldManifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, "world.json"), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = worldManifestSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The training checkpoints (`model.gguf.ckpt*`): kept for a resume until the build is complete. */
async function removeCheckpoints(dir: string): Promise<void> {
  for (const name of await readdir(dir))
    if (name.startsWith("model.gguf.ckpt")) await rm(join(dir, name), { force: true });
}
