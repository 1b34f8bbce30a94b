/**
 * A deterministic in-process engine for unit tests: it speaks the engine protocol's types and rules (validated
 * params with defaults, opaque handles, coded errors, cancellation, crashes that reject every pending request and
 * restart on the next one) without llama.cpp. Text, embeddings, log-likelihoods and teacher rows are derived from
 * a hash of the request, so a run is reproducible and a resumed run produces exactly what an uninterrupted one
 * would. What needs real numerics stays in test/model/.
 */
import { createHash } from "node:crypto";
import { basename } from "node:path";
import type { z } from "zod";
import type { EngineCallOptions, EngineClient, EngineState } from "../src/core/engine/EngineClient.js";
import { engineExitError } from "../src/core/engine/engineExitError.js";
import { AppError, abortError, type ErrorCode } from "../src/core/errors.js";
import { SeededRandom } from "../src/core/util/SeededRandom.js";
import {
  engineRequests,
  ENGINE_PROTOCOL_VERSION,
  type ChatMessage,
  type EngineRequests,
  type ModelInfo,
} from "../src/protocol/engineProtocol.js";
import type { ParamsOf, ResultOf } from "../src/protocol/envelope.js";
import { abortableSleep } from "./abortableSleep.js";
import { FAKE_TOKENS, formatFakeChat, fakeTokenize } from "./fakeChatTemplate.js";

/** An engine method name. */
export type EngineMethod = keyof EngineRequests & string;
type Params<M extends EngineMethod> = ParamsOf<EngineRequests, M>;
type Parsed<M extends EngineMethod> = z.output<(typeof engineRequests)[M]["params"]>;
type Result<M extends EngineMethod> = ResultOf<EngineRequests, M>;

/** One `engine/generate` as a scripted reply sees it. */
export interface FakeGenerateRequest {
  /** The system message, "" when there is none. */
  system: string;
  /** The last user message. */
  prompt: string;
  messages: ChatMessage[];
  /** The adapters of the context, with their scales (empty for a base context). */
  adapters: Array<{ path: string; scale: number }>;
  temperature: number;
  seed?: number;
  /** The model the context belongs to. */
  modelPath: string;
}

/** A scripted answer of `engine/generate`: the first reply whose matchers all match is used. */
export interface FakeReply {
  /** Matches the system message ("" when there is none); a string matches as a substring. Defaults to any. */
  system?: string | RegExp;
  /** Matches the last user message; a string matches as a substring. Defaults to any. */
  prompt?: string | RegExp;
  /** Matches contexts with (true) or without (false) an adapter. Defaults to either. */
  adapter?: boolean;
  /** The answer: one character is one token, so a text longer than `maxTokens` is cut (`maxTokens`). */
  text: string | ((request: FakeGenerateRequest) => string);
}

/** What a {@link FakeFault} does to the request it hits. */
export type FakeFaultEffect =
  /** The request fails with this coded error (as the engine would answer it); the engine lives on. */
  | { error: ErrorCode; message?: string; detail?: unknown }
  /**
   * The engine process dies while the request runs: every pending request rejects with `engine/crashed` (or
   * `engine/hung` when `hung`), exactly as `EngineProcess` reports it, and the next request starts a fresh engine
   * whose handles are new. Defaults: exit code 134, a `GGML_ASSERT` line in the log.
   */
  | { crash: { exitCode?: number | null; signal?: NodeJS.Signals | null; log?: string[]; hung?: boolean } }
  /** The request takes this much longer (cancellable). */
  | { delayMs: number };

/** A fault injected on cue. */
export interface FakeFault {
  /** The method it hits. Defaults to any. */
  method?: EngineMethod;
  /** A further condition on the (validated) params. Defaults to always. */
  when?(params: Record<string, unknown>): boolean;
  /** Matching requests let through before it fires. Defaults to 0. */
  skip?: number;
  /** How many matching requests it hits before it is spent. Defaults to 1. */
  times?: number;
  effect: FakeFaultEffect;
}

