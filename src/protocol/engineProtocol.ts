import * as z from "zod";
import type { NotificationSpecs, RequestSpecs } from "./envelope.js";

/** Bumped on every breaking change of the host↔engine messages; the host refuses an engine of another version. */
export const ENGINE_PROTOCOL_VERSION = 1;

/** GPU backend choice. `"false"` means CPU only; `"auto"` picks the best available backend. */
export const gpuChoiceSchema = z.enum(["auto", "cuda", "vulkan", "metal", "false"]);
/** GPU backend choice. */
export type GpuChoice = z.infer<typeof gpuChoiceSchema>;

const path = z.string().min(1).max(4096);
const handle = z.string().min(1).max(64);
const threads = z.number().int().min(1).max(1024);
/**
 * Large enough for long prompts, small enough that a bogus value is caught before it reaches llama.cpp; lone
 * surrogates (invalid UTF-16) are refused because the tokenizer would silently turn them into U+FFFD.
 */
const text = z
  .string()
  .max(4_000_000)
  .refine((s) => s.isWellFormed(), { message: "the text is not valid UTF-16 (lone surrogate)" });

/** One chat message. The engine formats a list of them with the model's own chat template. */
export const chatMessageSchema = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: text,
});
/** One chat message. */
export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** A conversation that ends with a user turn: what the model answers next. */
const promptMessages = z
  .array(chatMessageSchema)
  .min(1)
  .max(1000)
  .refine((m) => m[m.length - 1]?.role === "user", { message: "the last message must be a user message" });

/** What the engine reports about a loaded model. */
export const modelInfoSchema = z.object({
  modelId: handle,
  path,
  architecture: z.string(),
  layers: z.number().int().nonnegative(),
  embeddingSize: z.number().int().nonnegative(),
  contextLength: z.number().int().nonnegative(),
  vocabSize: z.number().int().nonnegative(),
  fileSize: z.number().int().nonnegative(),
  hasChatTemplate: z.boolean(),
  /** The node-llama-cpp chat wrapper chosen for the model's template, e.g. `ChatML`. */
  chatWrapper: z.string(),
  /** False for templates without a system role: system text is then prepended to the next user turn. */
  supportsSystemMessages: z.boolean(),
  /** Pooling of `engine/embed`: the last token's state (llama.cpp's default for generative models) or the mean. */
  pooling: z.enum(["last", "mean"]),
  /** llama.cpp's type description, e.g. `llama ?B all F32`. */
  typeDescription: z.string(),
  /** The backend actually in use: `cuda`, `vulkan`, `metal`, or `false` for CPU. */
  gpu: z.union([z.literal(false), z.string()]),
  gpuLayers: z.number().int().nonnegative(),
  threads,
  loadMs: z.number().nonnegative(),
});
/** What the engine reports about a loaded model. */
export type ModelInfo = z.infer<typeof modelInfoSchema>;

/** A LoRA adapter applied to a context. The effective scale is `scale × alpha / rank` (llama.cpp). */
export const adapterSpecSchema = z.object({
  path,
  scale: z.number().finite().min(-100).max(100).default(1),
});

const timingsSchema = z.object({
  /** Prompt tokens evaluated before the first generated token. */
  promptTokens: z.number().int().nonnegative(),
  /** Milliseconds from the request to the first generated token: prompt evaluation plus one sampling step. */
  promptMs: z.number().nonnegative(),
  /** Milliseconds from the request until the first text chunk was sent. */
  timeToFirstTokenMs: z.number().nonnegative(),
  generatedTokens: z.number().int().nonnegative(),
  /** Generated tokens per second after the first one (decode speed). */
  tokensPerSecond: z.number().nonnegative(),
  totalMs: z.number().nonnegative(),
  /** Prompt tokens whose state a shared prefix held already (not evaluated again); absent when none. */
  cachedPromptTokens: z.number().int().nonnegative().optional(),
});
/** Timings of one generation, measured in the engine. */
export type GenerationTimings = z.infer<typeof timingsSchema>;

const sharedPrefixSchema = z.object({
  messages: z.number().int().min(0).max(1000),
  chars: z.number().int().min(0).max(1_000_000),
});
/** Where the part of a prompt that many requests share ends (`engine/generate`'s `sharedPrefix`). */
export type SharedPrefix = z.infer<typeof sharedPrefixSchema>;

