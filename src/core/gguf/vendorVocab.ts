import { GgufValueType, ggufValue, type GgufKv } from "./ggufTypes.js";

/** An entry of `added_tokens` in a Hugging Face `tokenizer.json`. */
export interface HfAddedToken {
  id: number;
  content: string;
  /** True for control tokens (`<|im_start|>`); false for user-defined ones (`<think>`). */
  special: boolean;
  normalized?: boolean;
  /** Whitespace after the token is stripped (llama.cpp knows this only for some models, by name). */
  rstrip?: boolean;
  /** Whitespace before the token is stripped. */
  lstrip?: boolean;
}

/** The parts of a Hugging Face `tokenizer.json` the conversion reads. */
export interface HfTokenizerJson {
  model: {
    type: string;
    vocab: Record<string, number>;
    /** `"a b"` strings, or `[a, b]` pairs (the format since transformers 4.45). */
    merges?: (string | [string, string])[];
    unk_token?: string | null;
  };
  added_tokens?: HfAddedToken[];
  post_processor?: HfPostProcessor | null;
}

interface HfPostProcessor {
  type: string;
  processors?: HfPostProcessor[];
  single?: { SpecialToken?: { id: string }; Sequence?: { id: string } }[];
}

/** A special token in `tokenizer_config.json`: its text, or an object with `content`. */
export type HfConfigToken = string | { content: string } | null | undefined;

/** The parts of a Hugging Face `tokenizer_config.json` the conversion reads. */
export interface HfTokenizerConfig {
  bos_token?: HfConfigToken;
  eos_token?: HfConfigToken;
  unk_token?: HfConfigToken;
  pad_token?: HfConfigToken;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: string | { name: string; template: string }[] | null;
}

