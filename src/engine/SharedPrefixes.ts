import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { ChatMessage } from "../protocol/engineProtocol.js";

/** Where a shared prefix ends: `messages` whole messages, then `chars` characters of the next. */
export interface PrefixSpec {
  messages: number;
  chars: number;
}

/** A prompt's tokens as the engine formats it (chat template and generation prompt). */
export type FormatTokens = (modelId: string, messages: ChatMessage[]) => Token[];

/** Two continuations no prompt shares, so that where their tokens part is where the prefix's own tokens end. */
const PROBES = ["\u0001\u0002", "\u0003\u0004"] as const;
/** A shorter prefix is not worth a separate evaluation. */
const MIN_PREFIX_TOKENS = 16;
/** Distinct prefixes remembered per engine (personas × stages, judge frames): bounded, oldest dropped. */
const CACHE_LIMIT = 256;

/**
 * Prompt prefixes shared by many requests, evaluated once per sequence and reused (docs/engine.md §11).
 *
 * Reuse must not change answers, or a job resumed in a fresh process would differ from an uninterrupted one: a
 * prefix evaluated in one batch together with the rest of its prompt rounds differently from one evaluated alone.
 * So a prefix is always evaluated alone, as its own batch, first — on a fresh sequence as on one that already
 * holds it — and a sequence is trusted to hold it only when it was loaded here that way.
 *
 * The prefix's tokens are where the tokens of the prompt cut at the split point, continued by two different
 * probes, part (`formatPrompt` of each): a tokenizer that merges across the split, or a template that renders the
 * prefix depending on what follows, shortens it or (when the real prompt does not start with it) disables it.
 */
export class SharedPrefixes {
  private readonly tokensByKey = new Map<string, Token[] | null>();
  /** What each sequence holds as a prefix evaluated alone, from position 0. */
  private readonly loaded = new WeakMap<LlamaContextSequence, Token[]>();

  constructor(private readonly format: FormatTokens) {}

  /** The prefix's tokens for this prompt, or undefined when it has none worth reusing. */
  tokens(
    modelId: string,
    messages: ChatMessage[],
    spec: PrefixSpec,
    promptTokens: readonly Token[],
  ): Token[] | undefined {
    const cut = cutMessages(messages, spec);
    if (!cut) return undefined;
    const key = `${modelId}\u0000${JSON.stringify(cut)}`;
    let prefix = this.tokensByKey.get(key);
    if (prefix === undefined) {
      prefix = this.probe(modelId, cut);
      if (this.tokensByKey.size >= CACHE_LIMIT) this.tokensByKey.delete(this.tokensByKey.keys().next().value!);
      this.tokensByKey.set(key, prefix);
    }
    // The prefix must leave at least one prompt token to evaluate, and be where this prompt really starts.
    if (!prefix || prefix.length >= promptTokens.length || !startsWith(promptTokens, prefix)) return undefined;
    return prefix;
  }

  /** A free sequence of `free` that holds `prefix` already, for the caller to prefer; -1 when none does. */
  holderIndex(free: readonly LlamaContextSequence[], prefix: readonly Token[] | undefined): number {
    if (!prefix) return -1;
    return free.findIndex((s) => {
      const held = this.loaded.get(s);
      return held !== undefined && sameTokens(held, prefix);
    });
  }

  /**
   * Leaves `sequence` holding exactly `prefix` (evaluated alone) or, without one, nothing: the state every request
   * starts from, whatever ran in the sequence before. True when the prefix was there already (reused).
   */
  async prepare(sequence: LlamaContextSequence, prefix: Token[] | undefined): Promise<boolean> {
    const held = this.loaded.get(sequence);
    if (prefix && held && sameTokens(held, prefix) && startsWith(sequence.contextTokens, prefix)) {
      if (sequence.nextTokenIndex > prefix.length) {
        await sequence.eraseContextTokenRanges([{ start: prefix.length, end: sequence.nextTokenIndex }]);
      }
      return true;
    }
    this.loaded.delete(sequence);
    await sequence.clearHistory();
    if (!prefix) return false;
    await sequence.evaluateWithoutGeneratingNewTokens(prefix);
    this.loaded.set(sequence, prefix);
    return false;
  }

  private probe(modelId: string, cut: ChatMessage[]): Token[] | null {
    const [a, b] = PROBES.map((p) => {
      const messages = cut.map((m, i) => (i === cut.length - 1 ? { ...m, content: m.content + p } : m));
      return this.format(modelId, messages);
    });
    let n = 0;
    while (n < a!.length && n < b!.length && a![n] === b![n]) n++;
    return n >= MIN_PREFIX_TOKENS ? a!.slice(0, n) : null;
  }
}

/** The messages up to the split, the last one cut at it; undefined when the split is outside the prompt. */
function cutMessages(messages: ChatMessage[], spec: PrefixSpec): ChatMessage[] | undefined {
  const next = messages[spec.messages];
  if (!next || spec.chars > next.content.length) return undefined;
  return [...messages.slice(0, spec.messages), { ...next, content: next.content.slice(0, spec.chars) }];
}

function startsWith(tokens: readonly Token[], prefix: readonly Token[]): boolean {
  if (tokens.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (tokens[i] !== prefix[i]) return false;
  return true;
}

function sameTokens(a: readonly Token[], b: readonly Token[]): boolean {
  return a.length === b.length && startsWith(a, b);
}
