import type { RoutingRecord } from "../../src/protocol/routingRecord.js";
import {
  WEBVIEW_PROTOCOL_VERSION,
  type PanelBootstrap,
  type PanelStatus,
  type RunSnapshot,
  type SideSnapshot,
} from "../../src/protocol/webviewProtocol.js";

/** A ready engine with a model and a bundle. */
export function readyStatus(overrides: Partial<PanelStatus> = {}): PanelStatus {
  return {
    engine: "ready",
    model: "tiny-llama.gguf",
    bundle: { name: "pirate", threshold: 0.5, featureSpec: "mean-last-4", personas: ["pirate"] },
    ...overrides,
  };
}

/** A routing-log record; probability 0.8 → persona unless overridden. */
export function record(overrides: Partial<RoutingRecord> = {}): RoutingRecord {
  const probability = overrides.probability ?? 0.8;
  const decision = probability >= 0.5 ? "persona" : "base";
  return {
    time: "2026-01-02T03:04:05.000Z",
    prompt: "Tell me about ships",
    promptHash: "ab12cd34ef",
    probability,
    threshold: 0.5,
    decision,
    mode: "compare",
    served: decision,
    featureMs: 12,
    gateMs: 0.4,
    sides: {
      base: { timeToFirstTokenMs: 100, tokensPerSecond: 40, generatedTokens: 64 },
      persona: { timeToFirstTokenMs: 120, tokensPerSecond: 38, generatedTokens: 70 },
    },
    ...overrides,
  };
}

/** One side of a run. */
export function side(text: string, overrides: Partial<SideSnapshot> = {}): SideSnapshot {
  return { text, done: false, scale: 0, ...overrides };
}

/** A run snapshot in compare mode with no side started yet. */
export function runSnapshot(overrides: Partial<RunSnapshot> = {}): RunSnapshot {
  return { runId: 1, prompt: "Tell me about ships", mode: "compare", state: "running", sides: {}, ...overrides };
}

/** A bootstrap with a ready status, no run and an empty history. */
export function bootstrap(overrides: Partial<PanelBootstrap> = {}): PanelBootstrap {
  return { protocolVersion: WEBVIEW_PROTOCOL_VERSION, status: readyStatus(), history: [], ...overrides };
}
