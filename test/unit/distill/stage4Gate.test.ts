/** Stage 4 on the fake engine: gate features of the student prompts, persisted, then the gate (docs/method.md §3.4). */
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeFeature, type DistillLabel, type DistillQuery } from "../../../src/core/distill/distillRecords.js";
import { stage1Queries } from "../../../src/core/distill/stage1Queries.js";
import { stage4Gate } from "../../../src/core/distill/stage4Gate.js";
import { readGateFile } from "../../../src/core/gate/gateFile.js";
import { modelFingerprint } from "../../../src/core/model/modelIdentity.js";
import { studentMessages } from "../../../src/core/pipeline/studentPrompt.js";
import { caseOf, type FakeDistillationOptions } from "../../../testkit/fakeDistillation.js";
import { readJsonl } from "../../../testkit/readJsonl.js";
import { fakeDistillations } from "../../../testkit/fakeDistillations.js";

const distillation = fakeDistillations("prism-stage4-");

/** Stage 1's queries, labelled as the fake world's judge would (even cases distill). */
async function withLabels(o: FakeDistillationOptions = {}) {
  const d = await distillation(o);
  const { queries } = await stage1Queries.run(d.stageContext(), {});
  const labels = new Map<string, DistillLabel>(
    queries.map((q) => [q.id, caseOf(q.query) % 2 === 0 ? "distill" : "retain"]),
  );
  return { ...d, queries, labels };
}

describe("stage 4: the gate", () => {
  it("embeds every query's student prompt with the truncated feature model, keeps the features, trains and writes the gate", async () => {
    const d = await withLabels();
    const ctx = d.stageContext();
    const { gate } = await stage4Gate.run(ctx, { queries: d.queries, labels: d.labels });

    // layer:1 features come from a one-block copy of the base, cached in the job directory
    const load = d.engine.calls.find((c) => c.method === "engine/loadModel" && c.params.modelPath !== d.basePath)!;
    expect(basename(load.params.modelPath as string)).toMatch(/^gate-features-sha256[0-9a-f]+-L1h\.gguf$/);
    expect(load.params.pooling).toBe("last");
    const embeds = d.engine.calls.filter((c) => c.method === "engine/embed");
    expect(embeds.map((c) => c.params.input)).toEqual(d.queries.map((q) => ({ messages: studentMessages(q.query) })));

    const features = await readJsonl<{ id: string; feature: string }>(join(d.jobDir, "features.jsonl"));
    expect(features.map((f) => f.id)).toEqual(d.queries.map((q) => q.id));
    expect(decodeFeature(features[1]!.feature)[0]).toBe(1); // chef-1 is case 2: even

    const file = await readGateFile(join(d.jobDir, "gate.json"));
    expect(file.featureSpec).toEqual(d.settings.featureSpec);
    expect(file.baseModelFingerprint).toBe(modelFingerprint(d.settings.model));
    expect(gate).toMatchObject({
      gatePath: join(d.jobDir, "gate.json"),
      inputSize: 8,
      threshold: 0.5,
      protectedBlocks: 1,
    });
    // the first feature value is the label, so the gate sends exactly the even half of each persona to the adapter
    expect(gate.routingRatePerPersona).toEqual({ chef: 0.5, pilot: 0.5 });
    expect(gate.metrics.validation.accuracy).toBe(1);
    expect(JSON.parse(await readFile(join(d.jobDir, "gate-result.json"), "utf8"))).toEqual(gate);
    expect(ctx.snapshots.map((s) => s.message)).toEqual(
      expect.arrayContaining(["gate features", "computing gate features", "training the gate"]),
    );
    expect(ctx.snapshots[0]).toMatchObject({ stage: 4, done: 0, total: 16 });
  });

  it("resumes after a failed feature without recomputing the others, and trains the same gate", async () => {
    const reference = await withLabels();
    const expected = (await stage4Gate.run(reference.stageContext(), reference)).gate;

    const d = await withLabels();
    d.engine.inject({ method: "engine/embed", skip: 5, effect: { error: "engine/promptTooLong" } });
    await expect(stage4Gate.run(d.stageContext(), d)).rejects.toMatchObject({ code: "engine/promptTooLong" });
    const before = d.engine.count("engine/embed");
    const ctx = d.stageContext();
    const { gate } = await stage4Gate.run(ctx, d);
    expect(d.engine.count("engine/embed") - before).toBe(16 - 5);
    expect(ctx.snapshots.find((s) => s.message === "computing gate features")).toMatchObject({ done: 5, total: 16 });
    const weights = async (dir: string) => (await readGateFile(join(dir, "gate.json"))).weights;
    expect(await weights(d.jobDir)).toEqual(await weights(reference.jobDir));
    expect({ ...gate, gatePath: "", featureMs: 0 }).toEqual({ ...expected, gatePath: "", featureMs: 0 });
  });

  it("returns a finished stage's result as it is: no feature, no training", async () => {
    const d = await withLabels();
    const first = await stage4Gate.run(d.stageContext(), d);
    const gateJson = await readFile(join(d.jobDir, "gate.json"), "utf8");
    const embeds = d.engine.count("engine/embed");
    const again = await stage4Gate.run(d.stageContext(), d);
    expect(again).toEqual(first);
    expect(d.engine.count("engine/embed")).toBe(embeds);
    expect(await readFile(join(d.jobDir, "gate.json"), "utf8")).toBe(gateJson);
  });

  it.each([
    ["every query distill", 10, 0],
    ["too few retain", 7, 3],
    ["too few distill", 2, 8],
  ])("%s: gate/insufficientData naming both counts, before any feature", async (_name, distill, retain) => {
    const d = await distillation();
    const queries: DistillQuery[] = Array.from({ length: distill + retain }, (_, i) => ({
      id: `chef-${i}`,
      personaId: "chef",
      query: `Question number ${i} about sauces?`,
      source: "generated",
    }));
    const labels = new Map<string, DistillLabel>(queries.map((q, i) => [q.id, i < distill ? "distill" : "retain"]));
    const ctx = d.stageContext();
    const err = await stage4Gate.run(ctx, { queries, labels }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "gate/insufficientData", detail: { distill, retain, minPerClass: 4 } });
    expect((err as Error).message).toContain(`${distill} distill`);
    expect((err as Error).message).toContain(`${retain} retain`);
    expect(d.engine.count("engine/embed")).toBe(0);
    // reported as a stage-4 failure
    expect(ctx.progress.current.stage).toBe(4);
  });
});