/** Options of {@link FakeEngine}. */
export interface FakeEngineOptions {
  /** What `engine/loadModel` reports (besides `modelId` and `path`). Defaults to a small ChatML model. */
  model?: Partial<Omit<ModelInfo, "modelId" | "path">>;
  /** Scripted answers of `engine/generate`, first match wins; anything else gets a hash-derived answer. */
  replies?: FakeReply[];
  /**
   * The embedding of one `engine/embed` or `engine/featureHead` input (the last user message, or the raw text);
   * undefined falls back to a hash-derived vector of `embeddingSize` values that depends on the model file and
   * pooling too.
   */
  embed?(input: string, model: ModelInfo): number[] | undefined;
  /** The log-likelihood of `answer` after `messages`. Defaults to a hash-derived value in (-2, -1] per token. */
  logLikelihood?(messages: ChatMessage[], answer: string): number | undefined;
  /** Simulated work per request in ms (cancellable), per method or for all. Defaults to 0. */
  latencyMs?: number | Partial<Record<EngineMethod, number>>;
  /**
   * Sees every request as it arrives, before it runs: a test's cue, e.g. to cancel a job at its fifth embedding.
   * A signal aborted here rejects the request at once, as it would on the wire.
   */
  onRequest?(call: FakeCall): void;
}

/** One request the fake received, with params as validated (defaults applied). */
export interface FakeCall {
  method: EngineMethod;
  params: Record<string, unknown>;
  /** The engine process generation that received it. */
  generation: number;
}

interface FakeModel {
  info: ModelInfo;
}
interface FakeContext {
  modelId: string;
  contextSize: number;
  adapters: Array<{ path: string; scale: number }>;
}
interface Pending {
  reject(err: unknown): void;
}

const DEFAULT_MODEL: Omit<ModelInfo, "modelId" | "path"> = {
  architecture: "llama",
  layers: 2,
  embeddingSize: 16,
  contextLength: 4096,
  vocabSize: FAKE_TOKENS.vocabSize,
  fileSize: 1,
  hasChatTemplate: true,
  chatWrapper: "ChatML",
  supportsSystemMessages: true,
  pooling: "last",
  typeDescription: "fake",
  gpu: false,
  gpuLayers: 0,
  threads: 1,
  loadMs: 0,
};

const WORDS =
  "amber basalt cedar delta ember fjord garnet harbor iris juniper kelp lagoon meadow nectar onyx prairie quartz river sierra tundra umber valley willow xenon yarrow zephyr".split(
    " ",
  );

/**
 * A deterministic {@link EngineClient}. Handles are never reused across engine generations (stricter than the real
 * engine, whose counters restart), so a stale handle after a crash fails with `engine/unknownContext` instead of
 * silently meaning another context.
 */
export class FakeEngine implements EngineClient {
  /** Every request received, in arrival order. */
  readonly calls: FakeCall[] = [];
  private currentState: EngineState = "idle";
  private generationCount = 0;
  private nextHandle = 1;
  private readonly models = new Map<string, FakeModel>();
  private readonly contexts = new Map<string, FakeContext>();
  private readonly pending = new Set<Pending>();
  private readonly faults: Array<FakeFault & { seen: number; hits: number }> = [];

  constructor(private readonly options: FakeEngineOptions = {}) {}

  get state(): EngineState {
    return this.currentState;
  }

  get generation(): number {
    return this.generationCount;
  }

  /** Requests received so far, of one method or all. */
  count(method?: EngineMethod): number {
    return method ? this.calls.filter((c) => c.method === method).length : this.calls.length;
  }

  /** Requests received but not yet settled. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Arms a fault; faults are checked in the order they were injected, the first matching one fires. */
  inject(fault: FakeFault): this {
    this.faults.push({ ...fault, seen: 0, hits: 0 });
    return this;
  }

