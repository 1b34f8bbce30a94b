import type { ChatMessage, SharedPrefix } from "../../protocol/engineProtocol.js";
import { stripThoughts } from "./stripThoughts.js";

/** Stage 1 (docs/method.md §9.1): the model writes one question the persona would answer especially well. */
export function queryGenerationMessages(persona: string, index: number): ChatMessage[] {
  return [
    {
      role: "system",
      content:
        "You create evaluation questions for a dataset. Write one varied, specific question that the expert described below would answer much better than a generalist.",
    },
    { role: "user", content: queryRequest(persona) + `Question ${index}:` },
  ];
}

/** What every query-generation prompt of `persona` shares: all but `Question {i}:` (the engine reuses it). */
export function queryGenerationPrefix(persona: string): SharedPrefix {
  return { messages: 1, chars: queryRequest(persona).length };
}

function queryRequest(persona: string): string {
  return (
    `Expert description:\n${persona}\n\n` +
    "Write exactly one realistic, challenging question a user might ask that this expert would answer especially well. Make it concrete and detailed, not generic. Reply with the question only.\n\n"
  );
}

/** Judge truncation per answer (docs/method.md §3.3). */
export const JUDGE_ANSWER_CHARS = 1500;

/** Stage 3 (docs/method.md §9.2): one pairwise judgement, A vs B. */
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
        `Question:\n${question}\n\n` +
        `Answer A:\n${answerA.slice(0, JUDGE_ANSWER_CHARS)}\n\n` +
        `Answer B:\n${answerB.slice(0, JUDGE_ANSWER_CHARS)}\n\nWhich answer is better? Reply A, B or TIE:`,
    },
  ];
}

/**
 * What every judge pass shares: the instructions (the system message; the engine keeps it in each sequence). Not
 * the question too: the two passes of a query run at once in different sequences, and a prefix per question would
 * make every pass evaluate the instructions again.
 */
export const JUDGE_PREFIX: SharedPrefix = { messages: 1, chars: 0 };

/** A pairwise verdict. */
export type Verdict = "A" | "B" | "TIE";

const VERDICT_WORD = String.raw`(?:A|B|TIE)`;
/** Verdicts that stand as the answer at the start of the output: "A", "Answer B", "B is better", "Verdict: TIE". */
const LEADING_FORMS = [
  new RegExp(
    String.raw`^(?:(?:final|my|the)\s+)?(?:verdict|answer|choice|winner|decision|judge?ment|result|output|better answer|preferred answer)\s*(?:is\s*)?[:=\-–—]?\s*(?:answer\s+|response\s+|option\s+)?(${VERDICT_WORD})(?![\w'’-])`,
    "i",
  ),
  /^(?:answer|response|option)\s+(A|B)(?![\w'’-])/i,
  /^(A|B)\s+(?:is|was|wins|won|seems|appears|provides|gives|offers|answers|clearly|does)\b/,
  /^(A|B)\s*(?:[.!:;,)]|\s[-–—])/,
  /^(?:it['’]?s |it is )?(?:a )?(tie)\b/i,
];
/** Verdicts stated anywhere: "… so Answer B is better", "the better answer is A", "Verdict: B". */
const ANYWHERE_FORMS = [
  /\b(?:answer|response|option)\s+(A|B)\s+(?:is|was)\s+(?:clearly\s+|slightly\s+|much\s+)?(?:better|superior|stronger|preferable|preferred|the better|the winner|more (?:accurate|correct|helpful))/gi,
  /\b(?:better|best|stronger|superior|preferred|winning)\s+(?:answer|response|one)\s+is\s+(?:answer\s+|response\s+)?(A|B)(?![\w'’-])/gi,
  /\b(?:verdict|choice|winner|decision)\s*[:=]\s*(A|B|TIE)(?![\w'’-])/gi,
  /\b(A|B)\s+is\s+(?:clearly\s+|slightly\s+|much\s+)?(?:better|superior|stronger|preferable|preferred|the better|the winner)/g,
  /\b(?:it['’]?s a|is a|are a|call it a)\s+(tie)\b/gi,
  /\b(TIE)\b/g,
];

/**
 * The judge's verdict, accepted only where it stands as the answer (thoughts stripped first): exactly `A`, `B` or
 * `TIE` (any case, with punctuation, markdown or quotes around it, e.g. `**B**`), or a clear form such as
 * "Answer A", "A is better", "Verdict: B", "The better answer is B". The article in "a better answer" is not a
 * verdict. Text that states more than one verdict, or none, is a tie (the method counts anything unparseable as
 * TIE; docs/method.md §3.3).
 */
export function parseVerdict(output: string): Verdict {
  const lines = stripThoughts(output)
    .split(/\r?\n/)
    .map((l) =>
      l
        .replace(/[*_`#>[\]()"“”«»]|(?<!\w)['‘’]|['‘’](?!\w)/g, " ")
        .replace(/\s+/g, " ")
        .trim(),
    )
    .filter(Boolean);
  const exact = /^(A|B|TIE)[.!:;,]*$/i.exec(lines[0] ?? "");
  if (exact) return toVerdict(exact[1]!);
  const text = lines.join(" ");
  const found = new Set<Verdict>();
  for (const form of LEADING_FORMS) {
    const m = form.exec(text);
    if (m && isVerdictWord(m[1]!)) {
      found.add(toVerdict(m[1]!));
      break;
    }
  }
  for (const form of ANYWHERE_FORMS) {
    for (const m of text.matchAll(form)) if (isVerdictWord(m[1]!)) found.add(toVerdict(m[1]!));
  }
  return found.size === 1 ? [...found][0]! : "TIE";
}

/** Outside an exact answer, a lower-case "a" is the article, never a verdict. */
function isVerdictWord(word: string): boolean {
  return word === "A" || word === "B" || word.toUpperCase() === "TIE";
}

function toVerdict(word: string): Verdict {
  const v = word.toUpperCase();
  return v === "A" || v === "B" ? v : "TIE";
}