/** llama.cpp's token types (`llama_token_type`). */
export const TokenType = {
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;

/** Options of {@link buildVendorVocab}. */
export interface VendorVocabOptions {
  /** `tokenizer.ggml.model`: `gpt2` (byte-level BPE with merges) or `llama` (SentencePiece with scores). */
  model: "gpt2" | "llama";
  /** `tokenizer.ggml.pre`, for `gpt2` (e.g. `llama-bpe`, `qwen2`). Defaults to none. */
  pre?: string;
  /** Tokens added on top of the tokenizer.json's (a vendor's extra chat tokens). Defaults to none. */
  extraAddedTokens?: readonly HfAddedToken[];
  /** Pad the vocabulary with `[PAD<id>]` UNUSED tokens to this size (a model's `vocab_size`). Defaults to none. */
  padTo?: number;
  /**
   * Overrides of `tokenizer_config.json` entries, e.g. a `bos_token` that the vendor sets only in `config.json`,
   * or the chat template. Defaults to none.
   */
  configOverrides?: HfTokenizerConfig;
  /** `tokenizer.ggml.eot_token_id`, by token text; without it llama.cpp guesses the EOT by name. Defaults to none. */
  eotToken?: string;
  /** `tokenizer.ggml.add_space_prefix` (SPM only; Gemma writes false). Defaults to not written. */
  addSpacePrefix?: boolean;
}

/** A vendor vocabulary as GGUF metadata. */
export interface VendorVocab {
  /** The `tokenizer.ggml.*` KVs and `tokenizer.chat_template`, in the order convert_hf_to_gguf.py writes them. */
  kvs: GgufKv[];
  /** Token texts by id (the rows of `token_embd`). */
  tokens: string[];
  /** llama.cpp token types by id ({@link TokenType}). */
  types: Int32Array;
  /** Number of BPE merges written (0 for SPM). */
  mergeCount: number;
  /** Special token ids, where the tokenizer has them. */
  ids: { bos?: number; eos?: number; eot?: number; unk?: number; pad?: number };
  /** `tokenizer.ggml.add_bos_token`. */
  addBos: boolean;
  /** The chat template written, if any. */
  chatTemplate?: string;
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
/** SentencePiece's escaped space. */
const SPM_SPACE = "\u2581";
/** convert_hf_to_gguf.py's score for added and padding tokens of a SentencePiece vocabulary. */
const ADDED_SCORE = -1000;

/**
 * Converts a Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`, already parsed) into GGUF
 * `tokenizer.ggml.*` metadata the way llama.cpp's convert_hf_to_gguf.py does:
 *
 * - tokens by id; ids with no token become `[PAD<id>]` (UNUSED);
 * - added tokens are CONTROL when `special` or when they look special (`<|…|>`, `<unused…>`, `<pad>`, `<mask>`),
 *   else USER_DEFINED with `▁` written as a space (llama.cpp matches them on raw text);
 * - `gpt2`: the merges, pairs joined by a space (a space inside a pair written as U+0120, as convert does);
 * - `llama` (SentencePiece): `<0xXX>` tokens are BYTE and the unknown token UNKNOWN. Scores come from the merge
 *   ranks, since a tokenizer.json has no SentencePiece scores: a piece made by merge `r` scores `-r`, so llama.cpp's
 *   highest-score-first merging follows the BPE's lowest-rank-first order; added and padding tokens score -1000;
 * - special ids from `tokenizer_config.json` (`bos_token`, `eos_token`, `unk_token`, `pad_token`) looked up among
 *   the added tokens; `add_bos_token` from the config, else from a `TemplateProcessing` post-processor that starts
 *   with the BOS token;
 * - `tokenizer.chat_template` from the config (the `default` one of a template list).
 *
 * Throws a plain Error for a tokenizer it cannot convert (two ids with one text: llama.cpp would abort).
 */
export function buildVendorVocab(
  tokenizer: HfTokenizerJson,
  config: HfTokenizerConfig,
  options: VendorVocabOptions,
): VendorVocab {
  const cfg: HfTokenizerConfig = { ...config, ...options.configOverrides };
  const added = [...(tokenizer.added_tokens ?? []), ...(options.extraAddedTokens ?? [])];
  let size = options.padTo ?? 0;
  for (const id of Object.values(tokenizer.model.vocab)) size = Math.max(size, id + 1);
  for (const t of added) size = Math.max(size, t.id + 1);

  const tokens = new Array<string | undefined>(size);
  const types = new Int32Array(size);
  const spm = options.model === "llama";
  const unk = tokenizer.model.unk_token ?? undefined;
  for (const [text, id] of Object.entries(tokenizer.model.vocab)) {
    tokens[id] = text;
    types[id] =
      spm && BYTE_TOKEN.test(text) ? TokenType.Byte : spm && text === unk ? TokenType.Unknown : TokenType.Normal;
  }
  const addedIds = new Set<number>();
  for (const t of added) {
    addedIds.add(t.id);
    if (types[t.id] === TokenType.Unknown) continue;
    if (t.special || looksSpecial(t.content)) {
      tokens[t.id] = t.content;
      types[t.id] = TokenType.Control;
    } else {
      tokens[t.id] = t.content.replaceAll(SPM_SPACE, " ");
      types[t.id] = TokenType.UserDefined;
    }
  }
  for (let id = 0; id < size; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TokenType.Unused;
    }
  }
  const texts = tokens as string[];
  checkUnique(texts);

  const merges = (tokenizer.model.merges ?? []).map(mergeString);
  const ids = specialIds(cfg, added, options.eotToken);
  const kvs: GgufKv[] = [{ key: "tokenizer.ggml.model", value: ggufValue.string(options.model) }];
  if (options.pre !== undefined) kvs.push({ key: "tokenizer.ggml.pre", value: ggufValue.string(options.pre) });
  kvs.push({ key: "tokenizer.ggml.tokens", value: ggufValue.stringArray(texts) });
  if (spm)
    kvs.push({
      key: "tokenizer.ggml.scores",
      value: ggufValue.array({ itemType: GgufValueType.Float32, items: spmScores(texts, merges, addedIds) }),
    });
  kvs.push({
    key: "tokenizer.ggml.token_type",
    value: ggufValue.array({ itemType: GgufValueType.Int32, items: types }),
  });
  if (!spm) kvs.push({ key: "tokenizer.ggml.merges", value: ggufValue.stringArray(merges) });
  const idKeys = [
    ["bos", "bos_token_id"],
    ["eos", "eos_token_id"],
    ["eot", "eot_token_id"],
    ["unk", "unknown_token_id"],
    ["pad", "padding_token_id"],
  ] as const;
  for (const [name, key] of idKeys) {
    const id = ids[name];
    if (id !== undefined) kvs.push({ key: `tokenizer.ggml.${key}`, value: ggufValue.u32(id) });
  }
  const addBos = cfg.add_bos_token ?? postProcessorAddsBos(tokenizer.post_processor, cfg.bos_token);
  kvs.push({ key: "tokenizer.ggml.add_bos_token", value: ggufValue.bool(addBos) });
  if (cfg.add_eos_token !== undefined) {
    kvs.push({ key: "tokenizer.ggml.add_eos_token", value: ggufValue.bool(cfg.add_eos_token) });
  }
  if (spm && options.addSpacePrefix !== undefined) {
    kvs.push({ key: "tokenizer.ggml.add_space_prefix", value: ggufValue.bool(options.addSpacePrefix) });
  }
  const chatTemplate = templateOf(cfg.chat_template);
  if (chatTemplate !== undefined) kvs.push({ key: "tokenizer.chat_template", value: ggufValue.string(chatTemplate) });
  return { kvs, tokens: texts, types, mergeCount: spm ? 0 : merges.length, ids, addBos, chatTemplate };
}

/** convert_hf_to_gguf.py's `does_token_look_special`. */
function looksSpecial(text: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(text) ||
    (text.startsWith("<|") && text.endsWith("|>")) ||
    (text.startsWith("<\uff5c") && text.endsWith("\uff5c>")) ||
    (text.startsWith("<unused") && text.endsWith(">"))
  );
}