  /** Kills the engine now (see {@link FakeFaultEffect} `crash`), e.g. from a progress callback. */
  crash(how: Extract<FakeFaultEffect, { crash: unknown }>["crash"] = {}): AppError {
    const signal = how.signal ?? null;
    const error = engineExitError({
      code: signal ? null : how.exitCode === undefined ? 134 : how.exitCode,
      signal,
      log: how.log ?? ["llama.cpp/ggml/src/ggml.c:1234: GGML_ASSERT(n_tokens <= n_batch) failed"],
      wasReady: true,
      hung: how.hung === true,
    });
    for (const p of [...this.pending]) p.reject(error);
    this.pending.clear();
    this.models.clear();
    this.contexts.clear();
    this.currentState = "crashed";
    return error;
  }

  /** Stops the engine for good; later requests fail with `engine/stopped` (as `EngineProcess.dispose`). */
  dispose(): void {
    for (const p of [...this.pending]) p.reject(new AppError("engine/stopped", "The engine was stopped."));
    this.pending.clear();
    this.currentState = "disposed";
  }

  request<M extends EngineMethod>(method: M, params: Params<M>, options: EngineCallOptions = {}): Promise<Result<M>> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.currentState === "disposed") {
      return Promise.reject(new AppError("engine/stopped", "The engine has been disposed."));
    }
    if (this.currentState !== "ready") this.start();
    const parsed = engineRequests[method].params.safeParse(params);
    if (!parsed.success) {
      // What the engine's Messenger answers (invalidParamsCode in src/engine/main.ts).
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
      return Promise.reject(
        new AppError(
          "engine/invalidOptions",
          `Invalid parameters for ${method}${where}: ${issue?.message ?? "invalid"}.`,
        ),
      );
    }
    const call: FakeCall = { method, params: parsed.data as Record<string, unknown>, generation: this.generation };
    this.calls.push(call);
    this.options.onRequest?.(call);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<Result<M>>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        this.pending.delete(entry);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const entry: Pending = { reject: (err) => settle(() => reject(err)) };
      const onAbort = (): void => settle(() => reject(abortError(signal!)));
      this.pending.add(entry);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.handle(method, parsed.data as Parsed<M>, call.generation, options).then(
        (result) => settle(() => resolve(result)),
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }

  /** A fresh engine process: a new generation, no models, no contexts. */
  private start(): void {
    this.generationCount++;
    this.models.clear();
    this.contexts.clear();
    this.currentState = "ready";
  }

  private async handle<M extends EngineMethod>(
    method: M,
    params: Parsed<M>,
    generation: number,
    options: EngineCallOptions,
  ): Promise<Result<M>> {
    const fault = this.nextFault(method, params as Record<string, unknown>);
    if (fault && "crash" in fault) throw this.crash(fault.crash);
    if (fault && "error" in fault) {
      throw new AppError(fault.error, fault.message ?? `Injected ${fault.error} on ${method}.`, fault.detail);
    }
    const latency =
      typeof this.options.latencyMs === "number" ? this.options.latencyMs : this.options.latencyMs?.[method];
    const delay = (latency ?? 0) + (fault && "delayMs" in fault ? fault.delayMs : 0);
    if (delay > 0) await abortableSleep(delay, options.signal);
    // A request the engine died under was already rejected; its result no longer exists.
    if (generation !== this.generation || this.currentState !== "ready") {
      throw new AppError("engine/stopped", "The engine process is not running.");
    }
    return this.answer(method, params, options) as Result<M>;
  }

  private nextFault(method: EngineMethod, params: Record<string, unknown>): FakeFaultEffect | undefined {
    for (const f of this.faults) {
      if (f.method && f.method !== method) continue;
      if (f.when && !f.when(params)) continue;
      if (f.hits >= (f.times ?? 1)) continue;
      if (f.seen++ < (f.skip ?? 0)) continue;
      f.hits++;
      return f.effect;
    }
    return undefined;
  }

  private answer(method: EngineMethod, params: unknown, options: EngineCallOptions): unknown {
    switch (method) {
      case "engine/status":
        return {
          pid: 4242,
          protocolVersion: ENGINE_PROTOCOL_VERSION,
          llamaCppRelease: "fake",
          gpu: false,
          models: this.models.size,
          contexts: this.contexts.size,
        } satisfies Result<"engine/status">;
      case "engine/loadModel":
        return this.loadModel(params as Parsed<"engine/loadModel">);
      case "engine/unloadModel": {
        const { modelId } = params as Parsed<"engine/unloadModel">;
        this.getModel(modelId);
        for (const [id, c] of this.contexts) if (c.modelId === modelId) this.contexts.delete(id);
        this.models.delete(modelId);
        return {};
      }
      case "engine/createContext":
        return this.createContext(params as Parsed<"engine/createContext">);
      case "engine/disposeContext":
        this.getContext((params as Parsed<"engine/disposeContext">).contextId);
        this.contexts.delete((params as Parsed<"engine/disposeContext">).contextId);
        return {};
      case "engine/generate":
        return this.generate(params as Parsed<"engine/generate">, options);
      case "engine/embed":
        return this.embed(params as Parsed<"engine/embed">);
      case "engine/featureHead":
        return this.featureHead(params as Parsed<"engine/featureHead">);
      case "engine/logLikelihood":
        return this.logLikelihood(params as Parsed<"engine/logLikelihood">);
      case "engine/formatPrompt": {
        const p = params as Parsed<"engine/formatPrompt">;
        return formatFakeChat(p.messages, this.getModel(p.modelId).info.supportsSystemMessages, p.answer);
      }
      case "engine/scoreTopK":
        return this.scoreTopK(params as Parsed<"engine/scoreTopK">);
      case "engine/countTokens": {
        const p = params as Parsed<"engine/countTokens">;
        this.getModel(p.modelId);
        return { tokens: fakeTokenize(p.text).length };
      }
      case "engine/download":
        // Tests never download (CONTRIBUTING.md §1): the fake behaves like an engine without a network.
        throw new AppError("engine/downloadFailed", `Cannot download ${(params as { uri: string }).uri}: offline.`);
      case "engine/shutdown":
        this.models.clear();
        this.contexts.clear();
        this.currentState = "idle";
        return {};
    }
    throw new AppError("protocol/unknownMethod", `Unknown method "${String(method)}".`);
  }

  private loadModel(p: Parsed<"engine/loadModel">): ModelInfo {
    const info: ModelInfo = {
      ...DEFAULT_MODEL,
      ...this.options.model,
      pooling: p.pooling,
      threads: p.threads,
      modelId: `m${this.nextHandle++}`,
      path: p.modelPath,
    };
    this.models.set(info.modelId, { info });
    return info;
  }

  private createContext(p: Parsed<"engine/createContext">): Result<"engine/createContext"> {
    const { info } = this.getModel(p.modelId);
    const contextSize = Math.min(p.contextSize, info.contextLength || p.contextSize);
    const contextId = `c${this.nextHandle++}`;
    this.contexts.set(contextId, {
      modelId: p.modelId,
      contextSize,
      adapters: p.adapters.map((a) => ({ path: a.path, scale: a.scale })),
    });
    return { contextId, contextSize, sequences: p.sequences, loadMs: 0 };
  }

  private generate(p: Parsed<"engine/generate">, options: EngineCallOptions): Result<"engine/generate"> {
    const context = this.getContext(p.contextId);
    const model = this.getModel(context.modelId).info;
    const prompt = p.messages.at(-1)!.content;
    if (prompt.trim().length === 0) {
      throw new AppError("engine/emptyPrompt", "The prompt is empty: the last user message has no text.");
    }
    const promptTokens = formatFakeChat(p.messages, model.supportsSystemMessages).tokens.length;
    const room = context.contextSize - promptTokens;
    if (room < 1) {
      throw new AppError(
        "engine/promptTooLong",
        `The prompt is ${promptTokens} tokens long, which does not fit the context of ${context.contextSize} tokens.`,
        { tokens: promptTokens, contextSize: context.contextSize },
      );
    }
    const request: FakeGenerateRequest = {
      system: p.messages.find((m) => m.role === "system")?.content ?? "",
      prompt,
      messages: p.messages,
      adapters: context.adapters,
      temperature: p.temperature,
      seed: p.seed,
      modelPath: model.path,
    };
    const full = this.replyText(request);
    const limit = Math.min(p.maxTokens, room);
    const chars = [...full];
    let cut = chars.length > limit;
    let text = cut ? chars.slice(0, limit).join("") : full;
    // A stop string ends the answer where it first appears, and is not part of it (as in LlamaEngine).
    const stopAt = Math.min(...(p.stop ?? []).map((s) => text.indexOf(s)).filter((i) => i >= 0));
    const stopped = Number.isFinite(stopAt);
    if (stopped) {
      text = text.slice(0, stopAt);
      cut = false;
    }
    // Streamed as the engine batches it: a few pieces, then the result.
    for (let i = 0; i < text.length; i += 16) options.onChunk?.(text.slice(i, i + 16));
    const generated = stopped ? [...text].length : Math.min(chars.length, limit);
    return {
      text,
      stopReason: stopped ? "customStopTrigger" : cut ? "maxTokens" : "eogToken",
      timings: {
        promptTokens,
        promptMs: 0,
        timeToFirstTokenMs: 0,
        generatedTokens: generated,
        tokensPerSecond: 0,
        totalMs: 0,
      },
    };
  }

  private replyText(r: FakeGenerateRequest): string {
    const adapter = r.adapters.some((a) => a.scale !== 0);
    for (const reply of this.options.replies ?? []) {
      if (reply.system !== undefined && !matches(reply.system, r.system)) continue;
      if (reply.prompt !== undefined && !matches(reply.prompt, r.prompt)) continue;
      if (reply.adapter !== undefined && reply.adapter !== adapter) continue;
      return typeof reply.text === "string" ? reply.text : reply.text(r);
    }
    // Sampling depends on the seed; greedy decoding does not.
    const rng = seeded(
      "generate",
      fileOf(r.modelPath),
      r.messages,
      adapterFiles(r.adapters),
      r.temperature > 0 ? (r.seed ?? 0) : null,
    );
    const words = Array.from({ length: 6 + rng.int(12) }, () => WORDS[rng.int(WORDS.length)]!);
    const sentence = words.join(" ");
    return `${sentence[0]!.toUpperCase()}${sentence.slice(1)}.`;
  }

  private embed(p: Parsed<"engine/embed">): Result<"engine/embed"> {
    return this.hiddenState(this.getModel(p.modelId).info, p.input);
  }

  /** `engine/embed` read through a feature head: the same state of the context's model. */
  private featureHead(p: Parsed<"engine/featureHead">): Result<"engine/featureHead"> {
    return this.hiddenState(this.getModel(this.getContext(p.contextId).modelId).info, { messages: p.messages });
  }

  private hiddenState(info: ModelInfo, input: Parsed<"engine/embed">["input"]): Result<"engine/embed"> {
    const formatted =
      "text" in input ? fakeTokenize(input.text) : formatFakeChat(input.messages, info.supportsSystemMessages).tokens;
    const scripted = this.options.embed?.("text" in input ? input.text : input.messages.at(-1)!.content, info);
    if (scripted && scripted.length !== info.embeddingSize) {
      throw new Error(`FakeEngine embed returned ${scripted.length} values for a model of width ${info.embeddingSize}`);
    }
    const rng = seeded("embed", fileOf(info.path), info.pooling, formatted);
    const embedding = scripted ?? Array.from({ length: info.embeddingSize }, () => rng.normal());
    return { embedding, tokens: formatted.length, ms: 0 };
  }

  private logLikelihood(p: Parsed<"engine/logLikelihood">): Result<"engine/logLikelihood"> {
    const context = this.getContext(p.contextId);
    const { info } = this.getModel(context.modelId);
    const f = formatFakeChat(p.messages, info.supportsSystemMessages, p.answer);
    const answerTokens = f.tokens.length - f.answerStart;
    const scripted = this.options.logLikelihood?.(p.messages, p.answer);
    const rng = seeded("logLikelihood", fileOf(info.path), p.messages, p.answer, adapterFiles(context.adapters));
    let sum = 0;
    for (let i = 0; i < answerTokens; i++) sum -= 1 + rng.float();
    return { logLikelihood: scripted ?? sum, answerTokens, promptTokens: f.answerStart, ms: 0 };
  }

  /** Top-k rows of a teacher-forced answer: the rows depend on the prompt (the persona), the tokens do not. */
  private scoreTopK(p: Parsed<"engine/scoreTopK">): Result<"engine/scoreTopK"> {
    const context = this.getContext(p.contextId);
    const { info } = this.getModel(context.modelId);
    const f = formatFakeChat(p.messages, info.supportsSystemMessages, p.answer);
    const k = Math.min(p.k, info.vocabSize);
    // One hash per request, one stream per position: cheap at 64 × hundreds of rows, and still a function of the
    // prompt (the persona changes every row) and the answer.
    const seed = seeded("scoreTopK", fileOf(info.path), p.messages, adapterFiles(context.adapters), p.answer).seed;
    const rows = f.tokens.slice(f.answerStart).map((token, position) => {
      const rng = new SeededRandom((seed + Math.imul(position + 1, 0x9e3779b1)) >>> 0);
      const ids = new Set<number>([token]);
      while (ids.size < k) ids.add(rng.int(info.vocabSize));
      const scored = [...ids].map((id) => ({ id, logit: id === token ? 2 + rng.normal() : rng.normal() }));
      scored.sort((a, b) => b.logit - a.logit || a.id - b.id);
      const max = scored[0]!.logit;
      const logZ = max + Math.log(scored.reduce((s, x) => s + Math.exp(x.logit - max), 0));
      return { ids: scored.map((x) => x.id), logp: scored.map((x) => x.logit - logZ) };
    });
    return { tokens: f.tokens, answerStart: f.answerStart, rows };
  }

  private getModel(modelId: string): FakeModel {
    const model = this.models.get(modelId);
    if (!model) throw new AppError("engine/unknownModel", `No model "${modelId}" is loaded in this engine.`);
    return model;
  }

  private getContext(contextId: string): FakeContext {
    const context = this.contexts.get(contextId);
    if (!context) throw new AppError("engine/unknownContext", `No context "${contextId}" exists in this engine.`);
    return context;
  }
}

function matches(pattern: string | RegExp, value: string): boolean {
  return typeof pattern === "string" ? value.includes(pattern) : pattern.test(value);
}

/**
 * Where a model or adapter lies does not change what it computes: hashes use the file name, so the same world in
 * two temporary directories gives the same numbers.
 */
function fileOf(path: string): string {
  return basename(path);
}

function adapterFiles(adapters: ReadonlyArray<{ path: string; scale: number }>): unknown[] {
  return adapters.map((a) => [fileOf(a.path), a.scale]);
}

/** A PRNG seeded by a hash of `parts`: the same request always draws the same numbers. */
function seeded(...parts: unknown[]): SeededRandom {
  const digest = createHash("sha256").update(JSON.stringify(parts)).digest();
  return new SeededRandom(digest.readUInt32LE(0));
}
