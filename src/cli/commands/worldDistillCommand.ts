import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { formatFeatureSpec } from "../../core/features/featureSpec.js";
import { prepareWorldDistillation, WORLD_DISTILL_SETTINGS } from "../../core/world/prepareWorldDistillation.js";
import { readWorld } from "../../core/world/readWorld.js";
import { cliCacheDir } from "../cliCacheDir.js";
import { intOption, numberOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import { FRESH_OPTION, gateFeaturesOption, JOB_SEED_MAX, jsonOption, seedOption } from "../options/commonOptions.js";
import { runDistillJob } from "../runDistillJob.js";
import { trainerBinary } from "../trainerBinary.js";

/**
 * `prism world distill`: the PRISM pipeline on a built world, with the world's persona, prompts and rubric as the
 * judge. Absent options stay undefined so that the world's own settings (`WORLD_DISTILL_SETTINGS`) apply; help
 * reads their defaults from there.
 */
export const worldDistillCommand = cliCommand(
  {
    name: "world distill",
    summary: "run the PRISM pipeline on a reference world (its rubric as the judge)",
    description:
      "Runs the five PRISM stages on a built reference world into the bundle --out: the world's persona, its " +
      "prompts instead of generated queries, and its rubric as stage 3's judge (src/core/world/README.md). Like " +
      "prism distill, the job in <out>.job/ resumes when re-run.",
    options: {
      world: stringOption({ valueName: "<dir>", description: "the built world", required: true }),
      out: stringOption({ valueName: "<name.prism>", description: "the bundle to write", required: true }),
      seed: seedOption({
        description: "the job's seed",
        max: JOB_SEED_MAX,
        defaultText: String(WORLD_DISTILL_SETTINGS.seed),
      }),
      "gate-features": gateFeaturesOption({ defaultText: formatFeatureSpec(WORLD_DISTILL_SETTINGS.featureSpec) }),
      epochs: intOption({
        description: "training epochs of the LoRA",
        min: 1,
        max: 1000,
        defaultText: String(WORLD_DISTILL_SETTINGS.lora.epochs),
      }),
      lr: numberOption({
        description: "learning rate of the LoRA",
        min: 1e-8,
        max: 1,
        defaultText: String(WORLD_DISTILL_SETTINGS.lora.learningRate),
      }),
      fresh: FRESH_OPTION,
      json: jsonOption("the summary"),
    },
  },
  async ({ values: v }, ctx) => {
    const world = await readWorld(v.world);
    const prepared = await prepareWorldDistillation({
      engine: ctx.engine(),
      world,
      outDir: resolve(v.out),
      trainerBinary: trainerBinary(),
      hashCacheFile: join(cliCacheDir(), "model-hashes.json"),
      signal: ctx.signal,
      // Only what was given: prepareWorldDistillation spreads these over the world's settings.
      settings: {
        ...(v.seed !== undefined ? { seed: v.seed } : {}),
        ...(v["gate-features"] ? { featureSpec: v["gate-features"] } : {}),
        lora: {
          ...(v.epochs !== undefined ? { epochs: v.epochs } : {}),
          ...(v.lr !== undefined ? { learningRate: v.lr } : {}),
        },
      },
    });
    if (v.fresh) await rm(prepared.jobDir, { recursive: true, force: true });
    await runDistillJob(prepared, ctx, v.json);
  },
);
