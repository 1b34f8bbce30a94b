import type * as vscode from "vscode";
import { EngineProcess } from "../core/engine/EngineProcess.js";
import type { AppError } from "../core/errors.js";
import type { ModelInfo } from "../protocol/engineProtocol.js";
import type { PrismConfig } from "./config.js";

/**
 * The extension's engine supervisor: one engine process per window, started on first use, its log in the
 * PRISM output channel, and a loaded-model cache that is dropped whenever the process is replaced (after a
 * crash every handle of the old process is void).
 */
export class EngineHost implements vscode.Disposable {
  readonly engine: EngineProcess;
  private model?: { key: string; generation: number; info: Promise<ModelInfo> };

  constructor(
    enginePath: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.engine = new EngineProcess({
      enginePath,
      onLog: (line) => {
        if (line.source === "stderr" || line.level === "error") log.error(`[engine] ${line.text}`);
        else if (line.level === "warn") log.warn(`[engine] ${line.text}`);
        else log.trace(`[engine] ${line.text}`);
      },
      onStateChange: (state, error?: AppError) => {
        if (error) log.error(`engine ${state}: [${error.code}] ${error.message}`);
        else log.info(`engine ${state}`);
      },
    });
  }

  /** Loads the configured model, or returns the one already loaded in the current engine process. */
  loadModel(config: PrismConfig, signal?: AbortSignal): Promise<ModelInfo> {
    const key = JSON.stringify([config.modelPath, config.gpu, config.threads]);
    if (
      this.model &&
      this.model.key === key &&
      this.model.generation === this.engine.generation &&
      this.engine.state === "ready"
    ) {
      return this.model.info;
    }
    const info = this.engine
      .request(
        "engine/loadModel",
        { modelPath: config.modelPath, gpu: config.gpu, threads: config.threads },
        { signal },
      )
      .catch((err: unknown) => {
        this.model = undefined;
        throw err;
      });
    this.model = { key, generation: this.engine.generation + (this.engine.state === "ready" ? 0 : 1), info };
    return info;
  }

  async restart(): Promise<void> {
    this.model = undefined;
    await this.engine.restart();
  }

  dispose(): void {
    void this.engine.dispose().catch((err: unknown) => this.log.error(`engine dispose failed: ${String(err)}`));
  }
}
