import type { CostObservations } from "../cost/estimateDistillCost.js";
import { countLabels } from "./countLabels.js";
import type { DistillLabel, DistillQuery, QueryAnswers } from "./distillRecords.js";
import type { DistillSettings } from "./distillSettings.js";

/** What the stages made so far, as far as the cost model reads it. */
export interface StageData {
  queries?: DistillQuery[];
  answers?: Map<string, QueryAnswers>;
  labels?: Map<string, DistillLabel>;
  secondPasses?: number;
}

/**
 * The facts a finished stage settles for the job's ETA (docs/method.md §7): stage 1 the kept queries and their
 * length, stage 2 the answers' length, stage 3 the distill count and the second judge passes. Lengths are characters × the tokenizer's
 * measured density: exact counts would cost an engine call per text for an estimate.
 */
export function stageObservations(
  stage: number,
  data: StageData,
  tokensPerChar: number,
  settings: DistillSettings,
): CostObservations {
  const tokens = (texts: readonly string[]): number | undefined =>
    texts.length ? Math.round((texts.reduce((n, t) => n + t.length, 0) / texts.length) * tokensPerChar) : undefined;
  if (stage === 1 && data.queries) {
    const generated = data.queries.filter((q) => q.source === "generated").map((q) => q.query);
    return { queries: data.queries.length, queryTokens: tokens(generated) };
  }
  if (stage === 2 && data.answers) {
    return { answerTokens: tokens([...data.answers.values()].flatMap((a) => [a.base, a.persona])) };
  }
  if (stage === 3 && data.queries && data.labels) {
    return { distill: countLabels(data.queries, data.labels, settings).distill, secondPasses: data.secondPasses };
  }
  return {};
}
