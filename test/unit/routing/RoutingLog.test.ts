import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFeatureSpec, formatFeatureSpec, protectedBlocks } from "../../../src/core/features/featureSpec.js";
import { RoutingLog, type RoutingRecord } from "../../../src/core/routing/RoutingLog.js";

const record = (i: number, prompt = `prompt ${i}`): RoutingRecord => ({
  time: new Date(0).toISOString(),
  prompt,
  promptHash: RoutingLog.hash(prompt),
  probability: i / 100,
  threshold: 0.5,
  decision: i >= 50 ? "persona" : "base",
  mode: "hard",
  served: i >= 50 ? "persona" : "base",
  featureMs: 1,
  gateMs: 0.1,
  sides: { base: { timeToFirstTokenMs: 10, tokensPerSecond: 5, generatedTokens: 3 } },
});

describe("RoutingLog", () => {
  it("appends, rotates by size and reads the newest records across files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prism-log-"));
    const log = new RoutingLog(join(dir, "routing.jsonl"), { maxBytes: 2000, keep: 2 });
    for (let i = 0; i < 40; i++) await log.append(record(i));
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(["routing.jsonl", "routing.jsonl.1", "routing.jsonl.2"]);
    const recent = await log.recent(10);
    expect(recent.map((r) => r.probability)).toEqual([30, 31, 32, 33, 34, 35, 36, 37, 38, 39].map((i) => i / 100));
  });

  it("keeps only the hash when prompts are private", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prism-log-"));
    const log = new RoutingLog(join(dir, "r.jsonl"), { prompts: "hash" });
    await log.append(record(1, "secret prompt"));
    const [r] = await log.recent();
    expect(r!.prompt).toBeUndefined();
    expect(r!.promptHash).toBe(RoutingLog.hash("secret prompt"));
  });
});

describe("feature specs", () => {
  it("parse and format the CLI forms", () => {
    expect(parseFeatureSpec("final")).toEqual({ source: "final", pooling: "last" });
    expect(parseFeatureSpec("layer:1")).toEqual({ source: "layer", layer: 1, pooling: "last" });
    expect(parseFeatureSpec("layer:3/mean")).toEqual({ source: "layer", layer: 3, pooling: "mean" });
    expect(parseFeatureSpec("layer:x")).toBeUndefined();
    expect(formatFeatureSpec({ source: "layer", layer: 2, pooling: "mean" })).toBe("layer:2/mean");
  });

  it("protect the blocks below the feature depth from the adapter", () => {
    expect(protectedBlocks({ source: "layer", layer: 1, pooling: "last" })).toBe(1);
    expect(protectedBlocks({ source: "layer", layer: 3, pooling: "last" })).toBe(3);
    expect(protectedBlocks({ source: "final", pooling: "last" })).toBe(0);
  });
});
