import { itemSeed } from "./distillSettings.js";
import { assertEnoughDistill, countLabels } from "./countLabels.js";
import {
  judgementRecordSchema,
  type DistillLabel,
  type DistillQuery,
  type JudgementRecord,
  type QueryAnswers,
} from "./distillRecords.js";
import type { DistillStage, StageContext } from "./DistillStage.js";
import { runStageItems } from "./runStageItems.js";

/** One judge pass over a query's two answers. */
interface JudgeItem {
  query: DistillQuery;
  pass: JudgementRecord["pass"];
}

/**
 * Stage 3 (docs/method.md §3.3): the judge compares each query's two answers twice, A/B swapped
 * (`judgements.jsonl`); *distill* iff the persona answer wins both passes. The second pass runs only where the
 * first chose the persona: anywhere else it cannot change the label. Too few distill labels fail here
 * (`distill/emptyDataset`), before stage 4 spends time on features that stage 5 could not use.
 */
export const stage3Judge: DistillStage<
  { queries: DistillQuery[]; answers: Map<string, QueryAnswers> },
  {
    labels: Map<string, DistillLabel>;
    /** Queries judged a second time (their first pass chose the persona), for the job's cost model. */
    secondPasses: number;
  }
> = {
  number: 3,
  name: "judge",
  async run(ctx, { queries, answers }) {
    const items = queries.map((query): JudgeItem => ({ query, pass: 1 }));
    const records = await runStageItems(ctx, {
      stage: 3,
      message: "judging",
      log: "judgements.jsonl",
      schema: judgementRecordSchema,
      items,
      itemKey: (item) => `${item.query.id}:${item.pass}`,
      recordKey: (record) => `${record.id}:${record.pass}`,
      followUp: (record, item) =>
        item.pass === 1 && record.verdict === "B" ? { query: item.query, pass: 2 as const } : undefined,
      concurrency: ctx.judge.concurrency,
      work: (item, signal) => judgePass(ctx, answers.get(item.query.id)!, item, signal),
    });
    const labels = labelQueries(queries, records);
    assertEnoughDistill(countLabels(queries, labels, ctx.settings), ctx.settings);
    const ids = new Set(queries.map((q) => q.id));
    const secondPasses = records.filter((r) => r.pass === 1 && r.verdict === "B" && ids.has(r.id)).length;
    return { labels, secondPasses };
  },
};

/** One judge pass: the judge call of stage 3. */
async function judgePass(
  ctx: StageContext,
  answers: QueryAnswers,
  item: JudgeItem,
  signal: AbortSignal,
): Promise<JudgementRecord> {
  const { query: q, pass } = item;
  // Both orders, so that a judge's position bias cancels out (docs/method.md §3.3).
  const [answerA, answerB] = pass === 1 ? [answers.base, answers.persona] : [answers.persona, answers.base];
  const v = await ctx.judge.judge({
    question: q.query,
    answerA,
    answerB,
    seed: itemSeed(ctx.settings.seed, `judge:${q.id}:${pass}`),
    signal,
  });
  return { id: q.id, pass, verdict: v.verdict, raw: v.raw };
}

/**
 * Distill iff pass 1 (A = base) says B and pass 2 (A = persona) says A; anything else, or a pass not run, retains.
 * (A job begun before pass 2 was skipped may hold pass 2s of retained queries; they change nothing.)
 */
function labelQueries(
  queries: readonly DistillQuery[],
  records: readonly JudgementRecord[],
): Map<string, DistillLabel> {
  const verdicts = new Map<string, { 1?: string; 2?: string }>();
  for (const r of records) verdicts.set(r.id, { ...verdicts.get(r.id), [r.pass]: r.verdict });
  const labels = new Map<string, DistillLabel>();
  for (const q of queries) {
    const v = verdicts.get(q.id);
    labels.set(q.id, v?.[1] === "B" && v?.[2] === "A" ? "distill" : "retain");
  }
  return labels;
}
