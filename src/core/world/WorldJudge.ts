import { RuleJudge } from "../pipeline/judges.js";
import { gradeDiscriminative, scoreGenerative } from "./rubric.js";

/** What the judge needs to know of a discriminative prompt: its one right answer. */
export interface WorldReference {
  prompt: string;
  family: "discriminative" | "generative";
  expected: string;
}

/**
 * Stage 3's judge plugin for the reference world: the world's rubric as a rule. A discriminative prompt scores 1
 * for the exact right answer and 0 otherwise; a generative one gets its rubric score (rubric.ts). The higher
 * score wins, equal scores tie. It stands in for the self-judge because a 3.5 M-parameter model cannot judge;
 * on real models the self-judge stays the default.
 */
export function worldJudge(references: readonly WorldReference[]): RuleJudge {
  const answers = new Map(
    references.filter((r) => r.family === "discriminative").map((r) => [r.prompt.trim(), r.expected]),
  );
  return new RuleJudge("rule:world-rubric", (question, answer) => worldScore(answers, question, answer));
}

/** The world's score of one answer: exactness for a known discriminative prompt, else the generative rubric. */
export function worldScore(answers: ReadonlyMap<string, string>, question: string, answer: string): number {
  const expected = answers.get(question.trim());
  if (expected !== undefined) return gradeDiscriminative(question, answer, expected) ? 1 : 0;
  return scoreGenerative(question, answer);
}
