import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { NativeTrainer } from "../../core/distill/NativeTrainer.js";
import { buildWorldDir } from "../../core/world/buildWorldDir.js";
import { prepareWorldDistillation } from "../../core/world/prepareWorldDistillation.js";
import { readWorld } from "../../core/world/readWorld.js";
import { intFlag, numberFlag, UsageError, type CliContext } from "../CliContext.js";
import { runDistillJob } from "../runDistillJob.js";
import { trainerBinary } from "../trainerBinary.js";
import { cliCacheDir } from "./distillCommand.js";
import { featureSpecFlag } from "./featureSpecFlag.js";

export const WORLD_USAGE =
  "prism world build --out <dir> [--reduced] [--seed N] [--epochs N] [--fresh] [--json] | " +
  "prism world distill --world <dir> --out <name.prism> [--seed N] [--gate-features final|layer:K[/mean]] [--epochs N] [--lr X] [--fresh] [--json]";

/** `prism world build|distill`: the reference world (src/core/world/README.md). */
export async function worldCommand(args: string[], ctx: CliContext): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "build") return worldBuild(rest, ctx);
  if (sub === "distill") return worldDistill(rest, ctx);
  throw new UsageError(`world needs a subcommand, build or distill${sub ? `; got "${sub}"` : ""}.`);
}

async function worldBuild(args: string[], ctx: CliContext): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      reduced: { type: "boolean" },
      seed: { type: "string" },
      epochs: { type: "string" },
      fresh: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".`);
  if (!v.out) throw new UsageError("--out is required.");
  let last = "";
  const built = await buildWorldDir({
    outDir: v.out,
    seed: intFlag("seed", v.seed, 0, 2 ** 31 - 1) ?? 1,
    reduced: v.reduced === true,
    epochs: intFlag("epochs", v.epochs, 1, 1000),
    fresh: v.fresh === true,
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
}

async function worldDistill(args: string[], ctx: CliContext): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      world: { type: "string" },
      out: { type: "string" },
      seed: { type: "string" },
      "gate-features": { type: "string" },
      epochs: { type: "string" },
      lr: { type: "string" },
      fresh: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".`);
  if (!v.world || !v.out) throw new UsageError("--world and --out are required.");
  const featureSpec = featureSpecFlag(v["gate-features"]);
  const lr = numberFlag("lr", v.lr, 1e-8, 1);
  const world = await readWorld(v.world);
  const prepared = await prepareWorldDistillation({
    engine: ctx.engine(),
    world,
    outDir: resolve(v.out),
    trainerBinary: trainerBinary(),
    hashCacheFile: join(cliCacheDir(), "model-hashes.json"),
    signal: ctx.signal,
    settings: {
      ...(v.seed !== undefined ? { seed: intFlag("seed", v.seed, 0, 2 ** 31 - 1) } : {}),
      ...(featureSpec ? { featureSpec } : {}),
      lora: {
        ...(v.epochs !== undefined ? { epochs: intFlag("epochs", v.epochs, 1, 1000) } : {}),
        ...(lr !== undefined ? { learningRate: lr } : {}),
      },
    },
  });
  if (v.fresh) await rm(prepared.jobDir, { recursive: true, force: true });
  await runDistillJob(prepared, ctx, v.json === true);
}
