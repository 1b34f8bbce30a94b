/**
 * A model the trainer cannot serve is refused by prepareDistillation, before stage 1 (not after hours at stage 5):
 * a one-block model has no adaptable weight outside block 0, which the gate reads and the LoRA never touches.
 * And the estimate it offers counts stage 3's passes exactly when the local model does the judging.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareDistillation } from "../../src/core/distill/prepareDistillation.js";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { PairwiseModelJudge } from "../../src/core/pipeline/judges.js";
import { byteModel, trainerBinary } from "../../testkit/trainerKit.js";
import { rejection, startEngine } from "./harness.js";

let bin = "";
let dir = "";
let engine: EngineProcess;

beforeAll(() => {
  bin = trainerBinary();
  dir = mkdtempSync(join(tmpdir(), "prism-preflight-"));
  engine = startEngine();
}, 15 * 60_000);

afterAll(async () => {
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("prepareDistillation preflight", () => {
  it("refuses a model without trainable weights with a coded reason, before any stage runs", async () => {
    const modelPath = await byteModel({ blocks: 1 });
    const outDir = join(dir, "bundle.prism");
    const err = await rejection(
      prepareDistillation({
        engine,
        modelPath,
        outDir,
        personas: [{ id: "p", text: "a pirate" }],
        threads: 1,
        gpu: "false",
        judge: "rule:longer",
        generator: "local",
        trainerBinary: bin,
        settings: {},
      }),
    );
    expect(err).toMatchObject({ code: "engine/unsupportedArchitecture", detail: { reason: "model/noTargets" } });
    expect(existsSync(`${outDir}.job`)).toBe(false);
  });

  it("accepts a supported model", async () => {
    const modelPath = await byteModel({ blocks: 2 });
    const prepared = await prepareDistillation({
      engine,
      modelPath,
      outDir: join(dir, "ok.prism"),
      personas: [{ id: "p", text: "a pirate" }],
      threads: 1,
      gpu: "false",
      judge: "rule:longer",
      generator: "local",
      trainerBinary: bin,
      settings: {},
    });
    expect(prepared.settings.lora.targets).toContain("attn_q");
  });

  it("counts the judge's passes in the estimate when the model judges with the job's own generator", async () => {
    const modelPath = await byteModel({ blocks: 2 });
    const stage3Seconds = async (judge: Parameters<typeof prepareDistillation>[0]["judge"], name: string) => {
      const prepared = await prepareDistillation({
        engine,
        modelPath,
        outDir: join(dir, `${name}.prism`),
        personas: [{ id: "p", text: "a pirate" }],
        threads: 1,
        gpu: "false",
        judge,
        generator: "local",
        trainerBinary: bin,
        settings: { queriesPerPersona: 4, answer: { maxTokens: 16 } },
      });
      const estimate = await prepared.estimate();
      return { seconds: estimate.cost.stages[2]!.seconds, judge: prepared.settings.judge };
    };
    let made: PairwiseModelJudge | undefined;
    const self = await stage3Seconds("self", "self");
    const built = await stage3Seconds((g) => (made = new PairwiseModelJudge(g)), "built");
    const rule = await stage3Seconds("rule:longer", "rule");
    expect(self.seconds).toBeGreaterThan(0);
    expect(built.seconds).toBeGreaterThan(0);
    expect(built.judge).toBe(made!.description);
    expect(made!.description).toMatch(/^model:/);
    expect(rule).toEqual({ seconds: 0, judge: "rule:longer" });
  });
});
