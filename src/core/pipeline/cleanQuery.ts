import { isUnterminatedThought, stripThoughts } from "./stripThoughts.js";

/**
 * Why a generated query was dropped: `empty` (nothing but markup), `thoughtsOnly` (the token limit ran out inside
 * `<think>`), `refusal` (the model declined), `tooShort` (15 characters or fewer), `duplicate` (the same query,
 * case-insensitively, was kept earlier).
 */
export const QUERY_DROP_REASONS = ["empty", "thoughtsOnly", "refusal", "tooShort", "duplicate"] as const;
/** Why a generated query was dropped. */
export type QueryDropReason = (typeof QUERY_DROP_REASONS)[number];

/** Shortest query kept: 15 characters or fewer are dropped (docs/method.md §3.1). */
export const MIN_QUERY_CHARS = 16;

/** What {@link cleanQuery} made of one generation: the query, or why there is none. */
export type CleanQueryResult = { query: string; drop?: undefined } | { query?: undefined; drop: QueryDropReason };

type Marker = "number" | "bullet" | "questionLabel";

const INTERJECTION = String.raw`(?:sure|certainly|of course|absolutely|okay|ok|alright|all right|great|got it|no problem|here you go|understood)`;
const INTERJECTION_LINE = new RegExp(String.raw`^${INTERJECTION}[!.,]*$`, "i");
/** "Here's a challenging question for a cardiologist:" — a whole line that only announces the question. */
const PREAMBLE_LINE = new RegExp(
  String.raw`^(?:${INTERJECTION}[!.,]*\s+)?(?:here(?:['’]s| is| are| goes)|below is|the following is|i(?:['’]ll| will) (?:ask|write|pose))\b[^?\n]*?(?:\b(?:questions?|query|prompt)\b[^?\n]*|\bone\s*[:.!]*)$`,
  "i",
);
/** The same announcement followed by the question on the same line. */
const PREAMBLE_PREFIX = new RegExp(
  String.raw`^(?:${INTERJECTION}[!.,]*\s+)?(?:here(?:['’]s| is| are| goes)|below is|the following is)\b[^:?\n]*?\b(?:question|query|one|prompt)\b[^:?\n]*:\s*`,
  "i",
);
/** "A realistic question would be: …", "My question: …" — an introduction ending in a colon before the question. */
const INTRO_PREFIX = new RegExp(
  String.raw`^(?:${INTERJECTION}[!.,]*\s+)?(?:a|an|the|my|one|this|your)\b[^:?\n]{0,80}?\b(?:question|query)\b[^:?\n]{0,40}:\s+(?=\S)`,
  "i",
);
const EMPHASIS = String.raw`(?:\*\*|__|\*|_)?`;
const LABEL_WORD = String.raw`(?:question|query|q)`;
/** `Question 3:`, `**Q1:**`, `Query —` */
const LABEL_PREFIX = new RegExp(
  String.raw`^${EMPHASIS}\s*${LABEL_WORD}(?:\s*#?\s*(\d+))?\s*${EMPHASIS}\s*(?:[:.)]|\s[-–—])\s*${EMPHASIS}\s*`,
  "i",
);
/** A line that is only a label: `### Question`, `**Question 3**`. */
const LABEL_LINE = new RegExp(
  String.raw`^${EMPHASIS}\s*${LABEL_WORD}(?:\s*#?\s*\d+)?\s*${EMPHASIS}\s*:?\s*${EMPHASIS}$`,
  "i",
);
const HEADING = /^#{1,6}\s+/;
const BULLET = /^[-*•+]\s+/;
const NUMBERING = /^\d{1,3}(?:[.)]\s+|\s*:\s+|\s+[-–—]\s+)/;
const FENCE = /^\s*(?:```|~~~)/;
const SEPARATOR = /^(?:-{3,}|\*{3,}|_{3,}|={3,})$/;
const COMMENTARY = new RegExp(
  String.raw`^(?:this (?:question|query|prompt|one)\b|(?:it|which) (?:tests|requires|assesses|evaluates|probes|challenges|checks)\b|` +
    String.raw`(?:note|explanation|rationale|reasoning|answer|expected answer|sample answer|model answer|difficulty|category|topic|tags?|why (?:this|it)[^:\n]{0,40})[*_]*\s*:|` +
    String.raw`(?:an? |the )?(?:experts?|generalists?|specialists?|non-experts?) (?:would|might|may|could|will|can)\b|` +
    String.raw`i hope\b|let me know\b|feel free\b|would you like\b|do you want\b|if you(?:['’]d| would)? (?:like|want|need)\b)`,
  "i",
);
const INLINE_COMMENTARY = /(\?)[*_"”’)]*\s+[(*_]*(?:this (?:question|query|prompt)\b|it tests\b|note:)[\s\S]*$/i;
const REFUSAL = new RegExp(
  String.raw`^(?:(?:i['’]?m|i am) sorry\b|sorry,? (?:but )?i\b|i apologi[sz]e\b|apologies\b|as an ai\b|` +
    String.raw`i (?:can['’]?t|cannot|can not|won['’]?t|will not|am unable to|['’]m unable to|am not able to|['’]m not able to)\s+` +
    String.raw`(?:help|assist|comply|fulfil+|provide|create|generate|write|do that|answer|produce|engage|support))`,
  "i",
);
const QUOTE_PAIRS: Record<string, string> = { '"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“", "”": "”" };

/**
 * Turns one stage-1 generation into a query, robust to what real chat models write around it: thoughts
 * (`<think>…</think>`), preambles ("Sure! Here is a question:"), headings and bold labels (`**Question 3:**`),
 * bullets and numbering, `Q:` prefixes, surrounding quotes or bold, refusals, and trailing commentary ("This
 * question tests …"). A query may span lines: a code block or quoted passage stays with its question. Only the
 * first question is kept when the model wrote a list of them.
 */
export function cleanQuery(raw: string): CleanQueryResult {
  if (isUnterminatedThought(raw)) return { drop: "thoughtsOnly" };
  const lines = stripThoughts(raw).replace(/\r\n?/g, "\n").split("\n");
  let marker: Marker | undefined;
  let start = 0;
  for (; start < lines.length; start++) {
    const line = lines[start]!.trim();
    const lead = stripLead(line);
    marker ??= lead.marker;
    // A heading over more text is a title ("### Cardiology"), not the question.
    if (HEADING.test(line) && !lead.rest.endsWith("?") && lines.slice(start + 1).some((l) => l.trim())) continue;
    if (lead.rest) {
      lines[start] = lead.rest;
      break;
    }
  }
  const body = lines.slice(start);
  if (body.length === 0) return { drop: "empty" };
  if (isRefusal(body[0]!)) return { drop: "refusal" };
  const query = unwrap(takeQuery(body, marker).replace(INLINE_COMMENTARY, "$1"));
  if (!query) return { drop: "empty" };
  if (query.length < MIN_QUERY_CHARS) return { drop: "tooShort" };
  return { query };
}

/** Strips preambles, headings, bullets, numbering and labels from the start of a line; `rest` is "" if nothing else. */
function stripLead(line: string): { rest: string; marker?: Marker } {
  let rest = line;
  let marker: Marker | undefined;
  for (;;) {
    const before = rest;
    if (INTERJECTION_LINE.test(rest) || PREAMBLE_LINE.test(rest) || LABEL_LINE.test(rest)) {
      if (LABEL_LINE.test(rest)) marker ??= /\d/.test(rest) ? "questionLabel" : undefined;
      return { rest: "", marker };
    }
    rest = rest.replace(PREAMBLE_PREFIX, "").replace(INTRO_PREFIX, "").replace(HEADING, "");
    if (BULLET.test(rest)) {
      marker ??= "bullet";
      rest = rest.replace(BULLET, "");
    }
    if (NUMBERING.test(rest)) {
      marker ??= "number";
      rest = rest.replace(NUMBERING, "");
    }
    const label = LABEL_PREFIX.exec(rest);
    if (label) {
      if (label[1] !== undefined) marker ??= "questionLabel";
      rest = rest.slice(label[0].length);
    }
    rest = rest.trim();
    if (rest === before) return { rest, marker };
  }
}

/** "I'm sorry, but I can't help with that." — but not "I'm sorry if this is basic, but how do I …?" */
function isRefusal(firstLine: string): boolean {
  const text = firstLine.trim().replace(/^[*_>"“]+/, "");
  const sentence = /^[\s\S]*?[.!?](?=\s|$)/.exec(text)?.[0] ?? text;
  return REFUSAL.test(text) && !sentence.trimEnd().endsWith("?");
}

/** Does this line start a second question of the same list the first one came from? */
function startsAnotherQuestion(line: string, marker: Marker | undefined): boolean {
  if (marker === "bullet") return BULLET.test(line);
  if (marker === "number") return /^\d{1,3}[.)]\s+/.test(line);
  if (marker === "questionLabel") return LABEL_PREFIX.test(line.replace(HEADING, "")) || LABEL_LINE.test(line);
  return false;
}

/**
 * The query's blocks: paragraphs and fenced code, up to a separator, commentary or the next question. After a
 * paragraph that asks (ends with "?"), only code, quoted passages and further questions belong to the query.
 */
function takeQuery(lines: string[], marker: Marker | undefined): string {
  const blocks: Array<{ code: boolean; lines: string[] }> = [];
  let current: string[] = [];
  let inFence = false;
  const flush = (code: boolean) => {
    if (current.length) blocks.push({ code, lines: current });
    current = [];
  };
  for (const line of lines) {
    if (inFence) {
      current.push(line);
      if (FENCE.test(line)) {
        flush(true);
        inFence = false;
      }
    } else if (FENCE.test(line)) {
      flush(false);
      current.push(line);
      inFence = true;
    } else if (line.trim() === "") flush(false);
    else current.push(line.trimEnd());
  }
  flush(inFence);

  const out: string[] = [];
  let asked = false;
  for (const block of blocks) {
    if (block.code) {
      out.push(block.lines.join("\n"));
      continue;
    }
    const keep: string[] = [];
    let stop = false;
    for (const line of block.lines) {
      const t = line.trim();
      const bare = t.replace(/^[(*_>\s-]+/, "");
      if (
        out.length + keep.length > 0 &&
        (SEPARATOR.test(t) || COMMENTARY.test(bare) || startsAnotherQuestion(t, marker))
      ) {
        stop = true;
        break;
      }
      keep.push(line);
    }
    if (keep.length) {
      const quoted = keep.every((l) => l.trim().startsWith(">"));
      const asks = /\?[*_"”’)]*$/.test(keep.at(-1)!.trim());
      if (asked && !quoted && !asks) break;
      out.push(keep.join("\n"));
      asked ||= asks;
    }
    if (stop) break;
  }
  return out.join("\n\n").trim();
}

/** Removes quotes, bold or a blockquote wrapped around the whole query; a quoted first line wins over what follows. */
function unwrap(text: string): string {
  let q = text.trim();
  for (;;) {
    const before = q;
    const close = QUOTE_PAIRS[q[0] ?? ""];
    if (close) {
      // The closing quote that ends a line: `“Explain X.”` followed by anything is the quoted question.
      const m = new RegExp(`^.[\\s\\S]*?${escape(close)}(?=[ \\t]*(?:\\n|$))`).exec(q);
      if (m && m[0].length > 1) q = m[0].slice(1, -1).trim();
      else if (!q.slice(1).includes(close)) q = q.slice(1).trim();
    }
    const bold = /^(\*\*|__|\*|_)([\s\S]+)\1$/.exec(q);
    if (bold && !bold[2].includes(bold[1])) q = bold[2].trim();
    if (q.split("\n").every((l) => l.startsWith(">"))) q = q.replace(/^>[ \t]?/gm, "").trim();
    const last = q.at(-1) ?? "";
    if ((last === '"' && (q.match(/"/g) ?? []).length % 2 === 1) || (last === "”" && !q.includes("“"))) {
      q = q.slice(0, -1).trim();
    }
    if (q === before) return q;
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
