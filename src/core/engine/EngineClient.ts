import type { EngineRequests } from "../../protocol/engineProtocol.js";
import type { ParamsOf, ResultOf } from "../../protocol/envelope.js";

/** Per-call options of {@link EngineClient.request}. */
export interface EngineCallOptions {
  /** Cancels the call: it rejects at once with the signal's reason and the engine aborts the work. */
  signal?: AbortSignal;
  /** Receives streamed text of `engine/generate`, batched by the engine. */
  onChunk?(text: string): void;
  /** Receives `engine/didDownloadProgress` of `engine/download`. */
  onDownloadProgress?(downloadedBytes: number, totalBytes: number): void;
}

/** State of the engine process as the host sees it. */
export type EngineState = "idle" | "starting" | "ready" | "crashed" | "disposed";

/**
 * What the core needs from an engine: typed requests. Implemented by `EngineProcess` (a real child process)
 * and by fakes in unit tests.
 */
export interface EngineClient {
  request<M extends keyof EngineRequests & string>(
    method: M,
    params: ParamsOf<EngineRequests, M>,
    options?: EngineCallOptions,
  ): Promise<ResultOf<EngineRequests, M>>;
  /**
   * Increments every time a new engine process starts. Handles (model and context ids) are valid only for the
   * generation that created them: after a crash they must be re-created.
   */
  readonly generation: number;
  readonly state: EngineState;
}