function mergeString(merge: string | [string, string]): string {
  if (typeof merge === "string") return merge;
  return merge.map((part) => part.replaceAll(" ", "\u0120")).join(" ");
}

function checkUnique(tokens: string[]): void {
  const seen = new Map<string, number>();
  for (const [id, text] of tokens.entries()) {
    const other = seen.get(text);
    if (other !== undefined) throw new Error(`tokens ${other} and ${id} are both spelled ${JSON.stringify(text)}`);
    seen.set(text, id);
  }
}

function spmScores(tokens: string[], merges: string[], addedIds: ReadonlySet<number>): Float32Array {
  const idOf = new Map(tokens.map((t, id) => [t, id]));
  const scores = new Float32Array(tokens.length).fill(NaN);
  for (const [rank, merge] of merges.entries()) {
    const id = idOf.get(merge.replace(" ", ""));
    if (id !== undefined && Number.isNaN(scores[id])) scores[id] = -rank;
  }
  // Pieces no merge makes (single characters, bytes, controls) are never merge results; below every merge.
  const floor = -merges.length;
  for (let id = 0; id < scores.length; id++) {
    if (addedIds.has(id) || tokens[id]?.startsWith("[PAD")) scores[id] = ADDED_SCORE;
    else if (Number.isNaN(scores[id])) scores[id] = BYTE_TOKEN.test(tokens[id] ?? "") ? 0 : floor;
  }
  return scores;
}

function contentOf(token: HfConfigToken): string | undefined {
  if (typeof token === "string") return token;
  return token?.content;
}

function specialIds(cfg: HfTokenizerConfig, added: readonly HfAddedToken[], eot: string | undefined) {
  const find = (token: HfConfigToken): number | undefined => {
    const text = contentOf(token);
    return text === undefined ? undefined : added.find((t) => t.content === text)?.id;
  };
  const ids: VendorVocab["ids"] = {};
  const bos = find(cfg.bos_token);
  const eos = find(cfg.eos_token);
  const eotId = find(eot);
  const unk = find(cfg.unk_token);
  const pad = find(cfg.pad_token);
  if (bos !== undefined) ids.bos = bos;
  if (eos !== undefined) ids.eos = eos;
  if (eotId !== undefined) ids.eot = eotId;
  if (unk !== undefined) ids.unk = unk;
  if (pad !== undefined) ids.pad = pad;
  return ids;
}

function postProcessorAddsBos(post: HfPostProcessor | null | undefined, bos: HfConfigToken): boolean {
  const bosText = contentOf(bos);
  for (const p of post?.processors ?? (post ? [post] : [])) {
    if (p.type !== "TemplateProcessing") continue;
    const first = p.single?.[0]?.SpecialToken?.id;
    return (p.single?.length ?? 0) > 1 && first !== undefined && first === bosText;
  }
  return false;
}

function templateOf(template: HfTokenizerConfig["chat_template"]): string | undefined {
  if (typeof template === "string") return template;
  return template?.find((t) => t.name === "default")?.template;
}
