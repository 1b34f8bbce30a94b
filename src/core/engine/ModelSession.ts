import type { EngineRequests, ModelInfo } from "../../protocol/engineProtocol.js";
import type { ParamsOf } from "../../protocol/envelope.js";
import type { EngineClient } from "./EngineClient.js";

type LoadParams = ParamsOf<EngineRequests, "engine/loadModel">;
type ContextParams = Omit<ParamsOf<EngineRequests, "engine/createContext">, "modelId">;

/**
 * A model and its contexts in the engine, re-created transparently when the engine process was replaced
 * (after a crash every handle of the old process is void): callers ask for handles each time they need one,
 * and get them from the current engine generation.
 */
export class ModelSession {
  private loaded?: { generation: number; info: Promise<ModelInfo> };
  private readonly contexts = new Map<string, { generation: number; id: Promise<string> }>();

  constructor(
    readonly engine: EngineClient,
    readonly load: LoadParams,
  ) {}

  /** The loaded model's info (loading it on first use or after an engine restart). */
  async model(signal?: AbortSignal): Promise<ModelInfo> {
    const current = this.loaded;
    // Loaded, or still loading, on the engine that runs now: concurrent callers (compare mode's two sides, a
    // generator's parallel sequences) share one load instead of each loading the model again.
    const live = this.engine.state === "ready" || this.engine.state === "starting";
    if (current && current.generation === this.engine.generation && live) return current.info;
    const info = this.engine.request("engine/loadModel", this.load, { signal });
    // The request has started the engine if it was not running, so this is the generation that answers it.
    const entry = { generation: this.engine.generation, info };
    this.loaded = entry;
    this.contexts.clear();
    try {
      await info;
    } catch (err) {
      if (this.loaded === entry) this.loaded = undefined;
      throw err;
    }
    return info;
  }

  /** A context created once per `key` (e.g. "base", "adapter") on the current engine generation. */
  async context(key: string, params: ContextParams, signal?: AbortSignal): Promise<string> {
    const { modelId } = await this.model(signal);
    const cached = this.contexts.get(key);
    if (cached && cached.generation === this.engine.generation) return cached.id;
    const id = this.engine.request("engine/createContext", { ...params, modelId }, { signal }).then((c) => c.contextId);
    const entry = { generation: this.engine.generation, id };
    this.contexts.set(key, entry);
    id.catch(() => {
      if (this.contexts.get(key) === entry) this.contexts.delete(key);
    });
    return id;
  }

  /** Disposes one keyed context (if it exists in the current engine). */
  async disposeContext(key: string): Promise<void> {
    const cached = this.contexts.get(key);
    this.contexts.delete(key);
    if (!cached || cached.generation !== this.engine.generation) return;
    const contextId = await cached.id.catch(() => undefined);
    if (contextId) await this.engine.request("engine/disposeContext", { contextId }).catch(() => undefined);
  }
}
