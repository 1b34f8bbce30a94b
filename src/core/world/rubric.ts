/**
 * The reference world's judges (issue 7): a deterministic rubric for generative answers and exact grading for
 * discriminative ones. Both read only text, so they work on any model's output (the later judge plugin).
 */

/** The four rubric criteria, each 0 or 1. */
export interface RubricBreakdown {
  /** The first word is a greeting (hello, hi, hey, greetings, welcome, dear, howdy). */
  greeting: number;
  /** The answer mentions a content word of the prompt (its topic, or the name to greet). */
  onTopic: number;
  /** 2–5 distinct sentences and at most 240 characters (no rambling, no repeated sentence). */
  structure: number;
  /** The last sentence is a polite closing (warm wishes, take care, thank you, …). */
  closing: number;
}

const GREETINGS = new Set(["hello", "hi", "hey", "greetings", "welcome", "dear", "howdy"]);
const CLOSINGS = [
  "warm wishes",
  "best wishes",
  "kind regards",
  "take care",
  "thank you",
  "all the best",
  "have a lovely day",
  "have a nice day",
  "cheers",
];
/** Words of request phrasings that are not topics. */
const STOPWORDS = new Set([
  "a",
  "about",
  "advice",
  "an",
  "and",
  "any",
  "can",
  "describe",
  "for",
  "give",
  "greet",
  "greeting",
  "hello",
  "help",
  "how",
  "like",
  "me",
  "my",
  "on",
  "please",
  "say",
  "share",
  "some",
  "something",
  "tell",
  "the",
  "tip",
  "tips",
  "to",
  "welcome",
  "what",
  "with",
  "write",
  "you",
  "your",
]);

const MAX_CHARS = 240;

function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9']+/g) ?? [];
}

/** Sentences: text between `.`, `!` and `?`, trimmed, non-empty. */
export function sentences(text: string): string[] {
  return text
    .split(/[.!?]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The content words of a request: its words minus request phrasing (lower case). */
export function topicWords(prompt: string): string[] {
  return [...new Set(words(prompt).filter((w) => w.length >= 3 && !STOPWORDS.has(w)))];
}

/** The rubric's criteria for `answer` to the generative request `prompt`. */
export function rubricBreakdown(prompt: string, answer: string): RubricBreakdown {
  const text = answer.trim();
  if (text.length === 0) return { greeting: 0, onTopic: 0, structure: 0, closing: 0 };
  const answerWords = words(text);
  const parts = sentences(text);
  const topics = topicWords(prompt);
  const distinct = new Set(parts.map((s) => s.toLowerCase())).size === parts.length;
  const last = (parts.at(-1) ?? "").toLowerCase();
  return {
    greeting: GREETINGS.has(answerWords[0] ?? "") ? 1 : 0,
    onTopic: topics.some((t) => answerWords.includes(t)) ? 1 : 0,
    structure: parts.length >= 2 && parts.length <= 5 && distinct && text.length <= MAX_CHARS ? 1 : 0,
    closing: CLOSINGS.some((c) => last === c || last.endsWith(` ${c}`) || last.startsWith(`${c} `)) ? 1 : 0,
  };
}

/** Rubric score in [0, 1]: the mean of the four criteria of {@link rubricBreakdown}. Deterministic. */
export function scoreGenerative(prompt: string, answer: string): number {
  const b = rubricBreakdown(prompt, answer);
  return (b.greeting + b.onTopic + b.structure + b.closing) / 4;
}

/** Lower case, trimmed, inner whitespace collapsed, surrounding quotes and trailing `.`, `!`, `?` removed. */
export function normaliseAnswer(text: string): string {
  return text
    .trim()
    .replace(/^["'`]+|["'`]+$/g, "")
    .replace(/[.!?]+$/, "")
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
}

/** Exact match of `answer` and `expected` after {@link normaliseAnswer} (`prompt` is unused; kept for symmetry). */
export function gradeDiscriminative(_prompt: string, answer: string, expected: string): boolean {
  return normaliseAnswer(answer) === normaliseAnswer(expected);
}
