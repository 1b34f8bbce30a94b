import { describe, expect, it } from "vitest";
import { applyPreset, DISTILL_PRESETS, PRESET_VALUES } from "../../../src/core/cost/distillPresets.js";
import { estimateDistillCost, type CostContext } from "../../../src/core/cost/estimateDistillCost.js";
import { distillSettingsSchema, type DistillSettingsInput } from "../../../src/core/distill/distillSettings.js";
import { DEFAULT_PERSONAS } from "../../../src/core/pipeline/personas.js";

const input: DistillSettingsInput = {
  model: { path: "m.gguf", architecture: "qwen2", tensorShapesDigest: "x", fileSize: 1, contentHash: "y" },
  personas: [...DEFAULT_PERSONAS],
  judge: "self",
  generator: "local",
};
const ctx: CostContext = {
  rates: { promptTokensPerSecond: 100, generatedTokensPerSecond: 10, trainTokensPerSecond: 5 },
  tokensPerChar: 0.25,
  localJudge: true,
  localGenerator: true,
  featurePassFraction: 1 / 24,
};

describe("estimateDistillCost", () => {
  it("counts the paper's work: 600 generations, 1200 answers, 900 judge passes, seconds from the rates", () => {
    const settings = distillSettingsSchema.parse(applyPreset("paper", input));
    const cost = estimateDistillCost(settings, ctx);
    const [s1, s2, s3, s4, s5] = cost.stages;
    expect(s1!.items).toBe(600);
    expect(s1!.generatedTokens).toBe(600 * 48);
    expect(s2!.items).toBe(1200);
    expect(s2!.generatedTokens).toBe(1200 * Math.round(512 * 0.7));
    // every query's first pass, and a second for the half whose first chose the persona
    expect(s3!.items).toBe(900);
    expect(s4!.items).toBe(600);
    // 40 % of 600 distill samples, 10 epochs over 768-token windows
    expect(s5!.trainTokens % 768).toBe(0);
    expect(s5!.items).toBe(s5!.trainTokens / 768);
    expect(s5!.seconds).toBeCloseTo(s5!.promptTokens / 100 + s5!.trainTokens / 5, 6);
    expect(s2!.seconds).toBeCloseTo(s2!.promptTokens / 100 + s2!.generatedTokens / 10, 6);
    expect(cost.totalSeconds).toBeCloseTo(
      cost.stages.reduce((n, s) => n + s.seconds, 0),
      6,
    );
    expect(cost.assumptions.join("; ")).toMatch(/40 % of queries/);
    expect(cost.assumptions.join("; ")).toMatch(/50 % of queries get a second judge pass/);
  });

  it("replaces assumptions by observations, and a remote judge or generator costs no local time", () => {
    const settings = distillSettingsSchema.parse(applyPreset("quick", input));
    const observed = estimateDistillCost(settings, {
      ...ctx,
      observed: { queries: 90, queryTokens: 30, answerTokens: 100, distill: 20, secondPasses: 31 },
    });
    expect(observed.stages[1]!.generatedTokens).toBe(2 * 90 * 100);
    expect(observed.stages[2]!.items).toBe(90 + 31);
    expect(observed.assumptions.some((a) => /distill|kept|answers fill|query is|judge pass/.test(a))).toBe(false);
    const remote = estimateDistillCost(settings, { ...ctx, localJudge: false, localGenerator: false });
    expect(remote.stages[0]!.seconds).toBe(0);
    expect(remote.stages[1]!.seconds).toBe(0);
    expect(remote.stages[2]!.seconds).toBe(0);
    // a judge that costs nothing here assumes nothing about its passes
    expect(remote.assumptions.some((a) => /judge pass/.test(a))).toBe(false);
    expect(remote.stages[4]!.seconds).toBeGreaterThan(0);
  });

  it("counts a shared prefix once per sequence: stage 1 evaluates a persona's prompt once, not per query", () => {
    const settings = distillSettingsSchema.parse(applyPreset("quick", input));
    const [one, four] = [1, 4].map((sequences) => estimateDistillCost(settings, { ...ctx, sequences }).stages);
    const s1 = one![0]!;
    const personas = settings.personas.length;
    // one prefix per persona, then ten tokens ("Question i:", the generation prompt) per query
    const prefix = (s1.promptTokens - s1.items * 10) / personas;
    expect(prefix).toBeGreaterThan(150);
    // evaluated per query, the same prompts would cost over 5x as much
    expect(s1.items * (prefix + 10)).toBeGreaterThan(5 * s1.promptTokens);
    // four sequences each load each persona's prefix once
    expect(four![0]!.promptTokens - s1.promptTokens).toBeCloseTo(3 * personas * prefix, 6);
    expect(four![1]!.promptTokens).toBeGreaterThan(one![1]!.promptTokens);
    expect(four![2]!.promptTokens).toBeGreaterThan(one![2]!.promptTokens);
  });

  it("sft training scores nothing", () => {
    const settings = distillSettingsSchema.parse({ ...input, lora: { loss: "sft" } });
    expect(estimateDistillCost(settings, ctx).stages[4]!.promptTokens).toBe(0);
  });
});

describe("presets", () => {
  it("quick < standard < paper in estimated time, and explicit values win", () => {
    const seconds = DISTILL_PRESETS.map(
      (p) => estimateDistillCost(distillSettingsSchema.parse(applyPreset(p, input)), ctx).totalSeconds,
    );
    expect(seconds[0]).toBeLessThan(seconds[1]!);
    expect(seconds[1]).toBeLessThan(seconds[2]!);
    const own = distillSettingsSchema.parse(
      applyPreset("quick", { ...input, queriesPerPersona: 3, answer: { maxTokens: 99 }, lora: { epochs: 7 } }),
    );
    expect(own.queriesPerPersona).toBe(3);
    expect(own.answer.maxTokens).toBe(99);
    expect(own.answer.temperature).toBe(0.7);
    expect(own.lora.epochs).toBe(7);
    expect(own.lora.contextSize).toBe(PRESET_VALUES.quick.contextSize);
  });

  it("paper is the settings' defaults, and quick's personas are built-in ones", () => {
    const defaults = distillSettingsSchema.parse(input);
    const paper = distillSettingsSchema.parse(applyPreset("paper", input));
    expect(paper).toEqual(defaults);
    const ids = new Set(DEFAULT_PERSONAS.map((p) => p.id));
    for (const id of PRESET_VALUES.quick.personaIds!) expect(ids.has(id)).toBe(true);
  });
});
