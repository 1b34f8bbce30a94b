/** Stage 1 on the fake engine: one generation per (persona, index), cleaned, logged, resumable (docs/method.md §3.1). */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { itemSeed } from "../../../src/core/distill/distillSettings.js";
import { stage1Queries } from "../../../src/core/distill/stage1Queries.js";
import { readJsonl, sortedLines } from "../../../testkit/readJsonl.js";
import { fakeDistillations } from "../../../testkit/fakeDistillations.js";

const distillation = fakeDistillations("prism-stage1-");

describe("stage 1: queries", () => {
  it("generates queriesPerPersona queries per persona with per-item seeds, user prompts first", async () => {
    const d = await distillation({
      settings: { queriesPerPersona: 3, userPrompts: [{ prompt: "  My own question about sauces?  " }] },
    });
    const ctx = d.stageContext();
    const { queries } = await stage1Queries.run(ctx, {});
    expect(queries.map((q) => q.id)).toEqual(["user-0", "chef-0", "chef-1", "chef-2", "pilot-0", "pilot-1", "pilot-2"]);
    expect(queries[0]).toEqual({
      id: "user-0",
      personaId: "chef",
      query: "My own question about sauces?",
      source: "user",
    });
    expect(queries[1]!.query).toBe("How would chef handle case 1 in practice?");
    const seeds = d.engine.calls.filter((c) => c.method === "engine/generate").map((c) => c.params.seed);
    expect(new Set(seeds)).toEqual(new Set(queries.slice(1).map((q) => itemSeed(d.settings.seed, `query:${q.id}`))));
    const records = await readJsonl(join(d.jobDir, "queries.jsonl"));
    expect(records).toHaveLength(6);
    // progress: entered with 0 of 6 done, counted to 6
    expect(ctx.snapshots[0]).toMatchObject({ stage: 1, done: 0, total: 6, message: "generating queries" });
    expect(ctx.snapshots.at(-1)).toMatchObject({ stage: 1, done: 6, total: 6 });
  });

  it("resumes after a failure mid-stage: finished generations are kept, only the rest run, the result is identical", async () => {
    const reference = await distillation();
    const expected = await stage1Queries.run(reference.stageContext(), {});

    // One at a time, so exactly the five generations before the failure are finished.
    const d = await distillation({ sequences: 1 });
    d.engine.inject({ method: "engine/generate", skip: 5, effect: { error: "engine/generationFailed" } });
    await expect(stage1Queries.run(d.stageContext(), {})).rejects.toMatchObject({ code: "engine/generationFailed" });
    expect(await readJsonl(join(d.jobDir, "queries.jsonl"))).toHaveLength(5);

    const before = d.engine.count("engine/generate");
    const ctx = d.stageContext();
    const resumed = await stage1Queries.run(ctx, {});
    expect(d.engine.count("engine/generate") - before).toBe(16 - 5);
    expect(ctx.snapshots[0]).toMatchObject({ stage: 1, done: 5, total: 16 });
    expect(resumed).toEqual(expected);
    expect(await sortedLines(join(d.jobDir, "queries.jsonl"))).toEqual(
      await sortedLines(join(reference.jobDir, "queries.jsonl")),
    );
  });

  it("fails with the attempts, the drop reasons and what the model wrote when nothing is usable", async () => {
    const d = await distillation({
      settings: { queriesPerPersona: 2 },
      engine: {
        replies: [
          {
            prompt: /Question 1:$/,
            text: "I'm sorry, but I can't help with creating questions about that topic.",
          },
          { prompt: /Question 2:$/, text: "Why, though?" },
        ],
      },
    });
    const err = await stage1Queries.run(d.stageContext(), {}).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "distill/emptyDataset",
      detail: { stage: 1, attempted: 4, dropped: { refusal: 2, tooShort: 2 } },
    });
    expect((err as Error).message).toContain("all 4 generations were dropped (refusal 2, tooShort 2)");
    expect((err as Error).message).toContain(`"I'm sorry, but I can't help`);
    // the drop reasons are in the log, so a resumed run fails the same way without generating again
    expect((await readJsonl(join(d.jobDir, "queries.jsonl"))).map((r) => r.drop).sort()).toEqual([
      "refusal",
      "refusal",
      "tooShort",
      "tooShort",
    ]);
    const calls = d.engine.count("engine/generate");
    await expect(stage1Queries.run(d.stageContext(), {})).rejects.toMatchObject({ code: "distill/emptyDataset" });
    expect(d.engine.count("engine/generate")).toBe(calls);
  });

  it("quotes at most 200 characters of what the model wrote", async () => {
    const long = "I'm sorry, but I can't write questions about renal dosing. ".repeat(10);
    const d = await distillation({
      settings: { queriesPerPersona: 1, query: { maxTokens: 2000 } },
      engine: { replies: [{ system: "You create evaluation questions", text: long }] },
    });
    const err = (await stage1Queries.run(d.stageContext(), {}).catch((e: unknown) => e)) as {
      detail: { example: string };
    };
    expect(err.detail.example).toHaveLength(201);
    expect(err.detail.example.endsWith("…")).toBe(true);
  });
});
