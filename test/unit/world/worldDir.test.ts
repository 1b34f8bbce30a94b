import { existsSync, readdirSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FullTrainRun } from "../../../src/core/distill/NativeTrainer.js";
import { buildWorldDir, type FullTrainer } from "../../../src/core/world/buildWorldDir.js";
import { readWorld } from "../../../src/core/world/readWorld.js";
import { worldManifestSchema } from "../../../src/core/world/worldManifest.js";

/** Stands in for prism-trainer (its real runs are in test/model/world.test.ts): the "trained" model is the init. */
class CopyTrainer implements FullTrainer {
  runs: FullTrainRun[] = [];
  async trainFull(run: FullTrainRun) {
    this.runs.push(run);
    run.onEvent?.({ event: "start", steps: 10 });
    run.onEvent?.({ event: "step", step: 10, epoch: 1 });
    await copyFile(run.basePath, run.outPath);
    return { adapterPath: run.outPath, seconds: 0.1, epochs: [{ epoch: 1, trainLoss: 2, evalLoss: 1.5 }] };
  }
}

describe("buildWorldDir / readWorld", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "prism-worlddir-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("writes corpus, prompts and model, then world.json with checksums; full-mode training with embeddings", async () => {
    const trainer = new CopyTrainer();
    const progress: string[] = [];
    const built = await buildWorldDir({
      outDir: dir,
      seed: 3,
      reduced: true,
      trainer,
      onProgress: (p) => progress.push(p.phase),
    });
    expect(built.cached).toBe(false);
    expect(trainer.runs).toHaveLength(1);
    expect(trainer.runs[0]).toMatchObject({
      trainEmbeddings: true,
      epochs: 8,
      learningRate: 1e-3,
      contextSize: 256,
      seed: 3,
    });
    expect(progress).toEqual(["corpus", "train", "train", "done"]);
    const manifest = worldManifestSchema.parse(JSON.parse(await readFile(join(dir, "world.json"), "utf8")));
    expect(manifest.counts.parameters).toBe(3_543_296);
    expect(manifest.counts.prompts.generative).toBeGreaterThan(0);
    const world = await readWorld(dir);
    expect(world.heldOut).toHaveLength(manifest.counts.heldOut.discriminative + manifest.counts.heldOut.generative);
    // Distillation prompts are training prompts: none is held out; each has its exact answer for the judge.
    const held = new Set(world.heldOut.map((p) => p.prompt));
    expect(world.prompts.every((p) => !held.has(p.prompt) && p.expected.length > 0)).toBe(true);
    expect(new Set(world.prompts.map((p) => p.prompt)).size).toBe(world.prompts.length);
  });

  it("reuses a complete world of the same recipe, refuses another recipe without --fresh, rebuilds with it", async () => {
    const trainer = new CopyTrainer();
    await buildWorldDir({ outDir: dir, seed: 3, reduced: true, trainer });
    expect((await buildWorldDir({ outDir: dir, seed: 3, reduced: true, trainer })).cached).toBe(true);
    expect(trainer.runs).toHaveLength(1);
    await expect(buildWorldDir({ outDir: dir, seed: 4, reduced: true, trainer })).rejects.toMatchObject({
      code: "job/settingsChanged",
    });
    const rebuilt = await buildWorldDir({ outDir: dir, seed: 4, reduced: true, trainer, fresh: true });
    expect(rebuilt.manifest.recipe.seed).toBe(4);
    expect(trainer.runs).toHaveLength(2);
  });

  it("rebuilds when the model no longer matches its checksum; readWorld refuses it meanwhile", async () => {
    const trainer = new CopyTrainer();
    await buildWorldDir({ outDir: dir, seed: 3, reduced: true, trainer });
    const model = join(dir, "model.gguf");
    const bytes = await readFile(model);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(model, bytes);
    await expect(readWorld(dir)).rejects.toMatchObject({ code: "world/modelMismatch" });
    expect((await buildWorldDir({ outDir: dir, seed: 3, reduced: true, trainer })).cached).toBe(false);
    await expect(readWorld(dir)).resolves.toBeTruthy();
  });

  it("resumes only its own interrupted build: checkpoints of another recipe, or with --fresh, are discarded", async () => {
    const copy = new CopyTrainer();
    /** Records whether a checkpoint was there to resume from; fails after writing one unless `finish`. */
    const sawCheckpoint: boolean[] = [];
    const trainer = (finish: boolean): FullTrainer => ({
      trainFull: async (run) => {
        sawCheckpoint.push(existsSync(`${run.outPath}.ckpt.json`));
        if (finish) return copy.trainFull(run);
        await writeFile(`${run.outPath}.ckpt.json`, "{}");
        throw new Error("killed");
      },
    });
    const build = (seed: number, finish: boolean, fresh = false) =>
      buildWorldDir({ outDir: dir, seed, reduced: true, trainer: trainer(finish), fresh });
    await expect(build(3, false)).rejects.toThrow("killed");
    await expect(build(3, false)).rejects.toThrow("killed"); // same recipe: resumes
    await expect(build(3, false, true)).rejects.toThrow("killed"); // --fresh: starts over
    await build(4, true); // another recipe: starts over
    expect(sawCheckpoint).toEqual([false, true, false, false]);
    expect(readdirSync(dir).filter((f) => f.includes("ckpt") || f === "building.json")).toEqual([]);
  });

  it("reports a missing or invalid world with coded errors", async () => {
    await expect(readWorld(join(dir, "nope"))).rejects.toMatchObject({ code: "world/notFound" });
    await writeFile(join(dir, "world.json"), "{ not json");
    await expect(readWorld(dir)).rejects.toMatchObject({ code: "world/invalid" });
    await writeFile(join(dir, "world.json"), JSON.stringify({ kind: "prism-world" }));
    await expect(readWorld(dir)).rejects.toMatchObject({ code: "world/invalid" });
  });

  it("a failed training leaves no world.json (the world is incomplete, not half-valid)", async () => {
    const failing: FullTrainer = {
      trainFull: () => Promise.reject(new Error("boom")),
    };
    await expect(buildWorldDir({ outDir: dir, seed: 3, reduced: true, trainer: failing })).rejects.toThrow("boom");
    await expect(readWorld(dir)).rejects.toMatchObject({ code: "world/notFound" });
  });
});
