import type { ChatMessage, GenerationTimings } from "../../protocol/engineProtocol.js";
import type { ModelSession } from "../engine/ModelSession.js";
import { AppError } from "../errors.js";
import type { FeatureExtractor } from "../features/FeatureExtractor.js";
import type { Gate } from "../gate/Gate.js";
import { studentMessages } from "../pipeline/studentPrompt.js";
import { RoutingLog, type RoutingRecord } from "./RoutingLog.js";

/** How a prompt is routed. `hard`: the paper (adapter iff p ≥ threshold); `soft`: adapter scale = p; `base` and
 * `persona` force a side; `compare` generates both concurrently and says which one PRISM serves. */
export type RouteMode = "hard" | "soft" | "base" | "persona" | "compare";
export const ROUTE_MODES: readonly RouteMode[] = ["hard", "soft", "base", "persona", "compare"];

/** A side of the comparison: the base model, or base + the PRISM adapter. */
export type Side = "base" | "persona";

/** The gate's verdict on one prompt. */
export interface GateDecision {
  probability: number;
  threshold: number;
  decision: Side;
  /** Milliseconds to compute the feature (engine) and to run the MLP. */
  featureMs: number;
  gateMs: number;
}

/** One generated answer. */
export interface SideOutput {
  text: string;
  stopReason: string;
  /** The adapter scale this side ran with (0 for the base). */
  scale: number;
  timings: GenerationTimings;
}

/** What {@link Router.route} returns. */
export interface RouteResult {
  mode: RouteMode;
  gate: GateDecision;
  served: Side;
  outputs: Partial<Record<Side, SideOutput>>;
  totalMs: number;
}

/** Per-call options of {@link Router.route}. */
export interface RouteOptions {
  mode?: RouteMode;
  signal?: AbortSignal;
  /** Streamed text per side. */
  onChunk?(side: Side, text: string): void;
  /** Called as soon as the gate has decided, before any text is generated. */
  onDecision?(decision: GateDecision): void;
  /**
   * The conversation to answer, ending with the prompt's user turn. The gate reads only `prompt` (the first
   * turn's decision is reused in multi-turn chats, docs/method.md §4). Defaults to the prompt alone.
   */
  messages?: ChatMessage[];
  /** A decision to reuse instead of running the gate (follow-up turns). */
  decision?: GateDecision;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
}

/** Options of {@link Router}. */
export interface RouterOptions {
  /** The base model in the engine. */
  session: ModelSession;
  adapterPath: string;
  gate: Gate;
  threshold: number;
  features: FeatureExtractor;
  contextSize: number;
  threads: number;
  /** Where routed prompts are recorded. Defaults to no log. */
  log?: RoutingLog;
}

/**
 * Routes prompts between the base model and base + PRISM adapter: computes the gate feature of the student
 * prompt, runs the gate, and generates in the base context or the adapter context (two contexts sharing the
 * model's weights), or both side by side. Every routed prompt is appended to the routing log.
 */
export class Router {
  constructor(private readonly options: RouterOptions) {}

  /** The gate's decision for a prompt, without generating. */
  async decide(prompt: string, signal?: AbortSignal): Promise<GateDecision> {
    const feature = await this.options.features.extract(prompt, signal);
    const started = performance.now();
    const probability = this.options.gate.predict(feature.vector);
    const gateMs = performance.now() - started;
    const { threshold } = this.options;
    return {
      probability,
      threshold,
      decision: probability >= threshold ? "persona" : "base",
      featureMs: feature.ms,
      gateMs,
    };
  }

  async route(prompt: string, options: RouteOptions = {}): Promise<RouteResult> {
    const mode = options.mode ?? "hard";
    if (!ROUTE_MODES.includes(mode))
      throw new AppError("routing/invalidMode", `Unknown routing mode "${String(mode)}".`);
    const started = performance.now();
    const { signal } = options;
    const gate = options.decision ?? (await this.decide(prompt, signal));
    options.onDecision?.(gate);

    const outputs: Partial<Record<Side, SideOutput>> = {};
    const run = async (side: Side, scale: number): Promise<void> => {
      outputs[side] = await this.generate(side, scale, prompt, options);
    };
    let served: Side;
    switch (mode) {
      case "hard":
        served = gate.decision;
        await run(served, served === "persona" ? 1 : 0);
        break;
      case "soft":
        // The paper's gate is hard; soft mode is ours: the adapter at scale p, served as "persona" when p > 0.
        served = gate.probability > 0 ? "persona" : "base";
        await run(served, served === "persona" ? gate.probability : 0);
        break;
      case "base":
      case "persona":
        served = mode;
        await run(served, served === "persona" ? 1 : 0);
        break;
      case "compare":
        served = gate.decision;
        await Promise.all([run("base", 0), run("persona", 1)]);
        break;
    }
    const result: RouteResult = { mode, gate, served, outputs, totalMs: performance.now() - started };
    await this.options.log?.append(toRecord(prompt, result));
    return result;
  }

  private async generate(side: Side, scale: number, prompt: string, options: RouteOptions): Promise<SideOutput> {
    const { session, adapterPath, contextSize, threads } = this.options;
    const { signal } = options;
    // Contexts are cached per adapter scale; a soft-mode scale gets a short-lived one (creation costs ~5 ms).
    const key = scale === 0 ? "base" : scale === 1 ? "persona" : `soft-${scale}`;
    const contextId = await session.context(
      key,
      { contextSize, threads, adapters: scale === 0 ? [] : [{ path: adapterPath, scale }] },
      signal,
    );
    try {
      const r = await session.engine.request(
        "engine/generate",
        {
          contextId,
          messages: options.messages ?? studentMessages(prompt),
          maxTokens: options.maxTokens ?? 512,
          temperature: options.temperature ?? 0,
          seed: options.seed,
        },
        { signal, onChunk: (text) => options.onChunk?.(side, text) },
      );
      return { text: r.text, stopReason: r.stopReason, scale, timings: r.timings };
    } finally {
      if (key.startsWith("soft-")) await session.disposeContext(key);
    }
  }
}

function toRecord(prompt: string, r: RouteResult): RoutingRecord {
  const side = (s: SideOutput | undefined) =>
    s && {
      timeToFirstTokenMs: s.timings.timeToFirstTokenMs,
      tokensPerSecond: s.timings.tokensPerSecond,
      generatedTokens: s.timings.generatedTokens,
    };
  return {
    time: new Date().toISOString(),
    prompt,
    promptHash: RoutingLog.hash(prompt),
    probability: r.gate.probability,
    threshold: r.gate.threshold,
    decision: r.gate.decision,
    mode: r.mode,
    served: r.served,
    featureMs: r.gate.featureMs,
    gateMs: r.gate.gateMs,
    sides: { base: side(r.outputs.base), persona: side(r.outputs.persona) },
  };
}
