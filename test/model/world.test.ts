// The reference world end to end (issue 7): the reduced world is built (a 3.5 M-parameter model trained from scratch
// by prism-trainer, ~5 min on 2 cores, cached in .cache/worlds/ across runs), distilled by the unchanged PRISM
// pipeline with the world's rubric as judge, and evaluated on held-out prompts. The assertions are the directions
// of the effects the paper reports, with margins well inside what the recipe measures (src/core/world/README.md).
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { worldEvaluationSchema, type WorldEvaluation } from "../../src/core/world/worldEvaluation.js";
import { worldManifestSchema, type WorldManifest } from "../../src/core/world/worldManifest.js";
import { fixtures } from "./harness.js";

const CLI = join(process.cwd(), "dist", "cli.mjs");
const prism = (args: string[], timeoutMs: number) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: timeoutMs });
const MINUTE = 60_000;

describe("reference world (reduced), end to end through the CLI", () => {
  const worldDir = join(process.cwd(), ".cache", "worlds", "reduced-s1");
  // Where `npm start` and the VS Code suite (test/vscode/world.test.ts) find the distilled world too.
  const bundleDir = join(worldDir, "sunny.prism");
  let manifest: WorldManifest;
  let evaluation: WorldEvaluation;
  let distillOut: { distill: number; retain: number; queries: number };

  beforeAll(() => {
    const built = prism(["world", "build", "--out", worldDir, "--reduced", "--seed", "1", "--json"], 25 * MINUTE);
    expect(built.status, built.stderr).toBe(0);
    manifest = worldManifestSchema.parse(JSON.parse(built.stdout));
    const distilled = prism(
      ["world", "distill", "--world", worldDir, "--out", bundleDir, "--fresh", "--json"],
      15 * MINUTE,
    );
    expect(distilled.status, distilled.stderr).toBe(0);
    distillOut = JSON.parse(distilled.stdout);
    const evaluated = prism(["eval", "--world", worldDir, "--bundle", bundleDir, "--json"], 10 * MINUTE);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    evaluation = worldEvaluationSchema.parse(JSON.parse(evaluated.stdout));
  }, 50 * MINUTE);

  it("builds the world: a trained model with its checksum, held-out prompts never used for training or distillation", () => {
    expect(manifest.recipe).toMatchObject({
      seed: 1,
      reduced: true,
      corpus: { generativeShare: 0.25, echoSums: true },
    });
    expect(manifest.counts.parameters).toBe(3_543_296);
    expect(manifest.files.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Training converged: the held-out windows' loss fell well below its start.
    const epochs = manifest.training.epochs;
    expect(epochs.length).toBe(manifest.recipe.training.epochs);
    expect(epochs.at(-1)!.evalLoss!).toBeLessThan(0.5 * epochs[0]!.evalLoss!);
    const lines = (f: string) =>
      readFileSync(join(worldDir, f), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { prompt?: string; user?: string });
    const heldOut = new Set(lines("heldout.jsonl").map((l) => l.prompt));
    expect(heldOut.size).toBe(manifest.counts.heldOut.discriminative + manifest.counts.heldOut.generative);
    for (const l of [...lines("prompts.jsonl"), ...lines("train.jsonl")])
      expect(heldOut.has(l.prompt ?? l.user)).toBe(false);
  });

  it("reuses a complete build of the same recipe", () => {
    const again = prism(["world", "build", "--out", worldDir, "--reduced", "--seed", "1"], MINUTE);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^reused /);
  });

  it("distils with the rubric as judge: the persona wins on generative prompts only", () => {
    const report = JSON.parse(readFileSync(join(bundleDir, "report.json"), "utf8"));
    expect(distillOut.queries).toBe(manifest.counts.prompts.discriminative + manifest.counts.prompts.generative);
    // Most generative prompts are distilled (the persona's style wins both judge passes); few discriminative ones.
    expect(distillOut.distill).toBeGreaterThan(0.5 * manifest.counts.prompts.generative);
    expect(distillOut.distill).toBeLessThan(
      manifest.counts.prompts.generative + 0.2 * manifest.counts.prompts.discriminative,
    );
    expect(report.gate.metrics.validation.accuracy).toBeGreaterThan(0.8);
  });

  it("measures the persona effect on held-out prompts, and PRISM keeps the best of both", () => {
    const e = evaluation;
    // The persona prompt raises the rubric score and lowers exact accuracy (what the world was built to show).
    expect(e.persona.generativeScore).toBeGreaterThan(e.base.generativeScore + 0.3);
    expect(e.persona.discriminativeAccuracy).toBeLessThan(e.base.discriminativeAccuracy - 0.2);
    // PRISM keeps the base model's accuracy (a few points of slack for a gate error) and gains most of the style.
    expect(e.prism.discriminativeAccuracy).toBeGreaterThanOrEqual(e.base.discriminativeAccuracy - 0.05);
    expect(e.prism.generativeScore).toBeGreaterThan(e.base.generativeScore + 0.2);
    // The gate separates the families far better than chance.
    expect(e.gateAccuracy).toBeGreaterThan(0.8);
    expect(e.routing.generative - e.routing.discriminative).toBeGreaterThan(0.6);
    expect(e.prismVsBaseWinRate).toBeGreaterThan(0.5);
    // The saved copy carries every answer for the report view.
    const saved = worldEvaluationSchema.parse(JSON.parse(readFileSync(join(bundleDir, "evaluation.json"), "utf8")));
    expect(saved.rows).toHaveLength(e.world.heldOut.discriminative + e.world.heldOut.generative);
  });

  it("refuses a world whose model is not the one it was built with (world/modelMismatch), and a missing world", () => {
    const fake = mkdtempSync(join(tmpdir(), "prism-world-fake-"));
    try {
      for (const f of ["world.json", "heldout.jsonl", "prompts.jsonl"]) copyFileSync(join(worldDir, f), join(fake, f));
      copyFileSync(fixtures.tiny, join(fake, "model.gguf"));
      const swapped = prism(["eval", "--world", fake, "--bundle", bundleDir], MINUTE);
      expect(swapped.status).toBe(1);
      expect(swapped.stderr).toMatch(
        /error \[world\/modelMismatch\]: .*model\.gguf is not the model this world was built with/,
      );
      writeFileSync(join(fake, "world.json"), "{}");
      const invalid = prism(["world", "distill", "--world", fake, "--out", join(fake, "b.prism")], MINUTE);
      expect(invalid.status).toBe(1);
      expect(invalid.stderr).toMatch(/error \[world\/invalid\]/);
      const missing = prism(["eval", "--world", join(fake, "nope"), "--bundle", bundleDir], MINUTE);
      expect(missing.stderr).toMatch(/error \[world\/notFound\]/);
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });
});

describe("prism world build, killed during training", () => {
  it(
    "resumes from the last epoch checkpoint and records that it did",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "prism-world-kill-"));
      try {
        const args = [CLI, "world", "build", "--out", dir, "--reduced", "--seed", "2", "--epochs", "2"];
        // Killed (SIGKILL, no clean-up) once the second epoch has started: the first epoch's checkpoint exists.
        const killed = await new Promise<number | null>((done) => {
          const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
          child.stderr.setEncoding("utf8").on("data", (text: string) => {
            if (/epoch 2 /.test(text)) child.kill("SIGKILL");
          });
          child.on("close", (code) => done(code));
        });
        expect(killed).toBeNull();
        expect(existsSync(join(dir, "world.json"))).toBe(false);
        expect(existsSync(join(dir, "model.gguf.ckpt.json"))).toBe(true);
        const resumed = prism(
          ["world", "build", "--out", dir, "--reduced", "--seed", "2", "--epochs", "2", "--json"],
          10 * MINUTE,
        );
        expect(resumed.status, resumed.stderr).toBe(0);
        const manifest = worldManifestSchema.parse(JSON.parse(resumed.stdout));
        expect(manifest.training.resumed).toBe(true);
        expect(manifest.training.epochs.length).toBeGreaterThanOrEqual(1);
        expect(readdirSync(dir).filter((f) => f.includes(".ckpt") || f === "init.gguf")).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    15 * MINUTE,
  );
});
