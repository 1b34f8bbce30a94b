import * as vscode from "vscode";
import type { GpuChoice } from "../protocol/engineProtocol.js";
import { gpuChoiceSchema } from "../protocol/engineProtocol.js";
import { defaultThreadCount } from "../core/util/defaultThreadCount.js";

/** A validated snapshot of the `prism.*` settings. */
export interface PrismConfig {
  modelPath: string;
  gpu: GpuChoice;
  threads: number;
  contextSize: number;
}

/**
 * Reads the settings, replacing invalid values by their defaults (with a warning) rather than passing them to
 * the engine: a typo in settings.json must not make every request fail.
 */
export function readConfig(warn: (message: string) => void): PrismConfig {
  const c = vscode.workspace.getConfiguration("prism");
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
  return {
    modelPath: c.get<string>("model.path", "").trim(),
    gpu: gpu.success ? gpu.data : "auto",
    threads,
    contextSize,
  };
}
