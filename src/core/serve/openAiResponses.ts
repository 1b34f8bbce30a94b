import type { GateDecision, Side } from "../routing/Router.js";
import type { ChatBackendResult } from "./ChatBackend.js";

/** The routing of one request, as the `prism` extension field and the `x-prism-route` header report it. */
export interface PrismRouteInfo {
  /** The gate's verdict (on the conversation's first user turn). */
  decision: Side;
  probability: number;
  threshold: number;
  /** The side that answered: the decision for `prism` (hard), forced by `prism-base` / `prism-persona`. */
  served: Side;
  /** The adapter scale the answer was generated with (soft routing: the probability). */
  scale: number;
  /** Milliseconds the gate's feature and MLP took when this conversation was first decided. */
  featureMs: number;
  gateMs: number;
}

/** What identifies one completion across its response or chunks. */
export interface CompletionIdentity {
  id: string;
  created: number;
  model: string;
}

/** The `prism` extension field of a completion or first chunk. */
export function routeInfo(gate: GateDecision, served: Side, scale: number): PrismRouteInfo {
  return {
    decision: gate.decision,
    probability: gate.probability,
    threshold: gate.threshold,
    served,
    scale,
    featureMs: gate.featureMs,
    gateMs: gate.gateMs,
  };
}

/** The `x-prism-route` header: `persona; p=0.8300; threshold=0.5; served=persona`. */
export function routeHeader(info: PrismRouteInfo): string {
  return `${info.decision}; p=${info.probability.toFixed(4)}; threshold=${info.threshold}; served=${info.served}`;
}

/** OpenAI's `usage` from the engine's timings. */
export function usage(result: Pick<ChatBackendResult, "timings">) {
  const { promptTokens, generatedTokens } = result.timings;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: generatedTokens,
    total_tokens: promptTokens + generatedTokens,
  };
}

/** A non-streaming answer: OpenAI's `chat.completion` object plus the `prism` field. */
export function completionBody(c: CompletionIdentity, result: ChatBackendResult, route: PrismRouteInfo) {
  return {
    id: c.id,
    object: "chat.completion" as const,
    created: c.created,
    model: c.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant" as const, content: result.text, refusal: null },
        logprobs: null,
        finish_reason: result.finishReason,
      },
    ],
    usage: usage(result),
    prism: route,
  };
}

/** One `chat.completion.chunk` of a stream. */
export function chunkBody(
  c: CompletionIdentity,
  delta: { role?: "assistant"; content?: string },
  finishReason: ChatBackendResult["finishReason"] | null,
  extra: Record<string, unknown> = {},
) {
  return {
    id: c.id,
    object: "chat.completion.chunk" as const,
    created: c.created,
    model: c.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...extra,
  };
}

/** The usage chunk OpenAI sends last when `stream_options.include_usage` is set: no choices, only usage. */
export function usageChunkBody(c: CompletionIdentity, result: ChatBackendResult) {
  return {
    id: c.id,
    object: "chat.completion.chunk" as const,
    created: c.created,
    model: c.model,
    choices: [],
    usage: usage(result),
  };
}

/** One server-sent event carrying JSON: `data: {...}\n\n` (JSON never contains a raw newline). */
export function sseEvent(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** The event that ends every stream. */
export const SSE_DONE = "data: [DONE]\n\n";
