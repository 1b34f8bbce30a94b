import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, type ErrorCode } from "../../../src/core/errors.js";
import { Gate } from "../../../src/core/gate/Gate.js";
import { readGateFile, writeGateFile, type GateFile } from "../../../src/core/gate/gateFile.js";
import { trainGate } from "../../../src/core/gate/trainGate.js";
import { syntheticGateSamples } from "./syntheticGateSamples.js";

const FINGERPRINT = "sha256:0123abcd";
let dir: string;
let gateFile: GateFile;
let goodPath: string;
let goodJson: Record<string, unknown>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-gate-file-"));
  const samples = syntheticGateSamples({ task: "clusters", width: 24, positives: 20, negatives: 30, seed: 4 });
  const trained = await trainGate(samples, { epochs: 3 });
  gateFile = {
    weights: trained.weights,
    threshold: trained.threshold,
    featureSpec: { source: "layer", layer: 1, pooling: "last" },
    baseModelFingerprint: FINGERPRINT,
    metrics: trained.metrics,
    createdAt: "2025-01-02T03:04:05.678Z",
  };
  goodPath = join(dir, "gate.json");
  await writeGateFile(goodPath, gateFile);
  goodJson = JSON.parse(await readFile(goodPath, "utf8")) as Record<string, unknown>;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readError(path: string, expected = {}): Promise<AppError> {
  const err = await readGateFile(path, expected).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError for ${path}, got ${String(err)}`);
  expect(err.message).toContain(path);
  return err;
}

/** Writes `text` (or `goodJson` patched by `patch`) under `name` and expects reading it to fail with `code`. */
async function expectBad(
  name: string,
  content: string | ((json: Record<string, unknown>) => void),
  code: ErrorCode,
  message: RegExp,
): Promise<void> {
  const path = join(dir, name);
  let text = content as string;
  if (typeof content === "function") {
    const json = structuredClone(goodJson);
    content(json);
    text = JSON.stringify(json);
  }
  await writeFile(path, text);
  expect(await readError(path)).toMatchObject({ code, message: expect.stringMatching(message) });
}

describe("gate file", () => {
  it("round-trips exactly: weights bit for bit, same predictions, same metadata", async () => {
    const read = await readGateFile(goodPath, { inputSize: 24, baseModelFingerprint: FINGERPRINT });
    expect(read).toEqual(gateFile);
    for (const name of ["mean", "std", "w1", "b1", "w2", "b2", "w3"] as const) {
      expect(Buffer.from(read.weights[name].buffer)).toEqual(Buffer.from(gateFile.weights[name].buffer));
    }
    const feature = syntheticGateSamples({ task: "clusters", width: 24, positives: 1, negatives: 0, seed: 8 })[0];
    expect(new Gate(read.weights).predict(feature.feature)).toBe(new Gate(gateFile.weights).predict(feature.feature));
  });

  it("puts the small fields first, readable with head", async () => {
    const lines = (await readFile(goodPath, "utf8")).split("\n");
    expect(lines[1]).toBe('  "schemaVersion": 1,');
    expect(lines.slice(0, 12).join("\n")).toMatch(/"inputSize": 24,\s+"hidden": \[\s+128,\s+64\s+\]/);
    expect(lines.find((l) => l.startsWith('  "w1": ['))).toBeDefined();
    // One line per array, not one per number.
    expect(lines.length).toBeLessThan(150);
  });

  it("reports a missing file as gate/notFound", async () => {
    await expect(readError(join(dir, "nope.json"))).resolves.toMatchObject({ code: "gate/notFound" });
  });

  it("rejects bad JSON and bad structure as gate/invalid", async () => {
    await expectBad("truncated.json", '{"schemaVersion": 1, "inputSize": ', "gate/invalid", /not valid JSON/);
    await expectBad("array.json", "[]", "gate/invalid", /invalid/);
    await expectBad("noVersion.json", (j) => delete j.schemaVersion, "gate/invalid", /schemaVersion/);
    await expectBad("noFingerprint.json", (j) => delete j.baseModelFingerprint, "gate/invalid", /baseModelFingerprint/);
    await expectBad(
      "badMetrics.json",
      (j) => ((j.metrics as { train: object }).train = {}),
      "gate/invalid",
      /metrics\.train/,
    );
    await expectBad("badThreshold.json", (j) => (j.threshold = 1.5), "gate/invalid", /threshold/);
  });

  it("rejects another schemaVersion as gate/unsupportedSchema", async () => {
    await expectBad("v2.json", (j) => (j.schemaVersion = 2), "gate/unsupportedSchema", /schemaVersion 2/);
  });

  it("rejects arrays of the wrong length, naming the array", async () => {
    await expectBad(
      "shortW2.json",
      (j) => (j.w2 = (j.w2 as number[]).slice(1)),
      "gate/invalid",
      /w2 has 8191 values, expected 64 × 128 = 8192/,
    );
    await expectBad("shortMean.json", (j) => (j.mean = [1, 2]), "gate/invalid", /mean has 2 values, expected 24/);
    await expectBad("wideHidden.json", (j) => (j.hidden = [128, 65]), "gate/invalid", /w2 has 8192 values/);
  });

  it("rejects null, non-numbers and non-finite values anywhere", async () => {
    await expectBad("nullW1.json", (j) => ((j.w1 as unknown[])[17] = null), "gate/invalid", /w1\[17\].*null/);
    await expectBad("stringB1.json", (j) => ((j.b1 as unknown[])[0] = "0.5"), "gate/invalid", /b1\[0\]/);
    await expectBad("nullB3.json", (j) => (j.b3 = null), "gate/invalid", /b3/);
    await expectBad(
      "nullLoss.json",
      (j) => ((j.metrics as { train: { loss: unknown } }).train.loss = null),
      "gate/invalid",
      /metrics\.train\.loss/,
    );
    // JSON has no NaN, but 1e999 parses to Infinity, and 1e39 overflows float32.
    const text = JSON.stringify(goodJson);
    await expectBad("infinity.json", text.replace('"b3":', '"b3":1e999,"x":'), "gate/invalid", /b3/);
    await expectBad("overflow.json", (j) => ((j.w3 as number[])[0] = 1e39), "gate/invalid", /w3\[0\] is Infinity/);
    await expectBad("negativeStd.json", (j) => ((j.std as number[])[3] = -1), "gate/invalid", /std\[3\] is -1/);
  });

  it("checks the width and the base model when asked", async () => {
    expect(await readError(goodPath, { inputSize: 896 })).toMatchObject({
      code: "gate/wrongWidth",
      message: expect.stringMatching(/24-wide .*896/),
    });
    expect(await readError(goodPath, { baseModelFingerprint: "sha256:other" })).toMatchObject({
      code: "gate/modelMismatch",
      message: expect.stringMatching(/sha256:0123abcd.*sha256:other/),
    });
  });

  it("refuses to write contents that would not read back, leaving no file behind", async () => {
    const path = join(dir, "refused.json");
    const nanWeights = { ...gateFile, weights: { ...gateFile.weights, w3: gateFile.weights.w3.map(() => NaN) } };
    await expect(writeGateFile(path, nanWeights)).rejects.toMatchObject({
      code: "gate/invalid",
      message: /w3\[0\] is NaN/,
    });
    const noSpec = { ...gateFile, featureSpec: undefined };
    await expect(writeGateFile(path, noSpec)).rejects.toMatchObject({ code: "gate/invalid", message: /featureSpec/ });
    const nanMetric = { ...gateFile, metrics: { ...gateFile.metrics, bestThreshold: NaN } };
    await expect(writeGateFile(path, nanMetric)).rejects.toMatchObject({
      code: "gate/invalid",
      message: /bestThreshold/,
    });
    expect((await readdir(dir)).filter((f) => f.includes("refused"))).toEqual([]);
    await expect(writeGateFile(join(dir, "missing", "gate.json"), gateFile)).rejects.toMatchObject({
      code: "gate/writeFailed",
    });
  });

  it("honours an aborted signal", async () => {
    const reason = new Error("stop");
    await expect(readGateFile(goodPath, {}, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(writeGateFile(join(dir, "x.json"), gateFile, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
  });
});
