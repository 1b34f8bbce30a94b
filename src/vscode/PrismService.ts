import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import * as vscode from "vscode";
import { readBundle, type LoadedBundle } from "../core/bundle/readBundle.js";
import { EngineProcess } from "../core/engine/EngineProcess.js";
import { ModelSession } from "../core/engine/ModelSession.js";
import { AppError } from "../core/errors.js";
import { formatFeatureSpec } from "../core/features/featureSpec.js";
import { modelIdentity } from "../core/model/modelIdentity.js";
import { createRouter } from "../core/routing/createRouter.js";
import type { Router, RouteOptions, RouteResult } from "../core/routing/Router.js";
import { RoutingLog } from "../core/routing/RoutingLog.js";
import type { ModelInfo } from "../protocol/engineProtocol.js";
import type { PanelStatus } from "../protocol/webviewProtocol.js";
import { readConfig, type PrismConfig } from "./config.js";

/**
 * The extension's composition root for everything model-related: one engine process per window (started on
 * first use, its log in the PRISM channel), the configured model, the active bundle and the router. Handles
 * are re-created when settings change or the engine process is replaced.
 */
export class PrismService implements vscode.Disposable {
  readonly engine: EngineProcess;
  readonly routingLog: RoutingLog;
  private readonly statusEmitter = new vscode.EventEmitter<PanelStatus>();
  /** Fires whenever engine, model or bundle state changes. */
  readonly onDidChangeStatus = this.statusEmitter.event;
  private session?: { key: string; session: ModelSession };
  private bundle?: { key: string; bundle: Promise<LoadedBundle> };
  /** The outcome of the last bundle load, for status without loading anything. */
  private bundleOutcome?: { path: string; bundle?: LoadedBundle; error?: string };
  private routerCache?: { key: string; router: Router };
  private readonly disposables: vscode.Disposable[] = [];
  /** The last routed prompt's decision, for `/why` and the status bar. */
  lastRoute?: { prompt: string; result: RouteResult; at: Date };

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.engine = new EngineProcess({
      enginePath: context.asAbsolutePath("dist/engine.mjs"),
      onLog: (line) => {
        if (line.source === "stderr" || line.level === "error") log.error(`[engine] ${line.text}`);
        else if (line.level === "warn") log.warn(`[engine] ${line.text}`);
        else log.trace(`[engine] ${line.text}`);
      },
      onStateChange: (state, error?: AppError) => {
        if (error) log.error(`engine ${state}: [${error.code}] ${error.message}`);
        else log.info(`engine ${state}`);
        this.fireStatus();
      },
    });
    this.routingLog = new RoutingLog(join(context.globalStorageUri.fsPath, "routing.jsonl"), {
      prompts: this.config().logPrompts,
    });
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("prism")) {
          this.routerCache = undefined;
          this.fireStatus();
        }
        // The GPU backend and thread cap are fixed per engine process (llama.cpp is initialised once), so a
        // change takes a fresh engine; it starts lazily on the next request.
        if (e.affectsConfiguration("prism.engine.gpu") || e.affectsConfiguration("prism.engine.threads")) {
          this.session = undefined;
          void this.engine.stop().catch((err: unknown) => log.warn(`engine stop: ${String(err)}`));
        }
      }),
    );
  }

  /** The current settings (validated; warnings go to the log). */
  config(): PrismConfig {
    return readConfig((m) => this.log.warn(m));
  }

  /** Storage for caches (model hashes, truncated feature models). */
  get storageDir(): string {
    return this.context.globalStorageUri.fsPath;
  }

  /** The configured model in the engine. Errors: `engine/modelNotFound` when none is configured, engine errors. */
  modelSession(config = this.config()): ModelSession {
    if (!config.modelPath) {
      throw new AppError(
        "engine/modelNotFound",
        'No model is configured: run "PRISM: Select Model" or set prism.model.path.',
      );
    }
    const key = JSON.stringify([config.modelPath, config.gpu, config.threads]);
    if (this.session?.key !== key) {
      this.session = {
        key,
        session: new ModelSession(this.engine, {
          modelPath: config.modelPath,
          gpu: config.gpu,
          threads: config.threads,
        }),
      };
    }
    return this.session.session;
  }

  async loadModel(signal?: AbortSignal): Promise<ModelInfo> {
    const info = await this.modelSession().model(signal);
    this.fireStatus();
    return info;
  }

  /** The active bundle, validated against the configured model; undefined when none is configured. */
  async activeBundle(signal?: AbortSignal): Promise<LoadedBundle | undefined> {
    const config = this.config();
    if (!config.bundlePath) return undefined;
    const mtime = await stat(join(config.bundlePath, "manifest.json")).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    const key = JSON.stringify([config.bundlePath, mtime, config.modelPath]);
    if (this.bundle?.key !== key) {
      const load = async (): Promise<LoadedBundle> => {
        const info = await this.modelSession(config).model(signal);
        const identity = await modelIdentity(config.modelPath, {
          cacheFile: join(this.storageDir, "model-hashes.json"),
          signal,
        });
        return readBundle(config.bundlePath, { identity, embeddingSize: info.embeddingSize });
      };
      const bundle = load();
      this.bundle = { key, bundle };
      bundle.then(
        (b) => {
          this.bundleOutcome = { path: config.bundlePath, bundle: b };
          this.fireStatus();
        },
        (err: unknown) => {
          this.bundleOutcome = { path: config.bundlePath, error: (err as Error).message };
          if (this.bundle?.bundle === bundle) this.bundle = undefined;
          this.fireStatus();
        },
      );
    }
    return this.bundle.bundle;
  }

  /** The router for the active bundle; undefined without one (then only the base model answers). */
  async router(signal?: AbortSignal): Promise<Router | undefined> {
    const bundle = await this.activeBundle(signal);
    if (!bundle) return undefined;
    const config = this.config();
    const key = JSON.stringify([
      bundle.dir,
      bundle.manifest.createdAt,
      config.modelPath,
      config.contextSize,
      config.threads,
      config.gpu,
    ]);
    if (this.routerCache?.key === key) return this.routerCache.router;
    const session = this.modelSession(config);
    const info = await session.model(signal);
    const router = createRouter({
      session,
      bundle,
      featureCacheDir: join(this.storageDir, "features"),
      contextSize: Math.min(config.contextSize, info.contextLength || config.contextSize),
      threads: config.threads,
      gpu: config.gpu,
      log: this.routingLog,
    });
    this.routerCache = { key, router };
    return router;
  }

  /**
   * Routes a prompt through the active bundle, or — without one — answers with the base model (reported as a
   * `base` decision with probability 0 so every consumer can show the same card).
   */
  async route(prompt: string, options: RouteOptions): Promise<RouteResult> {
    const router = await this.router(options.signal);
    let result: RouteResult;
    if (router) {
      result = await router.route(prompt, options);
    } else {
      const config = this.config();
      const session = this.modelSession(config);
      const info = await session.model(options.signal);
      const contextId = await session.context("plain-base", {
        contextSize: Math.min(config.contextSize, info.contextLength || config.contextSize),
        threads: config.threads,
      });
      const started = performance.now();
      const gate = { probability: 0, threshold: 1, decision: "base" as const, featureMs: 0, gateMs: 0 };
      options.onDecision?.(gate);
      const r = await this.engine.request(
        "engine/generate",
        {
          contextId,
          messages: options.messages ?? [{ role: "user", content: prompt }],
          maxTokens: options.maxTokens ?? config.maxTokens,
          temperature: options.temperature ?? config.temperature,
          seed: options.seed,
        },
        { signal: options.signal, onChunk: (t) => options.onChunk?.("base", t) },
      );
      result = {
        mode: "base",
        gate,
        served: "base",
        outputs: { base: { text: r.text, stopReason: r.stopReason, scale: 0, timings: r.timings } },
        totalMs: performance.now() - started,
      };
    }
    this.lastRoute = { prompt, result, at: new Date() };
    this.fireStatus();
    return result;
  }

  /** What the panel and status bar show. */
  status(): PanelStatus {
    const config = this.config();
    const status: PanelStatus = {
      engine: this.engine.state,
      model: config.modelPath ? basename(config.modelPath) : undefined,
    };
    if (!config.modelPath) {
      status.blocked = 'No model configured: run "PRISM: Select Model".';
      return status;
    }
    // Never loads anything: status is polled by UI and must not start the engine.
    const outcome = this.bundleOutcome;
    if (config.bundlePath && outcome?.path === config.bundlePath) {
      if (outcome.bundle) {
        const m = outcome.bundle.manifest;
        status.bundle = {
          name: m.name,
          threshold: outcome.bundle.threshold,
          featureSpec: formatFeatureSpec(m.featureSpec),
          personas: m.personas.map((p) => p.id),
        };
      } else if (outcome.error) {
        status.blocked = `The bundle cannot be used: ${outcome.error}`;
      }
    }
    return status;
  }

  /** Forces a fresh engine process (and with it fresh model and contexts). */
  async restartEngine(): Promise<void> {
    this.routerCache = undefined;
    await this.engine.restart();
  }

  fireStatus(): void {
    this.statusEmitter.fire(this.status());
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.statusEmitter.dispose();
    void this.engine.dispose().catch((err: unknown) => this.log.error(`engine dispose failed: ${String(err)}`));
  }
}
