/** Stage 2 on the fake engine: a base and a persona answer per query, with why each stopped (docs/method.md §3.2). */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DistillQuery } from "../../../src/core/distill/distillRecords.js";
import { itemSeed } from "../../../src/core/distill/distillSettings.js";
import { stage1Queries } from "../../../src/core/distill/stage1Queries.js";
import { stage2Answers } from "../../../src/core/distill/stage2Answers.js";
import { isCancellation } from "../../../src/core/errors.js";
import type { FakeEngine } from "../../../testkit/FakeEngine.js";
import type { FakeDistillationOptions } from "../../../testkit/fakeDistillation.js";
import { readJsonl, sortedLines } from "../../../testkit/readJsonl.js";
import { fakeDistillations } from "../../../testkit/fakeDistillations.js";

const distillation = fakeDistillations("prism-stage2-");

async function withQueries(o: FakeDistillationOptions = {}) {
  const d = await distillation(o);
  const { queries } = await stage1Queries.run(d.stageContext(), {});
  return { ...d, queries };
}

/** Stage 2's generations (stage 1's ask for "Question N:"). */
const generateCalls = (d: { engine: FakeEngine }) =>
  d.engine.calls.filter((c) => c.method === "engine/generate" && !JSON.stringify(c.params).includes("Question "));

describe("stage 2: two answers per query", () => {
  it("answers the student prompt (no persona) and the persona prompt, and records why each stopped", async () => {
    const d = await withQueries({
      settings: { queriesPerPersona: 2 },
      // the chef's answers to case 1 run past the answer limit
      engine: { replies: [{ system: "You are a chef.", prompt: /case 1 /, text: "Slowly. ".repeat(100) }] },
    });
    const { answers } = await stage2Answers.run(d.stageContext(), { queries: d.queries });

    const records = await readJsonl<{ id: string; side: string; stop: string }>(join(d.jobDir, "answers.jsonl"));
    expect(records).toHaveLength(8);
    expect(answers.get("chef-0")).toEqual({
      base: "[base] On How would chef handle case 1 in practice?: it depends.",
      persona: "Slowly. ".repeat(25),
      baseStop: "eogToken",
      personaStop: "maxTokens",
    });
    expect(answers.get("pilot-1")).toMatchObject({ baseStop: "eogToken", personaStop: "eogToken" });
    expect(answers.get("pilot-1")!.persona).toContain("[persona] You are an airline pilot.");

    // Only the query's own persona answers it; the base side has no system message; seeds are per item.
    const calls = generateCalls(d);
    const bySeed = new Map(
      calls.map((c) => [c.params.seed, c.params.messages as Array<{ role: string; content: string }>]),
    );
    const q: DistillQuery = d.queries.find((x) => x.id === "pilot-1")!;
    expect(bySeed.get(itemSeed(d.settings.seed, "answer:pilot-1:base"))).toEqual([{ role: "user", content: q.query }]);
    expect(bySeed.get(itemSeed(d.settings.seed, "answer:pilot-1:persona"))).toEqual([
      { role: "system", content: "You are an airline pilot." },
      { role: "user", content: q.query },
    ]);
  });

  it("survives an engine crash mid-stage: in-flight answers fail, a re-run finishes the rest and matches an uninterrupted run", async () => {
    const reference = await withQueries();
    const expected = await stage2Answers.run(reference.stageContext(), { queries: reference.queries });

    const d = await withQueries({ engine: { latencyMs: { "engine/generate": 2 } } });
    d.engine.inject({ method: "engine/generate", skip: 9, effect: { crash: {} } });
    await expect(stage2Answers.run(d.stageContext(), { queries: d.queries })).rejects.toMatchObject({
      code: "engine/crashed",
    });
    const kept = (await readJsonl(join(d.jobDir, "answers.jsonl"))).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(32);

    // A new run on the same engine: the crash replaced the engine, the session reloads the model.
    const before = generateCalls(d).length;
    const resumed = await stage2Answers.run(d.stageContext(), { queries: d.queries });
    expect(generateCalls(d).length - before).toBe(32 - kept);
    expect(resumed).toEqual(expected);
    expect(await sortedLines(join(d.jobDir, "answers.jsonl"))).toEqual(
      await sortedLines(join(reference.jobDir, "answers.jsonl")),
    );
  });

  it("stops promptly when cancelled, even inside a slow generation, and keeps what was finished", async () => {
    const d = await withQueries();
    d.engine.inject({ method: "engine/generate", times: Infinity, effect: { delayMs: 5_000 } });
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 20);
    const err = await stage2Answers
      .run(d.stageContext({ signal: controller.signal }), { queries: d.queries })
      .catch((e: unknown) => e);
    expect(isCancellation(err)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(d.engine.pendingCount).toBe(0);
    expect(await readJsonl(join(d.jobDir, "answers.jsonl"))).toEqual([]);
  });
});
