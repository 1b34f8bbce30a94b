/**
 * The fake engine's model vocabulary and chat template: one token per character, ChatML-like turns. Simple enough
 * that a test can count tokens by hand, faithful where the pipeline depends on it: the answer's tokens are the
 * same whatever the prompt (stage 5 checks teacher and student agree), an answer ends with the end-of-turn token,
 * and a template without a system role puts the system text before the user's (docs/method.md §3.2).
 */
import type { ChatMessage } from "../src/protocol/engineProtocol.js";

/** Special token ids and the vocabulary size of the fake model. */
export const FAKE_TOKENS = Object.freeze({
  bos: 1,
  /** End of turn: closes every turn and follows a formatted answer. */
  eot: 2,
  system: 3,
  user: 4,
  assistant: 5,
  /** First id of the character tokens. */
  firstText: 6,
  vocabSize: 512,
});

/** One token per character (code point), folded into the vocabulary. */
export function fakeTokenize(text: string): number[] {
  const span = FAKE_TOKENS.vocabSize - FAKE_TOKENS.firstText;
  return [...text].map((c) => FAKE_TOKENS.firstText + (c.codePointAt(0)! % span));
}

/**
 * `messages` formatted like `engine/formatPrompt`: BOS, each turn as role token + text + end of turn, then the
 * assistant's generation prompt; with `answer`, its tokens and the end of turn follow from `answerStart`.
 */
export function formatFakeChat(
  messages: readonly ChatMessage[],
  supportsSystemMessages: boolean,
  answer?: string,
): { text: string; tokens: number[]; answerStart: number } {
  const tokens: number[] = [FAKE_TOKENS.bos];
  let text = "";
  let pendingSystem: string[] = [];
  for (const m of messages) {
    if (m.role === "system" && !supportsSystemMessages) {
      pendingSystem.push(m.content);
      continue;
    }
    const content =
      m.role === "user" && pendingSystem.length ? `${pendingSystem.join("\n\n")}\n\n${m.content}` : m.content;
    if (m.role === "user") pendingSystem = [];
    tokens.push(FAKE_TOKENS[m.role], ...fakeTokenize(content), FAKE_TOKENS.eot);
    text += `<|im_start|>${m.role}\n${content}<|im_end|>\n`;
  }
  tokens.push(FAKE_TOKENS.assistant);
  text += "<|im_start|>assistant\n";
  const answerStart = tokens.length;
  if (answer !== undefined) tokens.push(...fakeTokenize(answer), FAKE_TOKENS.eot);
  return { text, tokens, answerStart };
}
