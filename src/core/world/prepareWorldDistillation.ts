import type { GpuChoice } from "../../protocol/engineProtocol.js";
import type { DistillSettingsInput } from "../distill/distillSettings.js";
import { prepareDistillation, type PreparedDistillation } from "../distill/prepareDistillation.js";
import type { EngineClient } from "../engine/EngineClient.js";
import type { LoadedWorld } from "./readWorld.js";
import { worldJudge } from "./WorldJudge.js";

/** Options of {@link prepareWorldDistillation}. */
export interface WorldDistillationSetup {
  engine: EngineClient;
  world: LoadedWorld;
  outDir: string;
  trainerBinary: string;
  hashCacheFile?: string;
  /** Engine and trainer threads. Defaults to 1: the world's model is so small that more threads only add hand-offs. */
  threads?: number;
  gpu?: GpuChoice;
  /** Overrides of the world's distillation settings (seed, LoRA, gate features…). */
  settings?: Partial<Omit<DistillSettingsInput, "model" | "personas" | "judge" | "generator" | "userPrompts">>;
  signal?: AbortSignal;
}

/**
 * The world's distillation settings. Only the inputs differ from a real model's run: stage 1 takes the world's
 * distillation prompts (every training prompt text of both families) instead of asking a model that cannot write
 * questions, and stage 3's judge is the world's rubric. Stages 2–5 are the unchanged pipeline; the values below
 * suit a 3.5 M-parameter model (greedy answers as long as the world's; LoRA lr 1e-3 on 256-token windows).
 */
export const WORLD_DISTILL_SETTINGS = Object.freeze({
  queriesPerPersona: 0,
  seed: 42,
  answer: { temperature: 0, maxTokens: 96 },
  featureSpec: { source: "layer", layer: 2, pooling: "mean" },
  gate: { minPerClass: 8, threshold: 0.5 },
  minDistill: 16,
  lora: { rank: 16, alpha: 32, epochs: 10, learningRate: 1e-3, contextSize: 256, loss: "kl" },
} satisfies Omit<DistillSettingsInput, "model" | "personas" | "judge" | "generator">);

/** `prism world distill`: the PRISM pipeline on a built world, with the world's persona, prompts and judge. */
export function prepareWorldDistillation(setup: WorldDistillationSetup): Promise<PreparedDistillation> {
  const { world } = setup;
  const personaId = world.manifest.personaId;
  const o = setup.settings ?? {};
  return prepareDistillation({
    engine: setup.engine,
    modelPath: world.modelPath,
    outDir: setup.outDir,
    personas: [{ id: personaId, text: world.manifest.persona }],
    threads: setup.threads ?? 1,
    gpu: setup.gpu ?? "false",
    judge: worldJudge(world.prompts.map((p) => ({ prompt: p.prompt, family: p.family, expected: p.expected }))),
    generator: "local",
    // One sequence: parallel batching makes greedy text depend on timing through float rounding.
    sequences: 1,
    contextSize: world.manifest.recipe.shape.contextLength,
    trainerBinary: setup.trainerBinary,
    hashCacheFile: setup.hashCacheFile,
    signal: setup.signal,
    settings: {
      ...WORLD_DISTILL_SETTINGS,
      ...o,
      gate: { ...WORLD_DISTILL_SETTINGS.gate, ...o.gate },
      lora: { ...WORLD_DISTILL_SETTINGS.lora, ...o.lora },
      userPrompts: world.prompts.map((p) => ({ prompt: p.prompt, personaId })),
    },
  });
}
