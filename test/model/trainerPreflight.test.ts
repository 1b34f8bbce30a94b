/**
 * A model the trainer cannot serve is refused by prepareDistillation, before stage 1 (not after hours at stage 5):
 * a one-block model has no adaptable weight outside block 0, which the gate reads and the LoRA never touches.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareDistillation } from "../../src/core/distill/prepareDistillation.js";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
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
});
