import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyPreset } from "../../../src/core/cost/distillPresets.js";
import { DistillEta, type EtaPosition } from "../../../src/core/cost/DistillEta.js";
import {
  estimateDistillCost,
  type CostContext,
  type CostObservations,
} from "../../../src/core/cost/estimateDistillCost.js";
import { readJobCost, writeJobCost } from "../../../src/core/cost/jobCostFile.js";
import { distillSettingsSchema, type DistillSettingsInput } from "../../../src/core/distill/distillSettings.js";
import { DEFAULT_PERSONAS } from "../../../src/core/pipeline/personas.js";

const input: DistillSettingsInput = {
  model: { path: "m.gguf", architecture: "qwen2", tensorShapesDigest: "x", fileSize: 1, contentHash: "y" },
  personas: [...DEFAULT_PERSONAS],
  judge: "self",
  generator: "local",
};
const settings = distillSettingsSchema.parse(applyPreset("quick", input));
const ctx: CostContext = {
  rates: { promptTokensPerSecond: 100, generatedTokensPerSecond: 10, trainTokensPerSecond: 9 },
  tokensPerChar: 0.25,
  localJudge: true,
  localGenerator: true,
  featurePassFraction: 1 / 24,
};
const at = (stage: number, done: number, total: number, run = { seconds: 0, items: 0 }): EtaPosition => ({
  stage,
  done,
  total,
  run,
});
const newEta = () => new DistillEta(settings, ctx, estimateDistillCost(settings, ctx));

