import type { ChatMessage, GenerationTimings } from "../../protocol/engineProtocol.js";

/** Sampling and stopping for one answer, as an OpenAI-style request states them. */
export interface ChatBackendRequest {
  /** The conversation, ending with a user turn (the caller puts any system prompt first). */
  messages: ChatMessage[];
  /** PRISM adapter scale: 0 = the base model, 1 = base + adapter, between = soft routing. */
  adapterScale: number;
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  /** Strings that end the answer; none of them is part of the returned text. */
  stop?: string[];
  signal?: AbortSignal;
  /** Streamed text, in order; their concatenation is the result's `text`. */
  onChunk?(text: string): void;
}

/** One generated answer. */
export interface ChatBackendResult {
  text: string;
  /** OpenAI's finish reasons: `stop` (end of turn or a stop string) or `length` (maxTokens reached). */
  finishReason: "stop" | "length";
  timings: GenerationTimings;
}

/**
 * Where a routed request is generated: the local engine (base and adapter contexts over one model) or an
 * existing server such as llama.cpp's `llama-server` (the adapter selected per request by its `lora` field).
 * The gate always runs locally; a backend only generates.
 */
export interface ChatBackend {
  /** A short human-readable name for logs and `/v1/models` (`local engine`, `llama-server at http://…`). */
  readonly description: string;
  generate(request: ChatBackendRequest): Promise<ChatBackendResult>;
  dispose(): Promise<void>;
}
