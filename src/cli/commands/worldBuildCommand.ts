import { NativeTrainer } from "../../core/distill/NativeTrainer.js";
import { buildWorldDir } from "../../core/world/buildWorldDir.js";
import { flagOption, intOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import { JOB_SEED_MAX, jsonOption, seedOption } from "../options/commonOptions.js";
import { trainerBinary } from "../trainerBinary.js";

/** `prism world build`: the reference world's corpus and model, trained from scratch (src/core/world/README.md). */
export const worldBuildCommand = cliCommand(
  {
    name: "world build",
    summary: "build the reference world: a synthetic corpus and a model trained on it",
    description:
      "Builds the reference world (src/core/world/README.md) into --out: a synthetic task built to show the persona " +
      "effect, and a small model trained on it from scratch by prism-trainer, on one thread so that a rebuild gives " +
      "the same bytes. Killed while training, re-running resumes from the last epoch; an existing world of the same " +
      "recipe is reused.",
    options: {
      out: stringOption({ valueName: "<dir>", description: "the world's directory", required: true }),
      reduced: flagOption("the reduced world (fewer examples, fewer epochs), as the tests use"),
      seed: seedOption({ description: "the world's seed (corpus and initial weights)", max: JOB_SEED_MAX, default: 1 }),
      epochs: intOption({
        description: "training epochs (another recipe, so another world)",
        min: 1,
        max: 1000,
        defaultText: "8 reduced, 10 full",
      }),
      fresh: flagOption(
        "replace a world of another recipe in --out, and train from the start instead of the last checkpoint",
      ),
      json: jsonOption("the world's manifest"),
    },
  },
  async ({ values: v }, ctx) => {
    let last = "";
    const built = await buildWorldDir({
      outDir: v.out,
      seed: v.seed,
      reduced: v.reduced,
      epochs: v.epochs,
      fresh: v.fresh,
      trainer: new NativeTrainer({ binaryPath: trainerBinary(), threads: 1 }),
      signal: ctx.signal,
      onProgress: (p) => {
        const pct = p.total ? Math.floor((100 * p.done) / p.total) : 0;
        const line = `world: ${p.message}${p.phase === "train" ? ` (${p.done}/${p.total} steps, ${pct} %)` : ""}`;
        // One line per 5 % is enough for a log; the trainer reports every step.
        const key = `${p.phase}:${Math.floor(pct / 5)}`;
        if (key === last) return;
        last = key;
        ctx.stderr.write(`${line}\n`);
      },
    });
    const m = built.manifest;
    if (v.json) {
      ctx.stdout.write(`${JSON.stringify({ dir: built.dir, cached: built.cached, ...m }, null, 2)}\n`);
      return;
    }
    const lastEpoch = m.training.epochs.at(-1);
    ctx.stdout.write(
      `${built.cached ? "reused" : "built"} ${built.dir}: ${m.recipe.reduced ? "reduced" : "full"} world, seed ${m.recipe.seed}, ` +
        `${m.counts.trainExamples} examples (${m.counts.trainTokens} tokens), model ${m.counts.parameters} parameters ` +
        `trained ${m.training.epochs.length} epochs in ${m.training.seconds.toFixed(0)} s (eval loss ${lastEpoch?.evalLoss?.toFixed(3) ?? "n/a"}), ` +
        `SHA-256 ${m.files.model.sha256.slice(0, 16)}…; held out ${m.counts.heldOut.discriminative} + ${m.counts.heldOut.generative} prompts\n`,
    );
  },
);