describe("DistillEta", () => {
  it("starts at the estimate shown before the job", () => {
    const eta = newEta();
    expect(eta.remainingSeconds(at(1, 0, 10))).toBeCloseTo(eta.initial.totalSeconds, 6);
    expect(eta.correction()).toBe(1);
  });

  it("scales what is left by how the finished work compared with its estimate, within bounds", () => {
    const eta = newEta();
    const s = eta.initial.stages;
    const total = s[0]!.items;
    eta.recordStage(1, { seconds: 2 * s[0]!.seconds, items: total, total });
    expect(eta.correction()).toBeCloseTo(2, 6);
    const later = s.slice(1).reduce((n, x) => n + x.seconds, 0);
    expect(eta.remainingSeconds(at(2, 0, s[1]!.items))).toBeCloseTo(2 * later, 6);
    // A stage resumed from its result file (no items run here) says nothing about speed.
    eta.recordStage(2, { seconds: 0.01, items: 0, total: s[1]!.items });
    expect(eta.correction()).toBeCloseTo(2, 6);
    const wild = newEta();
    wild.recordStage(1, { seconds: 1000 * s[0]!.seconds, items: total, total });
    expect(wild.correction()).toBe(5);
  });

  it("replaces assumptions with observations: fewer distill samples, a shorter stage 5", () => {
    const eta = newEta();
    const before = eta.current().stages[4]!.seconds;
    eta.observe({ distill: 3 });
    expect(eta.current().stages[4]!.seconds).toBeLessThan(before);
    expect(eta.observations).toEqual({ distill: 3 });
  });

  it("moves the current stage onto its own measured rate as items finish", () => {
    const eta = newEta();
    const s2 = eta.initial.stages[1]!;
    const rest = eta.initial.stages.slice(2).reduce((n, x) => n + x.seconds, 0);
    // 50 of 100 items in 10 s: the remaining 50 take 10 s at that rate; the later stages are corrected by it too.
    const left = eta.remainingSeconds(at(2, 50, 100, { seconds: 10, items: 50 }));
    const k = 10 / ((s2.seconds * 50) / 100);
    expect(left).toBeCloseTo(10 + rest * Math.min(5, Math.max(0.2, k)), 6);
    // One item is too few to trust: it neither corrects the later stages nor outweighs the model in its own.
    const early = eta.remainingSeconds(at(2, 1, 100, { seconds: 100, items: 1 }));
    const modelled = s2.seconds * 0.99;
    expect(early - rest).toBeCloseTo((1 / 10) * 99 * 100 + (9 / 10) * modelled, 6);
  });

  it("counts stage 5's preparation and training phases separately", () => {
    const eta = newEta();
    const s5 = eta.initial.stages[4]!;
    const prep = s5.promptTokens / ctx.rates.promptTokensPerSecond;
    const train = s5.seconds - prep;
    expect(eta.remainingSeconds({ ...at(5, 0, 10), stage5Phase: "prepare" })).toBeCloseTo(prep + train, 6);
    expect(eta.remainingSeconds({ ...at(5, 5, 10), stage5Phase: "train" })).toBeCloseTo(train / 2, 6);
    expect(eta.remainingSeconds(at(6, 0, 1))).toBe(0);
  });

  it("converges by the end of stage 2 on a machine 1.7x slower than calibrated, to what stages 3-5 still hide", () => {
    const slow = 1.7;
    /** The ETA at the start of stage 3 against the true rest, and the initial ETA's error, for a job whose truth is `o`. */
    const errors = (o: CostObservations) => {
      const truth = estimateDistillCost(settings, { ...ctx, observed: o }).stages.map((s) => s.seconds * slow);
      const eta = newEta();
      const initial = Math.abs(eta.remainingSeconds(at(1, 0, 1)) - sum(truth)) / sum(truth);
      eta.recordStage(1, { seconds: truth[0]!, items: 10, total: 10 });
      eta.observe({ queries: o.queries, queryTokens: o.queryTokens });
      eta.recordStage(2, { seconds: truth[1]!, items: 150, total: 150 });
      eta.observe({ answerTokens: o.answerTokens });
      const rest = sum(truth.slice(2));
      return { atEnd2: Math.abs(eta.remainingSeconds(at(3, 0, 150)) - rest) / rest, initial };
    };
    // Shorter queries and answers and fewer kept queries than assumed are observed by then: with the labels as
    // assumed, the slower machine is all that is left, and the correction measured on stages 1-2 takes it out.
    const known = errors({ queries: 75, queryTokens: 30, answerTokens: 120 });
    expect(known.atEnd2).toBeLessThan(0.02);
    expect(known.initial).toBeGreaterThan(0.25);
    // Labels are stage 3's to find: a distill share two thirds of the assumed one (20 of 75) and a third of the
    // queries judged twice leave stages 3 and 5 overestimated, and only that.
    const labels = errors({ queries: 75, queryTokens: 30, answerTokens: 120, distill: 20, secondPasses: 25 });
    expect(labels.atEnd2).toBeLessThan(labels.initial);
    expect(labels.atEnd2).toBeLessThan(0.35);
  });

  it("reports estimated, re-estimated and actual seconds per stage", () => {
    const eta = newEta();
    eta.recordStage(1, { seconds: 12, items: 4, total: 4 });
    eta.recordStage(1, { seconds: 3, items: 1, total: 4 });
    eta.observe({ queries: 5 });
    const rows = eta.report();
    expect(rows.map((r) => r.stage)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0]).toMatchObject({ estimatedSeconds: eta.initial.stages[0]!.seconds, actualSeconds: 15 });
    expect(rows[1]!.reestimatedSeconds).toBeLessThan(rows[1]!.estimatedSeconds);
    expect(rows[4]!.actualSeconds).toBeUndefined();
  });
});

describe("cost.json", () => {
  const dir = mkdtempSync(join(tmpdir(), "prism-cost-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("round-trips the ETA's state for a resumed job", async () => {
    const eta = newEta();
    eta.recordStage(1, { seconds: 7, items: 3, total: 10 });
    eta.observe({ queries: 9 });
    await writeJobCost(dir, eta);
    const back = await readJobCost(dir, settings);
    expect(back?.report()).toEqual(eta.report());
    expect(back?.observations).toEqual({ queries: 9 });
    expect(back?.remainingSeconds(at(1, 3, 10))).toBeCloseTo(eta.remainingSeconds(at(1, 3, 10)), 6);
  });

  it("a missing or damaged file means no ETA, not a failed job", async () => {
    expect(await readJobCost(join(dir, "nowhere"), settings)).toBeUndefined();
    writeFileSync(join(dir, "cost.json"), "{ not json");
    expect(await readJobCost(dir, settings)).toBeUndefined();
    writeFileSync(join(dir, "cost.json"), JSON.stringify({ schemaVersion: 1, context: {} }));
    expect(await readJobCost(dir, settings)).toBeUndefined();
  });
});

function sum(xs: readonly number[]): number {
  return xs.reduce((n, x) => n + x, 0);
}
