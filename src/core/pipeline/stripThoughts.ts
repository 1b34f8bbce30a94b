const TAG = "(?:think|thinking|thought|reasoning)";
const CLOSED_BLOCK = new RegExp(`<${TAG}>[\\s\\S]*?</${TAG}>`, "gi");
const CLOSE = new RegExp(`</${TAG}>`, "gi");
const OPEN_AT_START = new RegExp(`^\\s*<${TAG}>`, "i");

/**
 * A model's output without its thoughts: `<think>…</think>` blocks removed; text before a lone `</think>` removed
 * (templates such as DeepSeek-R1's open the block in the prompt, so the output starts inside it); and an
 * unterminated `<think>` at the start — the token limit ran out while thinking — leaves nothing.
 */
export function stripThoughts(text: string): string {
  let out = text.replace(CLOSED_BLOCK, "");
  let lastClose = -1;
  for (const m of out.matchAll(CLOSE)) lastClose = m.index + m[0].length;
  if (lastClose >= 0) out = out.slice(lastClose);
  if (OPEN_AT_START.test(out)) return "";
  return out;
}

/** True when `text` starts with a thought block that never closed (all of it was thinking). */
export function isUnterminatedThought(text: string): boolean {
  return OPEN_AT_START.test(text.replace(CLOSED_BLOCK, "")) && !new RegExp(`</${TAG}>`, "i").test(text);
}