/** Host → engine requests. Each is handled by `LlamaEngine` in the engine process. */
export const engineRequests = {
  /** Health check and version; the watchdog calls it. */
  "engine/status": {
    params: z.object({}),
    result: z.object({
      pid: z.number().int(),
      protocolVersion: z.number().int(),
      llamaCppRelease: z.string().nullable(),
      gpu: z.union([z.literal(false), z.string()]).nullable(),
      models: z.number().int(),
      contexts: z.number().int(),
    }),
  },
  /** Loads a GGUF model. The first load fixes the process's GPU backend and thread cap. */
  "engine/loadModel": {
    params: z.object({
      modelPath: path,
      gpu: gpuChoiceSchema.default("auto"),
      threads,
      /** Layers to offload; `auto` lets node-llama-cpp fit as many as memory allows. Defaults to `auto`. */
      gpuLayers: z.union([z.number().int().nonnegative(), z.literal("auto"), z.literal("max")]).default("auto"),
      /**
       * Pooling of embeddings. llama.cpp applies it to the whole model, so a model needed with both poolings
       * is loaded twice (mmap shares the pages). Defaults to `last`.
       */
      pooling: z.enum(["last", "mean"]).default("last"),
    }),
    result: modelInfoSchema,
  },
  /** Disposes a model and all its contexts. */
  "engine/unloadModel": { params: z.object({ modelId: handle }), result: z.object({}) },
  /** Creates a context (KV cache + sequences) on a loaded model, optionally with LoRA adapters. */
  "engine/createContext": {
    params: z.object({
      modelId: handle,
      contextSize: z.number().int().min(16).max(1_048_576),
      /** Parallel sequences; each runs its own generation in the same batch. Defaults to 1. */
      sequences: z.number().int().min(1).max(64).default(1),
      adapters: z.array(adapterSpecSchema).max(8).default([]),
      threads: threads.optional(),
      /**
       * Tokens decoded per batch. Scoring keeps the logits of every scored position of one batch (vocabulary ×
       * 4 bytes each, ~0.6 MB at 151k), so a smaller batch bounds its memory. Defaults to node-llama-cpp's.
       */
      batchSize: z.number().int().min(16).max(8192).optional(),
    }),
    result: z.object({
      contextId: handle,
      contextSize: z.number().int(),
      sequences: z.number().int(),
      loadMs: z.number().nonnegative(),
    }),
  },
  /** Disposes a context. */
  "engine/disposeContext": { params: z.object({ contextId: handle }), result: z.object({}) },
  /** Streams a chat answer; chunks arrive as `engine/didChunk` tagged with this request's id. */
  "engine/generate": {
    params: z.object({
      contextId: handle,
      messages: promptMessages,
      /** 0 is greedy and deterministic. Defaults to 0. */
      temperature: z.number().finite().min(0).max(5).default(0),
      maxTokens: z.number().int().min(1).max(1_048_576).default(256),
      /** Sampling seed; only used when temperature > 0. */
      seed: z
        .number()
        .int()
        .nonnegative()
        .max(2 ** 32 - 1)
        .optional(),
      topK: z.number().int().min(0).max(100_000).optional(),
      topP: z.number().min(0).max(1).optional(),
      /**
       * A thinking model's thoughts: `allow` lets it think first; `discourage` spends no tokens on them (a thought
       * segment is closed as soon as it opens), so `maxTokens` all go to the answer. `text` and the streamed chunks
       * never contain thoughts either way. Defaults to `allow`.
       */
      thoughts: z.enum(["allow", "discourage"]).optional(),
      /**
       * Strings that end the answer as soon as the generated text contains one (OpenAI's `stop`); neither `text`
       * nor the streamed chunks contain it. At most 16, each 1 to 1,000 characters. Defaults to none.
       */
      stop: z.array(z.string().min(1).max(1000)).max(16).optional(),
      /**
       * The leading part of the prompt that many requests share (a persona, a judge's instructions): the first
       * `messages` messages whole and the first `chars` characters of the next. The engine evaluates it on its own
       * and keeps it in the sequence for the next request with the same prefix, so it is evaluated once, not per
       * request; the answer is the same with or without that reuse (docs/engine.md §11). Defaults to none.
       */
      sharedPrefix: sharedPrefixSchema.optional(),
    }),
    result: z.object({
      /** The answer without thought segments (and without the stop string that ended it). */
      text: z.string(),
      /** `customStopTrigger`: one of `stop` ended the answer. */
      stopReason: z.enum(["eogToken", "stopGenerationTrigger", "customStopTrigger", "maxTokens", "abort", "other"]),
      timings: timingsSchema,
    }),
  },
  /** The prompt's embedding: last token's hidden state after the final norm (the gate feature). */
  "engine/embed": {
    params: z.object({
      modelId: handle,
      /** Raw text, or chat messages formatted like a prompt (ending with the generation prompt). */
      input: z.union([z.object({ text: text.min(1) }), z.object({ messages: promptMessages })]),
    }),
    result: z.object({ embedding: z.array(z.number()), tokens: z.number().int(), ms: z.number() }),
  },
  /**
   * The prompt's last hidden state after the final norm, like `engine/embed`, read from the logits of a model whose
   * output layer is the feature head (`src/core/gguf/featureHead.ts`): one ordinary prompt evaluation, with the
   * output layer run for the last token only. `engine/notFeatureHead` for a model without that head.
   */
  "engine/featureHead": {
    params: z.object({ contextId: handle, messages: promptMessages }),
    result: z.object({ embedding: z.array(z.number()), tokens: z.number().int(), ms: z.number() }),
  },
  /** Sum of log-probabilities of `answer` given the prompt, teacher-forced at temperature 0. */
  "engine/logLikelihood": {
    params: z.object({ contextId: handle, messages: promptMessages, answer: text.min(1) }),
    result: z.object({
      logLikelihood: z.number(),
      answerTokens: z.number().int(),
      promptTokens: z.number().int(),
      ms: z.number(),
    }),
  },
  /**
   * The token ids and text of a prompt formatted with the model's chat template (with generation prompt). With
   * `answer`, the answer's tokens and the end-of-turn token follow, and `answerStart` is the first answer token:
   * the exact sequence a LoRA is trained on.
   */
  "engine/formatPrompt": {
    params: z.object({ modelId: handle, messages: promptMessages, answer: text.optional() }),
    result: z.object({
      text: z.string(),
      tokens: z.array(z.number().int()),
      answerStart: z.number().int().nonnegative(),
    }),
  },
  /**
   * The teacher side of distillation: `messages` + `answer` formatted like `engine/formatPrompt` with an answer,
   * teacher-forced; for each answer token (end of turn included) the `k` most likely token ids, highest first,
   * and their log-probabilities renormalised over those k (the logits minus one constant per row). Top-k is
   * chosen natively, so a 150k-token vocabulary never reaches JS or crosses the process boundary.
   */
  "engine/scoreTopK": {
    params: z.object({
      contextId: handle,
      messages: promptMessages,
      answer: text,
      k: z.number().int().min(1).max(1024).default(64),
    }),
    result: z.object({
      tokens: z.array(z.number().int()),
      answerStart: z.number().int().nonnegative(),
      rows: z.array(z.object({ ids: z.array(z.number().int()), logp: z.array(z.number()) })),
    }),
  },
  /** The number of tokens `text` has in the model's vocabulary (no special tokens parsed, no BOS). */
  "engine/countTokens": {
    params: z.object({ modelId: handle, text }),
    result: z.object({ tokens: z.number().int().nonnegative() }),
  },
  /**
   * Downloads a model (`hf:user/repo/file.gguf`, `hf:user/repo:quant` or an https URL) into `dir` with
   * node-llama-cpp's downloader; resumes a partial download; progress arrives as `engine/didDownloadProgress`.
   */
  "engine/download": {
    params: z.object({ uri: z.string().min(3).max(2048), dir: path }),
    result: z.object({ path, bytes: z.number().int().nonnegative() }),
  },
  /** Disposes everything and lets the process exit. */
  "engine/shutdown": { params: z.object({}), result: z.object({}) },
} satisfies RequestSpecs;
/** Host → engine request map. */
export type EngineRequests = typeof engineRequests;

/** Engine → host notifications. */
export const engineNotifications = {
  /** Sent once when the engine process is ready for requests. */
  "engine/didStart": z.object({ pid: z.number().int(), protocolVersion: z.number().int() }),
  /** A llama.cpp or engine log line; the host keeps the recent ones for error reports. */
  "engine/didLog": z.object({ level: z.string().max(16), text: z.string().max(16_384) }),
  /** Download progress of an `engine/download` request. */
  "engine/didDownloadProgress": z.object({ downloadedBytes: z.number(), totalBytes: z.number() }),
  /** Generated text since the previous chunk of the same request (batched to limit IPC messages). */
  "engine/didChunk": z.object({ text: z.string() }),
} satisfies NotificationSpecs;
/** Engine → host notification map. */
export type EngineNotifications = typeof engineNotifications;
