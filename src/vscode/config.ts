import * as vscode from "vscode";
import type { GpuChoice } from "../protocol/engineProtocol.js";
import { gpuChoiceSchema } from "../protocol/engineProtocol.js";
import type { RouteModeWire } from "../protocol/webviewProtocol.js";
import { routeModeSchema } from "../protocol/webviewProtocol.js";
import { DISTILL_PRESETS, type DistillPreset } from "../core/cost/distillPresets.js";
import { defaultThreadCount } from "../core/util/defaultThreadCount.js";

/** A validated snapshot of the `prism.*` settings. */
export interface PrismConfig {
  modelPath: string;
  /** The `hf:` URI offered for download when no model is configured. */
  defaultModelUri: string;
  bundlePath: string;
  gpu: GpuChoice;
  threads: number;
  contextSize: number;
  chatMode: RouteModeWire;
  maxTokens: number;
  temperature: number;
  logPrompts: "full" | "hash";
  /** The size Start Distillation proposes first (docs/method.md §7). */
  distillPreset: DistillPreset;
  /** Where `PRISM: Start Server` listens (docs/serve.md). */
  serveHost: string;
  servePort: number;
}

/**
 * Reads the settings, replacing invalid values by their defaults (with a warning) rather than passing them on:
 * a typo in settings.json must not make every request fail. In an untrusted workspace, paths (which make the
 * extension load native model files) come only from the user's own settings, never from the workspace.
 */
export function readConfig(warn: (message: string) => void): PrismConfig {
  const c = vscode.workspace.getConfiguration("prism");
  const userPath = (key: string): string => {
    const value = vscode.workspace.isTrusted ? c.get<string>(key, "") : (c.inspect<string>(key)?.globalValue ?? "");
    return typeof value === "string" ? value.trim() : "";
  };
  const gpuRaw = c.get<string>("engine.gpu", "auto");
  const gpu = gpuChoiceSchema.safeParse(gpuRaw);
  if (!gpu.success)
    warn(`prism.engine.gpu "${gpuRaw}" is not one of ${gpuChoiceSchema.options.join(", ")}; using auto.`);
  const threadsRaw = c.get<number>("engine.threads", 0);
  const cores = defaultThreadCount();
  let threads = cores;
  if (Number.isInteger(threadsRaw) && threadsRaw > 0) {
    threads = Math.min(threadsRaw, cores);
    if (threadsRaw > cores)
      warn(`prism.engine.threads ${threadsRaw} exceeds the ${cores} physical cores; using ${cores}.`);
  } else if (threadsRaw !== 0) {
    warn(`prism.engine.threads must be a positive integer or 0 (auto); using ${cores}.`);
  }
  const ctxRaw = c.get<number>("engine.contextSize", 4096);
  const contextSize = Number.isInteger(ctxRaw) && ctxRaw >= 256 ? ctxRaw : 4096;
  if (contextSize !== ctxRaw) warn(`prism.engine.contextSize must be an integer ≥ 256; using 4096.`);
  const mode = routeModeSchema.safeParse(c.get<string>("chat.mode", "hard"));
  const maxTokensRaw = c.get<number>("generation.maxTokens", 512);
  const temperatureRaw = c.get<number>("generation.temperature", 0);
  const presetRaw = c.get<string>("distill.preset", "quick");
  const distillPreset = DISTILL_PRESETS.find((p) => p === presetRaw);
  if (!distillPreset)
    warn(`prism.distill.preset "${presetRaw}" is not one of ${DISTILL_PRESETS.join(", ")}; using quick.`);
  const hostRaw = c.get<string>("serve.host", "127.0.0.1");
  const serveHost = typeof hostRaw === "string" && hostRaw.trim() ? hostRaw.trim() : "127.0.0.1";
  const portRaw = c.get<number>("serve.port", 8080);
  const servePort = Number.isInteger(portRaw) && portRaw >= 0 && portRaw <= 65_535 ? portRaw : 8080;
  if (servePort !== portRaw) warn(`prism.serve.port must be an integer from 0 to 65535; using 8080.`);
  return {
    modelPath: userPath("model.path"),
    defaultModelUri: c.get<string>("model.defaultUri", "").trim(),
    bundlePath: userPath("bundle.path"),
    gpu: gpu.success ? gpu.data : "auto",
    threads,
    contextSize,
    chatMode: mode.success ? mode.data : "hard",
    maxTokens: Number.isInteger(maxTokensRaw) && maxTokensRaw > 0 ? Math.min(maxTokensRaw, 32_768) : 512,
    temperature: Number.isFinite(temperatureRaw) && temperatureRaw >= 0 ? Math.min(temperatureRaw, 5) : 0,
    logPrompts: c.get<string>("routing.logPrompts", "full") === "hash" ? "hash" : "full",
    distillPreset: distillPreset ?? "quick",
    serveHost,
    servePort,
  };
}
