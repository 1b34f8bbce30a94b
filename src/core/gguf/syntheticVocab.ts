import { ggufValue, type GgufKv } from "./ggufTypes.js";

/** The byte-level vocabularies a synthetic model can carry. */
export type SyntheticVocabKind = "gpt2-bytes" | "spm-bytes";

/** A vocabulary as GGUF metadata, plus the ids tests need. */
export interface SyntheticVocab {
  /** The `tokenizer.ggml.*` KVs (chat template excluded). */
  kvs: GgufKv[];
  /** Number of tokens (the rows of `token_embd`). */
  size: number;
  /** Token ids of the special tokens. */
  ids: { bos: number; eos: number; imStart: number; imEnd: number; unk?: number };
}

/** SentencePiece's escaped space, U+2581. */
const SPM_SPACE = "\u2581";

// llama.cpp token types.
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const BYTE = 6;

/**
 * Builds a byte-level vocabulary.
 *
 * - `gpt2-bytes` (docs/engine.md §10): ids 0–255 are the bytes spelled with GPT-2's bytes-to-unicode map (type
 *   NORMAL), then `<s>` 256 (BOS), `</s>` 257 (EOS and padding), `<|im_start|>` 258, `<|im_end|>` 259 (CONTROL).
 *   Pre-tokenizer `default`, and an empty merges array, which llama.cpp requires to be present.
 * - `spm-bytes` (docs/trainer.md §7): `<unk>` 0 (UNKNOWN), `<s>` 1 and `</s>` 2 (CONTROL), `<0x00>`…`<0xFF>`
 *   3–258 (BYTE), all scores 0; then `<|im_start|>` 259 and `<|im_end|>` 260 (CONTROL). The two ChatML tokens
 *   are appended (not in the trainer spec's 259 tokens) so that the ChatML template tokenises its markers as
 *   single control tokens, exactly as with `gpt2-bytes`; llama.cpp picks `<|im_end|>` as EOT by its name.
 *   Last comes `▁` 261 (NORMAL): SPM escapes every space as U+2581, and with only byte tokens it would come back
 *   as the three bytes of "▁" instead of a space, since llama.cpp unescapes whitespace only in NORMAL pieces.
 *
 * `duplicate` spells token 1 like token 0 for gpt2-bytes, `<0x01>` like `<0x00>` for spm-bytes: llama.cpp then
 * aborts the process (`GGML_ASSERT(id_to_token.size() == token_to_id.size())`, exit 134), which crash tests need.
 */
export function buildSyntheticVocab(kind: SyntheticVocabKind, duplicate = false): SyntheticVocab {
  return kind === "gpt2-bytes" ? gpt2Vocab(duplicate) : spmVocab(duplicate);
}

function gpt2Vocab(duplicate: boolean): SyntheticVocab {
  const spelling = gpt2ByteSpelling();
  const tokens = [...spelling, "<s>", "</s>", "<|im_start|>", "<|im_end|>"];
  if (duplicate) tokens[1] = tokens[0] ?? "";
  const types = tokens.map((_, id) => (id < 256 ? NORMAL : CONTROL));
  return {
    size: tokens.length,
    ids: { bos: 256, eos: 257, imStart: 258, imEnd: 259 },
    kvs: [
      { key: "tokenizer.ggml.model", value: ggufValue.string("gpt2") },
      { key: "tokenizer.ggml.pre", value: ggufValue.string("default") },
      { key: "tokenizer.ggml.tokens", value: ggufValue.stringArray(tokens) },
      { key: "tokenizer.ggml.token_type", value: ggufValue.i32Array(types) },
      { key: "tokenizer.ggml.merges", value: ggufValue.stringArray([]) },
      { key: "tokenizer.ggml.bos_token_id", value: ggufValue.u32(256) },
      { key: "tokenizer.ggml.eos_token_id", value: ggufValue.u32(257) },
      { key: "tokenizer.ggml.padding_token_id", value: ggufValue.u32(257) },
      { key: "tokenizer.ggml.add_bos_token", value: ggufValue.bool(true) },
      { key: "tokenizer.ggml.add_eos_token", value: ggufValue.bool(false) },
    ],
  };
}

function spmVocab(duplicate: boolean): SyntheticVocab {
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  const tokens = ["<unk>", "<s>", "</s>", ...bytes, "<|im_start|>", "<|im_end|>", SPM_SPACE];
  if (duplicate) tokens[4] = tokens[3] ?? "";
  const types = tokens.map((_, id) =>
    id === 0 ? UNKNOWN : id <= 2 || id === 259 || id === 260 ? CONTROL : id === 261 ? NORMAL : BYTE,
  );
  return {
    size: tokens.length,
    ids: { unk: 0, bos: 1, eos: 2, imStart: 259, imEnd: 260 },
    kvs: [
      { key: "tokenizer.ggml.model", value: ggufValue.string("llama") },
      { key: "tokenizer.ggml.tokens", value: ggufValue.stringArray(tokens) },
      { key: "tokenizer.ggml.scores", value: ggufValue.f32Array(tokens.map(() => 0)) },
      { key: "tokenizer.ggml.token_type", value: ggufValue.i32Array(types) },
      { key: "tokenizer.ggml.bos_token_id", value: ggufValue.u32(1) },
      { key: "tokenizer.ggml.eos_token_id", value: ggufValue.u32(2) },
      { key: "tokenizer.ggml.unknown_token_id", value: ggufValue.u32(0) },
      { key: "tokenizer.ggml.add_bos_token", value: ggufValue.bool(true) },
      { key: "tokenizer.ggml.add_eos_token", value: ggufValue.bool(false) },
    ],
  };
}

/** GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards. */
export function gpt2ByteSpelling(): string[] {
  const spelling: string[] = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  let next = 256;
  for (let b = 0; b < 256; b++) spelling[b] = String.fromCodePoint(printable(b) ? b : next++);
  return spelling;
}

/**
 * A ChatML Jinja template. node-llama-cpp renders it and compares the result with its own ChatML wrapper, so it
 * must reproduce that wrapper's output exactly (BOS, `<|im_start|>role\n…<|im_end|>\n`, generation prompt);
 * `{%-` strips the line break between the two lines, which would otherwise be rendered.
 */
export const CHATML_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}\n" +
  "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
