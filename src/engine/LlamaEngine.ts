import {
  getLlama,
  LlamaChat,
  LlamaLogLevel,
  readGgufFileInfo,
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import type { z } from "zod";
import {
  ENGINE_PROTOCOL_VERSION,
  type ChatMessage,
  type EngineRequests,
  type GpuChoice,
  type ModelInfo,
} from "../protocol/engineProtocol.js";
import { AppError, abortError, type ErrorCode } from "../protocol/errors.js";
import { decodeFeatureHead } from "../core/gguf/featureHead.js";
import { readGguf } from "../core/gguf/readGguf.js";
import { ChunkBatcher } from "./ChunkBatcher.js";
import { SharedPrefixes } from "./SharedPrefixes.js";
import { explainAdapterFailure, explainModelFailure } from "./explainNativeFailure.js";
import { LogBuffer } from "./LogBuffer.js";

type Params<M extends keyof EngineRequests> = z.output<EngineRequests[M]["params"]>;
type Result<M extends keyof EngineRequests> = z.input<EngineRequests[M]["result"]>;

interface LoadedModel {
  model: LlamaModel;
  info: ModelInfo;
  chatWrapper: ChatWrapper;
  embedding?: Promise<LlamaEmbeddingContext>;
  contexts: Set<string>;
}

interface OpenContext {
  modelId: string;
  context: LlamaContext;
  /** Sequences not in use; a request waits in `waiters` when all are busy. */
  free: LlamaContextSequence[];
  created: number;
  waiters: Array<(sequence: LlamaContextSequence) => void>;
}

/** Sink for log lines and stream chunks; the process entry wires it to the IPC channel. */
export interface EngineOutput {
  log(level: string, text: string): void;
}

/**
 * Everything the engine process does with node-llama-cpp: one Llama instance (GPU backend and thread cap fixed
 * at the first model load), models, contexts with or without LoRA adapters sharing a model's weights,
 * streamed chat generation, prompt embeddings and answer log-likelihoods. The only module that touches
 * node-llama-cpp; every failure leaves as an {@link AppError} with a stable code.
 */
export class LlamaEngine {
  readonly logs = new LogBuffer();
  private llama?: Llama;
  private llamaGpu?: GpuChoice;
  private llamaThreads = 1;
  private readonly models = new Map<string, LoadedModel>();
  private readonly contexts = new Map<string, OpenContext>();
  private readonly prefixes = new SharedPrefixes((modelId, messages) => this.formatPrompt(modelId, messages).tokens);
  private nextHandle = 1;

  constructor(private readonly output: EngineOutput) {}

  status(): Result<"engine/status"> {
    return {
      pid: process.pid,
      protocolVersion: ENGINE_PROTOCOL_VERSION,
      llamaCppRelease: this.llama ? this.llama.llamaCppRelease.release : null,
      gpu: this.llama ? this.llama.gpu : null,
      models: this.models.size,
      contexts: this.contexts.size,
    };
  }

  async loadModel(p: Params<"engine/loadModel">): Promise<ModelInfo> {
    const fileSize = await checkGgufFile(p.modelPath, "model");
    const llama = await this.getLlama(p.gpu, p.threads);
    const mark = this.logs.mark;
    const started = performance.now();
    let model: LlamaModel;
    try {
      model = await llama.loadModel({
        modelPath: p.modelPath,
        gpuLayers: p.gpuLayers,
        // Pooling type 1 is mean; llama.cpp's default (none) gives the last token's state (docs/engine.md §8).
        metadataOverrides: p.pooling === "mean" ? await meanPoolingOverride(p.modelPath) : undefined,
      });
    } catch (err) {
      throw explainModelFailure(p.modelPath, err, await this.logs.linesSince(mark));
    }
    const modelId = `m${this.nextHandle++}`;
    const chatWrapper = resolveChatWrapper(model);
    const meta = model.fileInfo.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
    const tokenizer = meta.tokenizer as { chat_template?: unknown; ggml?: { tokens?: unknown[] } } | undefined;
    const arch = model.fileInfo.architectureMetadata as { block_count?: number; context_length?: number };
    const info: ModelInfo = {
      modelId,
      path: p.modelPath,
      architecture: String(model.fileInfo.metadata.general.architecture),
      layers: Number(arch.block_count ?? model.fileInsights.totalLayers),
      embeddingSize: model.embeddingVectorSize,
      contextLength: model.trainContextSize,
      vocabSize: countVocab(model, tokenizer?.ggml?.tokens),
      fileSize,
      hasChatTemplate: typeof tokenizer?.chat_template === "string" && tokenizer.chat_template.length > 0,
      chatWrapper: chatWrapper.wrapperName,
      supportsSystemMessages: chatWrapper.settings.supportsSystemMessages,
      pooling: p.pooling,
      typeDescription: String(model.typeDescription),
      gpu: llama.gpu,
      gpuLayers: model.gpuLayers,
      threads: this.llamaThreads,
      loadMs: performance.now() - started,
    };
    this.models.set(modelId, { model, info, chatWrapper, contexts: new Set() });
    return info;
  }

  async unloadModel(modelId: string): Promise<void> {
    const loaded = this.getModel(modelId);
    for (const contextId of loaded.contexts) await this.disposeContext(contextId);
    this.models.delete(modelId);
    await loaded.model.dispose();
  }

  async createContext(p: Params<"engine/createContext">): Promise<Result<"engine/createContext">> {
    const loaded = this.getModel(p.modelId);
    for (const adapter of p.adapters) await checkGgufFile(adapter.path, "adapter");
    const contextSize = Math.min(p.contextSize, loaded.info.contextLength || p.contextSize);
    const mark = this.logs.mark;
    const started = performance.now();
    let context: LlamaContext;
    try {
      context = await loaded.model.createContext({
        contextSize,
        sequences: p.sequences,
        batchSize: p.batchSize,
        threads: Math.min(p.threads ?? this.llamaThreads, this.llamaThreads),
        // Flash attention changes numerics between builds; keep results comparable across backends.
        flashAttention: false,
        lora: p.adapters.length
          ? { adapters: p.adapters.map((a) => ({ filePath: a.path, scale: a.scale })) }
          : undefined,
      });
    } catch (err) {
      const lines = await this.logs.linesSince(mark);
      const adapterPath = p.adapters[0]?.path;
      if (adapterPath && /lora|adapter/i.test(String((err as Error)?.message))) {
        throw explainAdapterFailure(adapterPath, err, lines);
      }
      throw new AppError("engine/invalidOptions", `Cannot create a context of ${contextSize} tokens: ${String(err)}`, {
        log: lines.map((l) => l.text),
      });
    }
    const contextId = `c${this.nextHandle++}`;
    this.contexts.set(contextId, { modelId: p.modelId, context, free: [], created: 0, waiters: [] });
    loaded.contexts.add(contextId);
    return { contextId, contextSize: context.contextSize, sequences: p.sequences, loadMs: performance.now() - started };
  }

  async disposeContext(contextId: string): Promise<void> {
    const open = this.getContext(contextId);
    this.contexts.delete(contextId);
    this.models.get(open.modelId)?.contexts.delete(contextId);
    await open.context.dispose();
  }

  /**
   * Formats `messages` with the model's chat template, ending with the assistant generation prompt; with
   * `answer`, appends its tokens and the end-of-turn token (the LoRA training sequence).
   */
  formatPrompt(
    modelId: string,
    messages: ChatMessage[],
    answer?: string,
  ): { text: string; tokens: Token[]; answerStart: number } {
    const loaded = this.getModel(modelId);
    const history = [...this.toHistory(loaded, messages), { type: "model", response: [] } as ChatHistoryItem];
    const { contextText } = loaded.chatWrapper.generateContextState({ chatHistory: history });
    const tokens = contextText.tokenize(loaded.model.tokenizer);
    const answerStart = tokens.length;
    if (answer !== undefined) {
      tokens.push(...loaded.model.tokenize(answer, false));
      const end = loaded.model.tokens.eot ?? loaded.model.tokens.eos;
      if (end !== null) tokens.push(end);
    }
    return { text: contextText.toString(), tokens, answerStart };
  }

  /** Chat messages as node-llama-cpp history; system text moves into the user turn for templates without one. */
  private toHistory(loaded: LoadedModel, messages: ChatMessage[]): ChatHistoryItem[] {
    const supportsSystem = loaded.chatWrapper.settings.supportsSystemMessages;
    const history: ChatHistoryItem[] = [];
    let pendingSystem: string[] = [];
    for (const m of messages) {
      if (m.role === "system" && !supportsSystem) pendingSystem.push(m.content);
      else if (m.role === "system") history.push({ type: "system", text: m.content });
      else if (m.role === "user") {
        // docs/method.md §3.2: persona + blank line + query when the template has no system role.
        const text = pendingSystem.length ? `${pendingSystem.join("\n\n")}\n\n${m.content}` : m.content;
        pendingSystem = [];
        history.push({ type: "user", text });
      } else history.push({ type: "model", response: [m.content] });
    }
    return history;
  }

  async generate(
    p: Params<"engine/generate">,
    signal: AbortSignal,
    sendChunk: (text: string) => void,
  ): Promise<Result<"engine/generate">> {
    const open = this.getContext(p.contextId);
    assertNonEmpty(p.messages);
    const started = performance.now();
    const prompt = this.formatPrompt(open.modelId, p.messages).tokens;
    const promptTokens = prompt.length;
    const room = open.context.contextSize - promptTokens;
    if (room < 1) throw promptTooLong(promptTokens, open.context.contextSize);
    const prefix = p.sharedPrefix && this.prefixes.tokens(open.modelId, p.messages, p.sharedPrefix, prompt);
    const sequence = await this.acquireSequence(open, signal, prefix);
    const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: this.getModel(open.modelId).chatWrapper });
    const batcher = new ChunkBatcher(sendChunk);
    let firstTokenAt: number | undefined;
    let firstChunkAt: number | undefined;
    let generated = 0;
    try {
      // Fresh state per request — or just the shared prefix, evaluated alone either way (SharedPrefixes): reusing
      // another prompt's KV state as it happens to be would make results depend on history.
      const reused = await this.prefixes.prepare(sequence, prefix);
      const history = [
        ...this.toHistory(this.getModel(open.modelId), p.messages),
        { type: "model", response: [] } as ChatHistoryItem,
      ];
      const response = await chat.generateResponse(history, {
        signal,
        stopOnAbortSignal: false,
        maxTokens: Math.min(p.maxTokens, room),
        temperature: p.temperature,
        seed: p.seed,
        topK: p.topK,
        topP: p.topP,
        // A zero thought budget makes node-llama-cpp close a thought segment as soon as the model opens one.
        budgets: p.thoughts === "discourage" ? { thoughtTokens: 0 } : undefined,
        // node-llama-cpp holds back text that may start a trigger, so neither chunks nor `response` contain it.
        customStopTriggers: p.stop?.length ? p.stop : undefined,
        onToken: (tokens) => {
          firstTokenAt ??= performance.now();
          generated += tokens.length;
        },
        onTextChunk: (text) => {
          firstChunkAt ??= performance.now();
          batcher.push(text);
        },
      });
      batcher.flush();
      const end = performance.now();
      const decodeMs = firstTokenAt === undefined ? 0 : end - firstTokenAt;
      const stop = response.metadata.stopReason;
      return {
        // `response` excludes thought segments (`fullResponse` has them).
        text: response.response,
        stopReason:
          stop === "eogToken" ||
          stop === "stopGenerationTrigger" ||
          stop === "customStopTrigger" ||
          stop === "maxTokens" ||
          stop === "abort"
            ? stop
            : "other",
        timings: {
          promptTokens,
          promptMs: (firstTokenAt ?? end) - started,
          timeToFirstTokenMs: (firstChunkAt ?? end) - started,
          generatedTokens: generated,
          tokensPerSecond: generated > 1 && decodeMs > 0 ? ((generated - 1) * 1000) / decodeMs : 0,
          totalMs: end - started,
          ...(reused && prefix ? { cachedPromptTokens: prefix.length } : {}),
        },
      };
    } catch (err) {
      batcher.flush();
      if (signal.aborted) throw new AppError("engine/cancelled", "Generation was cancelled.");
      throw err instanceof AppError
        ? err
        : new AppError("engine/generationFailed", `Generation failed: ${String(err)}`);
    } finally {
      chat.dispose({ disposeSequence: false });
      this.releaseSequence(open, sequence);
    }
  }

  countTokens(modelId: string, text: string): number {
    return this.getModel(modelId).model.tokenize(text, false).length;
  }

  async embed(p: Params<"engine/embed">): Promise<Result<"engine/embed">> {
    const loaded = this.getModel(p.modelId);
    const started = performance.now();
    let tokens: Token[];
    if ("messages" in p.input) {
      assertNonEmpty(p.input.messages);
      tokens = this.formatPrompt(p.modelId, p.input.messages).tokens;
    } else {
      if (!p.input.text.trim()) throw new AppError("engine/emptyPrompt", "The text to embed is empty.");
      tokens = loaded.model.tokenize(p.input.text, false);
    }
    const contextSize = embeddingContextSize(loaded.info);
    if (tokens.length >= contextSize) throw promptTooLong(tokens.length, contextSize);
    loaded.embedding ??= loaded.model.createEmbeddingContext({ contextSize, threads: this.llamaThreads });
    const context = await loaded.embedding;
    const embedding = await context.getEmbeddingFor(tokens);
    return { embedding: [...embedding.vector], tokens: tokens.length, ms: performance.now() - started };
  }

  /**
   * The last hidden state of a feature-head model, decoded from its softmax: a top-k → temperature 1 chain hands
   * back the `n_embd + 1` largest logits, which hold every value of the state (docs/engine.md §8).
   */
  async featureHead(p: Params<"engine/featureHead">, signal: AbortSignal): Promise<Result<"engine/featureHead">> {
    const open = this.getContext(p.contextId);
    assertNonEmpty(p.messages);
    const started = performance.now();
    const nEmbd = this.getModel(open.modelId).info.embeddingSize;
    const tokens = this.formatPrompt(open.modelId, p.messages).tokens;
    if (tokens.length > open.context.contextSize) throw promptTooLong(tokens.length, open.context.contextSize);
    const sequence = await this.acquireSequence(open, signal);
    const last = tokens.length - 1;
    const options = { temperature: 1, topK: nEmbd + 1, topP: 1, minP: 0, seed: 0 };
    try {
      await this.prefixes.prepare(sequence, undefined);
      const items = tokens.map((token, i) =>
        i === last ? ([token, { generateNext: { probabilities: true, options } }] as const) : token,
      );
      const results = await sequence.controlledEvaluate(
        items as Parameters<LlamaContextSequence["controlledEvaluate"]>[0],
      );
      if (signal.aborted) throw abortError(signal);
      const top = new Map<number, number>();
      for (const [token, probability] of results[last]?.next.probabilities ?? []) {
        top.set(token, Math.log(Math.max(probability, Number.MIN_VALUE)));
      }
      const embedding = decodeFeatureHead(nEmbd, top);
      if (!embedding) {
        throw new AppError(
          "engine/notFeatureHead",
          `The model of context ${p.contextId} has no feature head: its logits are not a hidden state.`,
          { contextId: p.contextId },
        );
      }
      return { embedding, tokens: tokens.length, ms: performance.now() - started };
    } finally {
      this.releaseSequence(open, sequence);
    }
  }

  async logLikelihood(p: Params<"engine/logLikelihood">, signal: AbortSignal): Promise<Result<"engine/logLikelihood">> {
    const open = this.getContext(p.contextId);
    assertNonEmpty(p.messages);
    const started = performance.now();
    const model = this.getModel(open.modelId).model;
    const prompt = this.formatPrompt(open.modelId, p.messages).tokens;
    const answer = model.tokenize(p.answer, false);
    if (answer.length === 0) throw new AppError("engine/emptyPrompt", "The answer to score is empty.");
    const all = [...prompt, ...answer];
    if (all.length > open.context.contextSize) throw promptTooLong(all.length, open.context.contextSize);
    const sequence = await this.acquireSequence(open, signal);
    try {
      await this.prefixes.prepare(sequence, undefined);
      // Log-likelihoods need the raw softmax, which node-llama-cpp gives at temperature 0 (docs/engine.md §7).
      const firstScored = prompt.length - 1;
      const items = all.map((token, i) =>
        i >= firstScored && i < all.length - 1
          ? ([token, { generateNext: { probabilities: true, options: { temperature: 0 } } }] as const)
          : token,
      );
      const results = await sequence.controlledEvaluate(
        items as Parameters<LlamaContextSequence["controlledEvaluate"]>[0],
      );
      let sum = 0;
      for (let i = firstScored; i < all.length - 1; i++) {
        const probability = results[i]?.next.probabilities?.get(all[i + 1]!) ?? 0;
        sum += Math.log(Math.max(probability, Number.MIN_VALUE));
      }
      return {
        logLikelihood: sum,
        answerTokens: answer.length,
        promptTokens: prompt.length,
        ms: performance.now() - started,
      };
    } finally {
      this.releaseSequence(open, sequence);
    }
  }

  /**
   * The teacher's top-k log-probabilities at every answer position, forced through `answer`'s tokens.
   *
   * Asking node-llama-cpp for `probabilities` at temperature 0 returns the whole vocabulary per position, fully
   * sorted and revived into a JS Map: ~150 ms and ~14 MB of heap per position with a 151k vocabulary. Instead each
   * position is sampled through a top-k → temperature 1 chain, so llama.cpp partially sorts natively and hands
   * back only k entries. Their probabilities are softmax over the k logits, i.e. `log p = z − lse(z[top-k])`: the
   * logits minus a per-row constant, which is all the trainer's renormalised top-k KL needs. The logits buffer
   * llama.cpp keeps is one batch of rows, so memory does not grow with the answer's length.
   */
  async scoreTopK(p: Params<"engine/scoreTopK">, signal: AbortSignal): Promise<Result<"engine/scoreTopK">> {
    const open = this.getContext(p.contextId);
    assertNonEmpty(p.messages);
    const { tokens, answerStart } = this.formatPrompt(open.modelId, p.messages, p.answer);
    if (tokens.length > open.context.contextSize) throw promptTooLong(tokens.length, open.context.contextSize);
    const sequence = await this.acquireSequence(open, signal);
    const first = answerStart - 1;
    const rows: Array<{ ids: number[]; logp: number[] }> = [];
    // topP 1 and minP 0 keep every one of the k candidates; the seed only feeds the unused final draw.
    const options = { temperature: 1, topK: p.k, topP: 1, minP: 0, seed: 0 };
    try {
      await this.prefixes.prepare(sequence, undefined);
      // Position i predicts token i + 1: rows come from answerStart − 1 … tokens.length − 2.
      const items = tokens.map((token, i) =>
        i >= first && i < tokens.length - 1
          ? ([token, { generateNext: { probabilities: true, options } }] as const)
          : token,
      );
      await sequence.controlledEvaluate(items as Parameters<LlamaContextSequence["controlledEvaluate"]>[0], {
        // Rows are taken as each batch is decoded, so no result array holds them all.
        onTokenResult: (index, result) => {
          const ids: number[] = [];
          const logp: number[] = [];
          // node-llama-cpp's map is sorted by probability, highest first.
          for (const [token, probability] of result.next.probabilities ?? []) {
            ids.push(token);
            logp.push(Math.log(Math.max(probability, Number.MIN_VALUE)));
          }
          rows[index - first] = { ids, logp };
        },
      });
      if (signal.aborted) throw abortError(signal);
      return { tokens, answerStart, rows };
    } finally {
      this.releaseSequence(open, sequence);
    }
  }

  async dispose(): Promise<void> {
    for (const id of [...this.models.keys()]) await this.unloadModel(id).catch(() => undefined);
    await this.llama?.dispose();
    this.llama = undefined;
  }

  private async getLlama(gpu: GpuChoice, threads: number): Promise<Llama> {
    if (this.llama) {
      if (gpu !== this.llamaGpu && gpu !== "auto") {
        throw new AppError(
          "engine/gpuMismatch",
          `The engine already runs with gpu=${String(this.llamaGpu)}; restart the engine to use gpu=${gpu}.`,
        );
      }
      return this.llama;
    }
    const mark = this.logs.mark;
    try {
      this.llama = await getLlama({
        gpu: gpu === "false" ? false : gpu,
        build: "never",
        // node-llama-cpp's default (4 threads on 2 cores) thrashes; the host always sends the core count.
        maxThreads: threads,
        logLevel: LlamaLogLevel.info,
        logger: (level, message) => {
          const line = this.logs.push(String(level), message);
          if (level === LlamaLogLevel.error || level === LlamaLogLevel.warn) this.output.log(line.level, line.text);
        },
      });
    } catch (err) {
      const lines = await this.logs.linesSince(mark, 0);
      throw new AppError(
        "engine/gpuUnavailable",
        `Cannot start llama.cpp with gpu=${gpu}: ${String((err as Error)?.message ?? err)}`,
        {
          log: lines.map((l) => l.text),
        },
      );
    }
    // node-llama-cpp falls back to the CPU when the requested backend cannot load; an explicit choice must not
    // silently run 10–100× slower than the user asked for.
    if (gpu !== "auto" && gpu !== "false" && this.llama.gpu !== gpu) {
      const got = this.llama.gpu === false ? "the CPU" : this.llama.gpu;
      await this.llama.dispose();
      this.llama = undefined;
      throw new AppError(
        "engine/gpuUnavailable",
        `The ${gpu} backend is not available on this machine (llama.cpp loaded ${got}). Choose gpu "auto" or "false".`,
      );
    }
    this.llamaGpu = gpu;
    this.llamaThreads = threads;
    return this.llama;
  }

  private getModel(modelId: string): LoadedModel {
    const loaded = this.models.get(modelId);
    if (!loaded) throw new AppError("engine/unknownModel", `No model "${modelId}" is loaded in this engine.`);
    return loaded;
  }

  private getContext(contextId: string): OpenContext {
    const open = this.contexts.get(contextId);
    if (!open) throw new AppError("engine/unknownContext", `No context "${contextId}" exists in this engine.`);
    return open;
  }

  /** A free sequence (one that holds `prefix` already, if any does), a new one, or the next to be released. */
  private acquireSequence(open: OpenContext, signal: AbortSignal, prefix?: Token[]): Promise<LlamaContextSequence> {
    const holder = this.prefixes.holderIndex(open.free, prefix);
    const free = holder >= 0 ? open.free.splice(holder, 1)[0] : open.free.pop();
    if (free) return Promise.resolve(free);
    if (open.created < open.context.totalSequences) {
      open.created++;
      return Promise.resolve(open.context.getSequence());
    }
    return new Promise((resolve, reject) => {
      const waiter = (sequence: LlamaContextSequence): void => {
        signal.removeEventListener("abort", onAbort);
        resolve(sequence);
      };
      const onAbort = (): void => {
        open.waiters.splice(open.waiters.indexOf(waiter), 1);
        reject(abortError(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      open.waiters.push(waiter);
    });
  }

  private releaseSequence(open: OpenContext, sequence: LlamaContextSequence): void {
    const waiter = open.waiters.shift();
    if (waiter) waiter(sequence);
    else open.free.push(sequence);
  }
}

/** Gate features need only the prompt, so a bounded context keeps the embedding context's memory small. */
function embeddingContextSize(info: ModelInfo): number {
  return Math.min(info.contextLength || 4096, 4096);
}

function assertNonEmpty(messages: ChatMessage[]): void {
  const last = messages[messages.length - 1];
  if (!last || last.content.trim().length === 0) {
    throw new AppError("engine/emptyPrompt", "The prompt is empty: the last user message has no text.");
  }
}

function promptTooLong(tokens: number, contextSize: number): AppError {
  return new AppError(
    "engine/promptTooLong",
    `The prompt is ${tokens} tokens long, which does not fit the context of ${contextSize} tokens.`,
    { tokens, contextSize },
  );
}

function countVocab(model: LlamaModel, tokens: unknown[] | undefined): number {
  if (Array.isArray(tokens)) return tokens.length;
  let n = 0;
  for (const _ of model.iterateAllTokens()) n++;
  return n;
}

/** The metadata override that switches a model to mean pooling; the key is the model's architecture. */
async function meanPoolingOverride(path: string): Promise<Record<string, { pooling_type: number }>> {
  const info = await readGgufFileInfo(path, { readTensorInfo: false });
  return { [String(info.metadata.general.architecture)]: { pooling_type: 1 } };
}

/** How GGUF reader codes read for a model or an adapter. */
const GGUF_CODES: Record<"model" | "adapter", Partial<Record<ErrorCode, ErrorCode>>> = {
  model: {
    "gguf/notFound": "engine/modelNotFound",
    "gguf/notGguf": "engine/notGguf",
    "gguf/unsupportedVersion": "engine/notGguf",
    "gguf/truncated": "engine/truncatedGguf",
    "gguf/invalid": "engine/corruptGguf",
  },
  adapter: {
    "gguf/notFound": "engine/adapterNotFound",
    "gguf/notGguf": "engine/notAnAdapter",
    "gguf/unsupportedVersion": "engine/notAnAdapter",
    "gguf/truncated": "engine/adapterLoadFailed",
    "gguf/invalid": "engine/adapterLoadFailed",
  },
};

/**
 * Validates a GGUF with our own bounds-checked reader before llama.cpp sees it: llama.cpp reports a missing or
 * foreign file only as a generic failure, and node-llama-cpp's own header parser loops for hours on absurd
 * counts (2^50 tensors) instead of failing. Returns the file size.
 */
async function checkGgufFile(path: string, what: "model" | "adapter"): Promise<number> {
  try {
    return (await readGguf(path)).fileSize;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const code =
      GGUF_CODES[what][err.code] ?? (what === "model" ? "engine/modelLoadFailed" : "engine/adapterLoadFailed");
    const reason =
      err.code === "gguf/notFound" ? "file not found" : err.code === "gguf/notGguf" ? "not a GGUF file" : "";
    throw new AppError(code, `Cannot load ${what} "${path}": ${reason ? `${reason}: ` : ""}${err.message}`);
  }
}
