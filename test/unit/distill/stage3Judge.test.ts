/**
 * Stage 3 on the fake engine: the self-judge twice per query, A/B swapped, the second pass only where the first
 * chose the persona; distill iff B then A (docs/method.md §3.3).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { itemSeed } from "../../../src/core/distill/distillSettings.js";
import { JobProgress } from "../../../src/core/distill/JobProgress.js";
import { stage1Queries } from "../../../src/core/distill/stage1Queries.js";
import { stage2Answers } from "../../../src/core/distill/stage2Answers.js";
import { stage3Judge } from "../../../src/core/distill/stage3Judge.js";
import { isCancellation } from "../../../src/core/errors.js";
import { caseOf, type FakeDistillationOptions } from "../../../testkit/fakeDistillation.js";
import { readJsonl, sortedLines } from "../../../testkit/readJsonl.js";
import { fakeDistillations } from "../../../testkit/fakeDistillations.js";

const distillation = fakeDistillations("prism-stage3-");

async function withAnswers(o: FakeDistillationOptions = {}) {
  const d = await distillation(o);
  const { queries } = await stage1Queries.run(d.stageContext(), {});
  const { answers } = await stage2Answers.run(d.stageContext(), { queries });
  return { ...d, queries, answers };
}

const judgeCalls = (d: Awaited<ReturnType<typeof withAnswers>>) =>
  d.engine.calls.filter((c) => c.method === "engine/generate" && JSON.stringify(c.params).includes("impartial"));

describe("stage 3: pairwise self-judge", () => {
  it("judges each query in both orders where it matters and labels distill only when the persona answer wins both", async () => {
    const d = await withAnswers();
    const ctx = d.stageContext();
    const { labels } = await stage3Judge.run(ctx, { queries: d.queries, answers: d.answers });

    for (const q of d.queries) expect(labels.get(q.id)).toBe(caseOf(q.query) % 2 === 0 ? "distill" : "retain");
    const records = await readJsonl<{ id: string; pass: number; verdict: string }>(join(d.jobDir, "judgements.jsonl"));
    // the world's judge picks the persona's letter for even cases: B in pass 1 (A = base), A in pass 2; for odd
    // cases pass 1 says A (the base answer), and pass 2 could not make them distill, so it never runs
    const passes = (id: string) => records.filter((r) => r.id === id).sort((a, b) => a.pass - b.pass);
    for (const q of d.queries) expect(passes(q.id)).toHaveLength(caseOf(q.query) % 2 === 0 ? 2 : 1);
    expect(records).toHaveLength(24);
    expect(passes("chef-1")).toMatchObject([
      { pass: 1, verdict: "B" },
      { pass: 2, verdict: "A" },
    ]);
    const odd = d.queries.find((q) => caseOf(q.query) % 2 === 1)!;
    expect(passes(odd.id)).toMatchObject([{ pass: 1, verdict: "A" }]);
    const pass1 = judgeCalls(d).find((c) => c.params.seed === itemSeed(d.settings.seed, "judge:chef-1:1"))!;
    const prompt = (pass1.params.messages as Array<{ content: string }>)[1]!.content;
    expect(prompt.indexOf("[base]")).toBeLessThan(prompt.indexOf("[persona]"));
    // greedy and short (JUDGE_MAX_TOKENS)
    expect(pass1.params).toMatchObject({ temperature: 0, maxTokens: 16 });
    // the total starts at both passes of every query and shrinks by each pass 2 that pass 1 made unnecessary
    expect(ctx.snapshots[0]).toMatchObject({ stage: 3, done: 0, total: 32, message: "judging" });
    expect(ctx.snapshots.at(-1)).toMatchObject({ stage: 3, done: 24, total: 24 });
    const totals = ctx.snapshots.map((s) => s.total);
    expect(totals.every((t, i) => i === 0 || t <= totals[i - 1]!)).toBe(true);
  });

  it("fails with distill/emptyDataset when too few queries are labelled distill, before any later stage", async () => {
    const d = await withAnswers({ settings: { minDistill: 9 } });
    await expect(stage3Judge.run(d.stageContext(), { queries: d.queries, answers: d.answers })).rejects.toMatchObject({
      code: "distill/emptyDataset",
      message: expect.stringContaining("Only 8 of 16 queries were labelled distill"),
      detail: { distill: 8, retain: 8, minimum: 9 },
    });
    expect(d.engine.count("engine/embed")).toBe(0);
  });

  it("cancelled mid-stage, keeps finished verdicts; a re-run judges only the rest and labels as an uninterrupted run", async () => {
    const reference = await withAnswers();
    const expected = await stage3Judge.run(reference.stageContext(), {
      queries: reference.queries,
      answers: reference.answers,
    });

    const d = await withAnswers();
    const controller = new AbortController();
    const progress = new JobProgress(
      "test",
      (s) => {
        if (s.stage === 3 && s.done >= 5) controller.abort();
      },
      () => undefined,
      0,
    );
    const err = await stage3Judge
      .run(d.stageContext({ progress, signal: controller.signal }), { queries: d.queries, answers: d.answers })
      .catch((e: unknown) => e);
    expect(isCancellation(err)).toBe(true);
    const kept = (await readJsonl(join(d.jobDir, "judgements.jsonl"))).length;
    expect(kept).toBeGreaterThanOrEqual(5);

    const before = judgeCalls(d).length;
    const resumed = await stage3Judge.run(d.stageContext(), { queries: d.queries, answers: d.answers });
    expect(judgeCalls(d).length - before).toBe(24 - kept);
    expect(resumed).toEqual(expected);
    expect(await sortedLines(join(d.jobDir, "judgements.jsonl"))).toEqual(
      await sortedLines(join(reference.jobDir, "judgements.jsonl")),
    );
  });
});
