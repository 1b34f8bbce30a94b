import type { ChatMessage } from "../../protocol/engineProtocol.js";

/** Stage 1 (prism-method §9.1): the model writes one question the persona would answer especially well. */
export function queryGenerationMessages(persona: string, index: number): ChatMessage[] {
  return [
    {
      role: "system",
      content:
        "You create evaluation questions for a dataset. Write one varied, specific question that the expert described below would answer much better than a generalist.",
    },
    {
      role: "user",
      content:
        `Expert description:\n${persona}\n\n` +
        "Write exactly one realistic, challenging question a user might ask that this expert would answer especially well. Make it concrete and detailed, not generic. Reply with the question only.\n\n" +
        `Question ${index}:`,
    },
  ];
}

/** Judge truncation per answer (prism-method §3 stage 3). */
export const JUDGE_ANSWER_CHARS = 1500;

/** Stage 3 (prism-method §9.2): one pairwise judgement, A vs B. */
export function judgeMessages(question: string, answerA: string, answerB: string): ChatMessage[] {
  return [
    {
      role: "system",
      content:
        "You are an impartial evaluator comparing two answers, A and B, to the same question. Judge them on, in this order: correctness (accurate facts, sound logic), relevance, helpfulness, clarity. Length is not a merit; padding, repetition and needless detail count against an answer. Reply with exactly one of: A, B, TIE.",
    },
    {
      role: "user",
      content:
        `Question:\n${question}\n\nAnswer A:\n${answerA.slice(0, JUDGE_ANSWER_CHARS)}\n\n` +
        `Answer B:\n${answerB.slice(0, JUDGE_ANSWER_CHARS)}\n\nWhich answer is better? Reply A, B or TIE:`,
    },
  ];
}

/** A pairwise verdict. */
export type Verdict = "A" | "B" | "TIE";

/** The first `A`, `B` or `TIE` in a judge's output; anything unparseable is a tie (prism-method §3). */
export function parseVerdict(output: string): Verdict {
  const m = /\b(TIE|A|B)\b/i.exec(output);
  if (!m) return "TIE";
  const v = m[1]!.toUpperCase();
  return v === "A" || v === "B" ? v : "TIE";
}
