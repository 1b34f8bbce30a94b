import { abortableSleep } from "../../../testkit/abortableSleep.js";
import type { ChatBackend, ChatBackendRequest, ChatBackendResult } from "../../../src/core/serve/ChatBackend.js";
import type { ServeGate } from "../../../src/core/serve/createServeApp.js";
import type { GateDecision } from "../../../src/core/routing/Router.js";

/** A gate whose probability per first user turn is given (0.2 otherwise); it counts its calls. */
export class FakeGate implements ServeGate {
  readonly prompts: string[] = [];

  constructor(
    private readonly probabilities: Record<string, number> = {},
    private readonly threshold = 0.5,
  ) {}

  async decide(prompt: string): Promise<GateDecision> {
    this.prompts.push(prompt);
    const probability = this.probabilities[prompt] ?? 0.2;
    return {
      probability,
      threshold: this.threshold,
      decision: probability >= this.threshold ? "persona" : "base",
      featureMs: 3,
      gateMs: 0.1,
    };
  }
}

/** Options of {@link FakeBackend}. */
export interface FakeBackendOptions {
  /** Delay between streamed pieces (cancellable). Defaults to 0. */
  pieceDelayMs?: number;
  /** Throws this instead of answering. */
  error?: unknown;
}

/**
 * A backend whose answer names the last user message and the adapter scale (`answer to "<prompt>" at scale S`),
 * streamed in 4-character pieces, cut at `maxTokens` characters or the first stop string; it records every
 * request and whether its signal fired.
 */
export class FakeBackend implements ChatBackend {
  readonly description = "fake";
  readonly requests: ChatBackendRequest[] = [];
  readonly aborted: ChatBackendRequest[] = [];

  constructor(private readonly options: FakeBackendOptions = {}) {}

  static answer(prompt: string, scale: number): string {
    return `answer to "${prompt}" at scale ${scale}`;
  }

  async generate(request: ChatBackendRequest): Promise<ChatBackendResult> {
    this.requests.push(request);
    request.signal?.addEventListener("abort", () => this.aborted.push(request), { once: true });
    if (this.options.error) throw this.options.error;
    let text = FakeBackend.answer(request.messages.at(-1)!.content, request.adapterScale);
    let finishReason: ChatBackendResult["finishReason"] = "stop";
    const stopAt = Math.min(...(request.stop ?? []).map((s) => text.indexOf(s)).filter((i) => i >= 0));
    if (Number.isFinite(stopAt)) text = text.slice(0, stopAt);
    else if (text.length > request.maxTokens) {
      text = text.slice(0, request.maxTokens);
      finishReason = "length";
    }
    for (let i = 0; i < text.length; i += 4) {
      if (this.options.pieceDelayMs) await abortableSleep(this.options.pieceDelayMs, request.signal);
      request.signal?.throwIfAborted();
      request.onChunk?.(text.slice(i, i + 4));
    }
    return {
      text,
      finishReason,
      timings: {
        promptTokens: 7,
        promptMs: 1,
        timeToFirstTokenMs: 1,
        generatedTokens: text.length,
        tokensPerSecond: 100,
        totalMs: 2,
      },
    };
  }

  async dispose(): Promise<void> {}
}

/** The events of an SSE body (`data: …` blocks), JSON-parsed except `[DONE]`. */
export function parseSse(body: string): unknown[] {
  const events = body.split("\n\n").filter(Boolean);
  return events.map((e) => {
    if (!e.startsWith("data: ")) throw new Error(`not an SSE data event: ${JSON.stringify(e)}`);
    const data = e.slice("data: ".length);
    return data === "[DONE]" ? "[DONE]" : (JSON.parse(data) as unknown);
  });
}
