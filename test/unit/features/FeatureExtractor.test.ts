/**
 * FeatureExtractor on the fake engine (docs/method.md §3.4): the student prompt embedded by the base model
 * (`final`) or by a truncated k-block copy written once per base and k (`layer:k`), with the spec's pooling; a
 * last-token copy carries the feature head and is read with `engine/featureHead`.
 */
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FeatureExtractor, type FeatureExtractorOptions } from "../../../src/core/features/FeatureExtractor.js";
import type { FeatureSpec } from "../../../src/core/features/featureSpec.js";
import { readGguf, requireGgufValue } from "../../../src/core/gguf/readGguf.js";
import { GgmlType, GgufValueType } from "../../../src/core/gguf/ggufTypes.js";
import { writeSyntheticModel } from "../../../src/core/gguf/syntheticModel.js";
import { isCancellation } from "../../../src/core/errors.js";
import { studentMessages } from "../../../src/core/pipeline/studentPrompt.js";
import { FakeEngine } from "../../../testkit/FakeEngine.js";
import { scratchDirs } from "../../../testkit/scratchDirs.js";

const tmp = scratchDirs("prism-features-");
let basePath = "";

beforeAll(async () => {
  basePath = join(await tmp(), "base.gguf");
  await writeSyntheticModel(basePath, { blocks: 3, seed: 2 });
});

// The synthetic base's shape: width 64 and 260 tokens carry a feature head (featureHead.ts).
async function extractor(spec: FeatureSpec, o: Partial<FeatureExtractorOptions> = {}, embeddingSize = 64) {
  const engine = new FakeEngine({ model: { embeddingSize, vocabSize: 260 } });
  const cacheDir = join(await tmp(), "cache");
  const options: FeatureExtractorOptions = {
    engine,
    basePath,
    baseFingerprint: "sha256:0123abcd",
    spec,
    cacheDir,
    threads: 1,
    gpu: "false",
    ...o,
  };
  return { engine, cacheDir, features: new FeatureExtractor(options), options };
}

const loads = (engine: FakeEngine) => engine.calls.filter((c) => c.method === "engine/loadModel");

