import { createHash } from "node:crypto";
import type { SyntheticModelShape } from "../gguf/syntheticModel.js";

/**
 * Bump when anything changes what a build produces — below, in the corpus or in prism-trainer: cached worlds of
 * another version are rebuilt. 2: the trained model keeps the base's chat template (trainer fix).
 */
export const WORLD_RECIPE_VERSION = 2;

/**
 * Everything that determines a reference world's files: corpus options, the random model's shape and seed, and
 * the trainer's arguments. Chosen by the measurements in README.md ("Measurements"): a generative share of 0.25
 * and echoed sums let a 3.5 M-parameter model learn exact answers within minutes on 2 cores.
 */
export interface WorldRecipe {
  version: number;
  seed: number;
  reduced: boolean;
  corpus: { generativeShare: number; echoSums: boolean };
  shape: SyntheticModelShape;
  training: {
    epochs: number;
    learningRate: number;
    schedule: "cosine";
    contextSize: number;
    evalFraction: number;
    trainEmbeddings: boolean;
    /** Trainer threads. Part of the recipe: with 1 thread the result is bit-for-bit reproducible. */
    threads: number;
  };
}

/** The world model: 4 blocks, n_embd 256, FFN 768, byte vocabulary — 3,543,296 parameters, 14.2 MB F32. */
export const WORLD_MODEL_SHAPE: Readonly<SyntheticModelShape> = Object.freeze({
  blocks: 4,
  embeddingLength: 256,
  headCount: 4,
  headCountKv: 4,
  feedForwardLength: 768,
  contextLength: 512,
  weightType: "f32",
  vocab: "gpt2-bytes",
});

/** The recipe of the world for `seed`; `epochs` overrides the measured default (8 reduced, 10 full). */
export function worldRecipe(o: { seed: number; reduced: boolean; epochs?: number }): WorldRecipe {
  return {
    version: WORLD_RECIPE_VERSION,
    seed: o.seed,
    reduced: o.reduced,
    corpus: { generativeShare: 0.25, echoSums: true },
    shape: { ...WORLD_MODEL_SHAPE },
    training: {
      epochs: o.epochs ?? (o.reduced ? 8 : 10),
      learningRate: 1e-3,
      schedule: "cosine",
      contextSize: 256,
      evalFraction: 0.05,
      trainEmbeddings: true,
      threads: 1,
    },
  };
}

/** A short stable hash of a recipe (the cache key of a built world). */
export function recipeHash(recipe: WorldRecipe): string {
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}
