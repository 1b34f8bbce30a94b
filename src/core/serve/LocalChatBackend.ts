import type { ModelSession } from "../engine/ModelSession.js";
import type { ChatBackend, ChatBackendRequest, ChatBackendResult } from "./ChatBackend.js";

/** Options of {@link LocalChatBackend}. */
export interface LocalChatBackendOptions {
  /** The base model in the engine (the extension's or the CLI's). */
  session: ModelSession;
  /** The bundle's LoRA adapter. */
  adapterPath: string;
  /** Tokens per sequence of the serving contexts. */
  contextSize: number;
  threads: number;
  /**
   * Sequences per serving context: requests for the same side beyond this wait in the engine's queue for a free
   * sequence (docs/serve.md §5). Defaults to 1 (requests of one side run one after another).
   */
  parallel?: number;
}

/**
 * Generates in the local engine, the way `Router.generate` does: a base context for scale 0 and an adapter
 * context for scale 1, created once and shared by every request (each request gets a sequence of its own, so
 * concurrent answers never mix), and a short-lived context for a soft-routing scale in between.
 */
export class LocalChatBackend implements ChatBackend {
  readonly description = "local engine";

  constructor(private readonly options: LocalChatBackendOptions) {}

  /** Creates the base and adapter contexts now, so the first requests do not pay for them. */
  async prepare(signal?: AbortSignal): Promise<void> {
    await this.context(0, signal);
    await this.context(1, signal);
  }

  async generate(request: ChatBackendRequest): Promise<ChatBackendResult> {
    const { session } = this.options;
    const { signal, adapterScale: scale } = request;
    const { contextId, key, soft } = await this.context(scale, signal);
    try {
      const r = await session.engine.request(
        "engine/generate",
        {
          contextId,
          messages: request.messages,
          maxTokens: request.maxTokens,
          temperature: request.temperature,
          topP: request.topP,
          seed: request.seed,
          stop: request.stop?.length ? request.stop : undefined,
        },
        { signal, onChunk: request.onChunk },
      );
      return { text: r.text, finishReason: r.stopReason === "maxTokens" ? "length" : "stop", timings: r.timings };
    } finally {
      if (soft) await session.disposeContext(key);
    }
  }

  private async context(
    scale: number,
    signal?: AbortSignal,
  ): Promise<{ contextId: string; key: string; soft: boolean }> {
    const { session, adapterPath, contextSize, threads } = this.options;
    const soft = scale !== 0 && scale !== 1;
    // Keys distinct from the router's ("base", "persona"): a serving context may have several sequences.
    const key = scale === 0 ? "serve-base" : scale === 1 ? "serve-persona" : `serve-soft-${crypto.randomUUID()}`;
    const contextId = await session.context(
      key,
      {
        contextSize,
        threads,
        sequences: soft ? 1 : (this.options.parallel ?? 1),
        adapters: scale === 0 ? [] : [{ path: adapterPath, scale }],
      },
      signal,
    );
    return { contextId, key, soft };
  }

  /** The serving contexts live in the session's engine, which their owner disposes. */
  async dispose(): Promise<void> {
    await Promise.all([
      this.options.session.disposeContext("serve-base"),
      this.options.session.disposeContext("serve-persona"),
    ]);
  }
}