describe("FeatureExtractor", () => {
  it("final: embeds the student prompt with the base model itself, with the spec's pooling", async () => {
    const { engine, cacheDir, features } = await extractor({ source: "final", pooling: "mean" });
    const f = await features.extract("How do I proof dough?");
    expect(f.vector).toHaveLength(64);
    expect(f.ms).toBeGreaterThanOrEqual(0);
    expect(loads(engine).map((c) => c.params)).toEqual([
      expect.objectContaining({ modelPath: basePath, pooling: "mean" }),
    ]);
    const embed = engine.calls.find((c) => c.method === "engine/embed")!;
    expect(embed.params.input).toEqual({ messages: studentMessages("How do I proof dough?") });
    expect(await features.featureModelPath()).toBe(basePath);
    expect(existsSync(cacheDir)).toBe(false);
    // the same prompt, the same feature
    expect((await features.extract("How do I proof dough?")).vector).toEqual(f.vector);
  });

  it("layer:k: writes a k-block copy with the feature head once, named by base fingerprint and k, and reuses it across extractors", async () => {
    const first = await extractor({ source: "layer", layer: 2, pooling: "last" });
    await Promise.all([first.features.extract("one"), first.features.extract("two")]);
    const path = join(first.cacheDir, "gate-features-sha2560123abcd-L2h.gguf");
    expect(await readdir(first.cacheDir)).toEqual(["gate-features-sha2560123abcd-L2h.gguf"]);
    const gguf = await readGguf(path);
    expect(requireGgufValue(gguf, "llama.block_count", GgufValueType.Uint32)).toBe(2);
    expect(gguf.tensors.some((t) => t.name.startsWith("blk.2."))).toBe(false);
    expect(gguf.tensors.find((t) => t.name === "output.weight")).toMatchObject({
      type: GgmlType.Q4_0,
      dims: [64, 260],
    });
    // both prompts were read through the head by one load of the copy and one context
    expect(loads(first.engine).map((c) => c.params)).toEqual([
      expect.objectContaining({ modelPath: path, pooling: "last" }),
    ]);
    expect(first.engine.calls.filter((c) => c.method === "engine/createContext")).toHaveLength(1);
    const reads = first.engine.calls.filter((c) => c.method === "engine/featureHead");
    expect(reads).toHaveLength(2);
    expect(reads.map((c) => c.params.messages)).toEqual(
      expect.arrayContaining([studentMessages("one"), studentMessages("two")]),
    );
    expect(first.engine.calls.some((c) => c.method === "engine/embed")).toBe(false);

    const written = (await stat(path)).mtimeMs;
    const second = await extractor({ source: "layer", layer: 2, pooling: "last" }, { cacheDir: first.cacheDir });
    await second.features.extract("three");
    expect((await stat(path)).mtimeMs).toBe(written);
    expect(loads(second.engine)[0]!.params.modelPath).toBe(path);
    // the features of another depth are another model
    const deeper = await extractor({ source: "layer", layer: 3, pooling: "last" }, { cacheDir: first.cacheDir });
    expect(await deeper.features.featureModelPath()).toBe(
      join(first.cacheDir, "gate-features-sha2560123abcd-L3h.gguf"),
    );
  });

  it("layer:k with mean pooling keeps the output layer and embeds, as does a width the head does not fit", async () => {
    const mean = await extractor({ source: "layer", layer: 1, pooling: "mean" });
    await mean.features.extract("one");
    const path = join(mean.cacheDir, "gate-features-sha2560123abcd-L1.gguf");
    expect(loads(mean.engine)[0]!.params).toMatchObject({ modelPath: path, pooling: "mean" });
    expect((await readGguf(path)).tensors.find((t) => t.name === "output.weight")?.type).not.toBe(GgmlType.Q4_0);
    expect(mean.engine.calls.map((c) => c.method)).toContain("engine/embed");

    const narrow = await extractor({ source: "layer", layer: 1, pooling: "last" }, {}, 48);
    expect((await narrow.features.extract("one")).vector).toHaveLength(48);
    expect(narrow.engine.calls.map((c) => c.method)).toContain("engine/embed");
    expect(narrow.engine.calls.map((c) => c.method)).not.toContain("engine/featureHead");
  });

  it("reloads the feature model after an engine crash", async () => {
    const { engine, features } = await extractor({ source: "layer", layer: 1, pooling: "last" });
    const before = await features.extract("sourdough");
    engine.inject({ method: "engine/featureHead", effect: { crash: {} } });
    await expect(features.extract("sourdough")).rejects.toMatchObject({ code: "engine/crashed" });
    expect((await features.extract("sourdough")).vector).toEqual(before.vector);
    expect(loads(engine).map((c) => c.generation)).toEqual([1, 2]);
  });

  it("fails with a coded error for a missing base and tries again on the next call", async () => {
    const missing = join(await tmp(), "missing.gguf");
    const { engine, features } = await extractor({ source: "layer", layer: 1, pooling: "last" }, { basePath: missing });
    await expect(features.extract("x")).rejects.toMatchObject({ code: "gguf/notFound" });
    await writeSyntheticModel(missing, { seed: 2 });
    await expect(features.extract("x")).resolves.toMatchObject({ vector: expect.any(Array) });
    expect(loads(engine)).toHaveLength(1);
  });

  it("is cancellable", async () => {
    const { engine, features } = await extractor({ source: "final", pooling: "last" });
    engine.inject({ method: "engine/embed", effect: { delayMs: 10_000 } });
    const controller = new AbortController();
    const pending = features.extract("slow", controller.signal);
    setTimeout(() => controller.abort(), 10);
    expect(isCancellation(await pending.catch((e: unknown) => e))).toBe(true);
  });
});
