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
    if (current && current.generation === this.engine.generation && this.engine.state === "ready") return current.info;
    const info = this.engine.request("engine/loadModel", this.load, { signal });
    const entry = { generation: -1, info };
    this.loaded = entry;
    this.contexts.clear();
    try {
      await info;
      entry.generation = this.engine.generation;
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
