/**
 * ChatML framing and byte-level tokenisation of world conversations for the synthetic "gpt2-bytes" vocabulary:
 * byte b is token b, the control tokens come from `buildSyntheticVocab`. The framing reproduces node-llama-cpp's
 * ChatML wrapper (what `engine/formatPrompt` produces for a model written with the ChatML template): BOS,
 * `<|im_start|>system\n…<|im_end|>\n` only when there is a system prompt, `<|im_start|>user\n…<|im_end|>\n`,
 * `<|im_start|>assistant\n`, then the answer and `<|im_end|>` (llama.cpp's end-of-turn token for this vocabulary).
 */
import { buildSyntheticVocab } from "../gguf/syntheticVocab.js";

/** Special token ids of the "gpt2-bytes" vocabulary. */
export const WORLD_VOCAB_IDS = Object.freeze({ ...buildSyntheticVocab("gpt2-bytes").ids });

export interface ChatTurn {
  system?: string;
  user: string;
}

/** The UTF-8 bytes of `text` as token ids. */
export function byteTokens(text: string): number[] {
  return [...Buffer.from(text, "utf8")];
}

/** Decodes byte tokens (control tokens are dropped). */
export function decodeByteTokens(tokens: readonly number[]): string {
  return Buffer.from(tokens.filter((t) => t >= 0 && t < 256)).toString("utf8");
}

/** The prompt as ChatML text with `<|im_start|>`/`<|im_end|>` spelled out (BOS not shown). */
export function chatText(turn: ChatTurn, answer?: string): string {
  const system = turn.system !== undefined ? `<|im_start|>system\n${turn.system}<|im_end|>\n` : "";
  const tail = answer !== undefined ? `${answer}<|im_end|>` : "";
  return `${system}<|im_start|>user\n${turn.user}<|im_end|>\n<|im_start|>assistant\n${tail}`;
}

/**
 * Token ids of `turn` up to the generation prompt, and with `answer` also the answer and `<|im_end|>`;
 * `answerStart` is the index of the first answer token (the trainer's `answer_start`).
 */
export function chatTokens(turn: ChatTurn, answer?: string): { tokens: number[]; answerStart: number } {
  const { bos, imStart, imEnd } = WORLD_VOCAB_IDS;
  const nl = byteTokens("\n");
  const tokens = [bos];
  if (turn.system !== undefined) tokens.push(imStart, ...byteTokens(`system\n${turn.system}`), imEnd, ...nl);
  tokens.push(imStart, ...byteTokens(`user\n${turn.user}`), imEnd, ...nl, imStart, ...byteTokens("assistant\n"));
  const answerStart = tokens.length;
  if (answer !== undefined) tokens.push(...byteTokens(answer), imEnd);
  return { tokens, answerStart };
}

/** One line of prism-trainer's JSONL input (src/trainer/README.md "Input"). */
export interface TrainerSampleLine {
  id: string;
  tokens: number[];
  answer_start: number;
}

/** Training conversations as trainer samples: ChatML framing, loss on the answer bytes and the final `<|im_end|>`. */
export function trainerSamples(
  examples: readonly (ChatTurn & { id: string; assistant: string })[],
): TrainerSampleLine[] {
  return examples.map((e) => {
    const { tokens, answerStart } = chatTokens(e, e.assistant);
    return { id: e.id, tokens, answer_start: answerStart };
  });
}
