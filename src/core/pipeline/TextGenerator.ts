import type { ChatMessage, GpuChoice, SharedPrefix } from "../../protocol/engineProtocol.js";
import type { ModelSession } from "../engine/ModelSession.js";
import { stripThoughts } from "./stripThoughts.js";

/** Decoding settings of one generation. */
export interface GenerateSettings {
  temperature: number;
  maxTokens: number;
  seed: number;
  signal?: AbortSignal;
  /**
   * The part of the prompt that many calls share (a persona, the judge's instructions): a local engine evaluates it
   * once per sequence instead of once per call, with the same results (docs/engine.md §11). A server ignores it.
   */
  sharedPrefix?: SharedPrefix;
}

/** Why a generation stopped: the turn ended (`eogToken`), the token limit cut it (`maxTokens`), or anything else. */
export const GENERATION_STOPS = ["eogToken", "maxTokens", "other"] as const;
/** Why a generation stopped. */
export type GenerationStop = (typeof GENERATION_STOPS)[number];

/** One generation: its text (never with thoughts) and why it stopped. */
export interface GenerateResult {
  text: string;
  stop: GenerationStop;
}

/** The engine's `stopReason` as a {@link GenerationStop}; a template's stop text ends the turn like an end token. */
export function toGenerationStop(stopReason: string): GenerationStop {
  if (stopReason === "eogToken" || stopReason === "stopGenerationTrigger") return "eogToken";
  return stopReason === "maxTokens" ? "maxTokens" : "other";
}

/**
 * Where stages 1–3 get their text from: the local engine by default, or an OpenAI-compatible server
 * (llama-server, vLLM) for users who outgrow one machine. Callers run up to `concurrency` calls at once. The text
 * never contains a thinking model's thoughts.
 */
export interface TextGenerator {
  readonly concurrency: number;
  /** A short description for job settings and reports, e.g. `local:/models/qwen.gguf`. */
  readonly description: string;
  generate(messages: ChatMessage[], settings: GenerateSettings): Promise<GenerateResult>;
}

/** Options of {@link EngineGenerator}. */
export interface EngineGeneratorOptions {
  session: ModelSession;
  contextSize: number;
  threads: number;
  /** Parallel sequences of one context: several generations share each batch. Defaults to 4. */
  sequences?: number;
  gpu?: GpuChoice;
  /**
   * Whether a thinking model may think before it answers. The pipeline wants answers, queries and verdicts, not
   * thoughts, within token limits sized for them. Defaults to `discourage`.
   */
  thoughts?: "allow" | "discourage";
}

/** The session key of the local generator's context, shared with the cost calibration (`measureRates`). */
export function generatorContextKey(sequences: number): string {
  return `generator-${sequences}`;
}

/**
 * Generates with the local engine: one context with several sequences, so that concurrent calls are
 * evaluated in the same batches (docs/method.md §7: hundreds of queries × two answers × two judge passes).
 */
export class EngineGenerator implements TextGenerator {
  readonly concurrency: number;

  constructor(private readonly options: EngineGeneratorOptions) {
    this.concurrency = options.sequences ?? 4;
  }

  get description(): string {
    return `local:${this.options.session.load.modelPath}`;
  }

  async generate(messages: ChatMessage[], settings: GenerateSettings): Promise<GenerateResult> {
    const { session, contextSize, threads } = this.options;
    const contextId = await session.context(
      generatorContextKey(this.concurrency),
      // node-llama-cpp gives each sequence its own `contextSize` cells.
      { contextSize, sequences: this.concurrency, threads },
      settings.signal,
    );
    const r = await session.engine.request(
      "engine/generate",
      {
        contextId,
        messages,
        temperature: settings.temperature,
        maxTokens: settings.maxTokens,
        seed: settings.seed,
        thoughts: this.options.thoughts ?? "discourage",
        sharedPrefix: settings.sharedPrefix,
      },
      { signal: settings.signal },
    );
    return { text: withoutThoughts(r.text), stop: toGenerationStop(r.stopReason) };
  }
}

/**
 * Text without thoughts, for templates whose thought markup the engine does not recognise as such and for remote
 * servers that return it inline; unchanged when there were none.
 */
export function withoutThoughts(text: string): string {
  const stripped = stripThoughts(text);
  return stripped === text ? text : stripped.trimStart();
}
