import { describe, expect, it } from "vitest";
import { countLabels } from "../../../src/core/distill/countLabels.js";
import { distillSettingsSchema, itemSeed, settingsHash } from "../../../src/core/distill/distillSettings.js";
import { buildQueryList } from "../../../src/core/distill/stage1Queries.js";

const base = {
  model: { path: "/m.gguf", architecture: "llama", tensorShapesDigest: "d", fileSize: 1, contentHash: "h" },
  personas: [
    { id: "a", text: "Persona A." },
    { id: "b", text: "Persona B." },
  ],
  judge: "rule:longer",
  generator: "local",
};

describe("stage 1 query list", () => {
  it("is the same whatever order the records were written in, dedupes case-insensitively, user prompts first", () => {
    const settings = distillSettingsSchema.parse({
      ...base,
      userPrompts: [
        { prompt: "User question one, long enough" },
        { prompt: "User question two, long enough", personaId: "a" },
        { prompt: "Third user prompt here" },
      ],
    });
    const records = [
      { id: "b-0", personaId: "b", index: 0, query: "Same question text here" },
      { id: "a-1", personaId: "a", index: 1, query: "same QUESTION text here" },
      { id: "a-0", personaId: "a", index: 0, query: "A first question, long" },
      { id: "b-1", personaId: "b", index: 1 },
    ];
    const one = buildQueryList(settings, records);
    const two = buildQueryList(settings, [...records].reverse());
    expect(two).toEqual(one);
    expect(one.map((q) => [q.id, q.personaId])).toEqual([
      ["user-0", "a"],
      ["user-1", "a"],
      ["user-2", "a"], // round-robin: index 2 of 2 personas → a
      ["a-0", "a"],
      ["a-1", "a"], // a-1 comes before b-0, so b-0 is the duplicate
    ]);
  });

  it("rejects a user prompt naming an unknown persona", () => {
    const settings = distillSettingsSchema.parse({
      ...base,
      userPrompts: [{ prompt: "x".repeat(20), personaId: "zzz" }],
    });
    expect(() => buildQueryList(settings, [])).toThrow(expect.objectContaining({ code: "distill/invalidPrompts" }));
  });

  it("counts labels per persona", () => {
    const settings = distillSettingsSchema.parse(base);
    const queries = [
      { id: "1", personaId: "a", query: "q", source: "generated" as const },
      { id: "2", personaId: "a", query: "q2", source: "generated" as const },
      { id: "3", personaId: "b", query: "q3", source: "generated" as const },
    ];
    const c = countLabels(
      queries,
      new Map([
        ["1", "distill"],
        ["2", "retain"],
        ["3", "retain"],
      ]),
      settings,
    );
    expect(c).toMatchObject({ queries: 3, distill: 1, retain: 2 });
    expect(c.perPersona.a).toEqual({ queries: 2, distill: 1, retain: 1, distillRate: 0.5 });
  });
});

describe("settings", () => {
  it("apply the paper's defaults", () => {
    const s = distillSettingsSchema.parse(base);
    expect(s.queriesPerPersona).toBe(50);
    expect(s.query).toEqual({ temperature: 0.9, maxTokens: 200 });
    expect(s.answer).toEqual({ temperature: 0.7, maxTokens: 512 });
    expect(s.lora).toMatchObject({ rank: 16, alpha: 32, epochs: 10, learningRate: 2e-4 });
    expect(s.featureSpec).toEqual({ source: "layer", layer: 1, pooling: "last" });
    expect(s.gate).toEqual({ minPerClass: 16, threshold: 0.5 });
    expect(s.minDistill).toBe(32);
  });

  it("hash ignores the model's path but not its content or any other setting", () => {
    const s = distillSettingsSchema.parse(base);
    const moved = distillSettingsSchema.parse({ ...base, model: { ...base.model, path: "/elsewhere.gguf" } });
    const other = distillSettingsSchema.parse({ ...base, model: { ...base.model, contentHash: "x" } });
    const seeded = distillSettingsSchema.parse({ ...base, seed: 7 });
    expect(settingsHash(moved)).toBe(settingsHash(s));
    expect(settingsHash(other)).not.toBe(settingsHash(s));
    expect(settingsHash(seeded)).not.toBe(settingsHash(s));
  });

  it("derives per-item seeds that depend on job seed and item only", () => {
    expect(itemSeed(42, "query:a-0")).toBe(itemSeed(42, "query:a-0"));
    expect(itemSeed(42, "query:a-0")).not.toBe(itemSeed(43, "query:a-0"));
    expect(itemSeed(42, "query:a-0")).not.toBe(itemSeed(42, "query:a-1"));
  });
});
