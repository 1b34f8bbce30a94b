import { fork, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import {
  engineNotifications,
  engineRequests,
  ENGINE_PROTOCOL_VERSION,
  type EngineNotifications,
  type EngineRequests,
} from "../../protocol/engineProtocol.js";
import type { Envelope, ParamsOf, ResultOf } from "../../protocol/envelope.js";
import { Messenger } from "../../protocol/Messenger.js";
import { AppError, toWireError } from "../errors.js";
import type { EngineCallOptions, EngineClient, EngineState } from "./EngineClient.js";
import { engineExitError } from "./engineExitError.js";

/** One line of engine output the host keeps: llama.cpp's log (via IPC) or raw stderr (asserts, aborts). */
export interface EngineLogLine {
  source: "llama" | "stderr" | "host";
  level: string;
  text: string;
}

/** Options of {@link EngineProcess}. */
export interface EngineProcessOptions {
  /** Path of the built engine entry, `dist/engine.mjs`. */
  enginePath: string;
  /** The Node binary. Defaults to `process.execPath` (under desktop VS Code that is Electron, run as Node). */
  execPath?: string;
  /** Extra environment for the engine. */
  env?: NodeJS.ProcessEnv;
  /** Every engine log line, as it arrives. */
  onLog?(line: EngineLogLine): void;
  /** State changes: starting, ready, crashed (with the error), idle, disposed. */
  onStateChange?(state: EngineState, error?: AppError): void;
  /** How long a start may take before it fails with `engine/startFailed`. Defaults to 60 000 ms. */
  startTimeoutMs?: number;
  /**
   * Watchdog: while requests are pending, the engine is pinged every `pingIntervalMs`; one unanswered for
   * `hangTimeoutMs` means the engine hangs (its event loop is blocked or the process is stopped), so it is
   * killed, pending requests fail with `engine/hung`, and the next request starts a fresh engine. Generation
   * runs off the engine's event loop, so a busy engine still answers pings. Defaults to 5 000 / 30 000 ms.
   */
  pingIntervalMs?: number;
  hangTimeoutMs?: number;
}

const LOG_TAIL = 200;

/**
 * Supervises the engine child process: forks it lazily on the first request, speaks the typed protocol to it,
 * and contains its crashes. When the process dies unexpectedly (llama.cpp aborts with exit 134, a signal,
 * the OOM killer), every pending request rejects with `engine/crashed` carrying the last log lines, the host
 * keeps running, and the next request starts a fresh process.
 */
export class EngineProcess implements EngineClient {
  private child?: ChildProcess;
  private messenger?: Messenger<Record<string, never>, EngineRequests, EngineNotifications, Record<string, never>>;
  private starting?: Promise<void>;
  private currentState: EngineState = "idle";
  private generationCount = 0;
  private expectedExit = false;
  private hung = false;
  private watchdog?: NodeJS.Timeout;
  private pingSentAt?: number;
  private readonly tail: EngineLogLine[] = [];

  constructor(private readonly options: EngineProcessOptions) {}

  get state(): EngineState {
    return this.currentState;
  }

  get generation(): number {
    return this.generationCount;
  }

  /** The process id of the running engine, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The most recent log lines (llama.cpp log and stderr), oldest first. */
  recentLog(count = 40): EngineLogLine[] {
    return this.tail.slice(-count);
  }

  async request<M extends keyof EngineRequests & string>(
    method: M,
    params: ParamsOf<EngineRequests, M>,
    options: EngineCallOptions = {},
  ): Promise<ResultOf<EngineRequests, M>> {
    options.signal?.throwIfAborted();
    await this.start();
    const messenger = this.messenger!;
    this.armWatchdog();
    return messenger.request(method, params, {
      signal: options.signal,
      onNotification: (m, p) => {
        if (m === "engine/didChunk") options.onChunk?.((p as { text: string }).text);
        else if (m === "engine/didDownloadProgress") {
          const d = p as { downloadedBytes: number; totalBytes: number };
          options.onDownloadProgress?.(d.downloadedBytes, d.totalBytes);
        }
      },
    });
  }

  /** Starts the engine if it is not running; resolves when it is ready. */
  start(): Promise<void> {
    if (this.currentState === "disposed") {
      return Promise.reject(new AppError("engine/stopped", "The engine has been disposed."));
    }
    if (this.currentState === "ready") return Promise.resolve();
    this.starting ??= this.spawn().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Stops the engine (gracefully, then by force) and starts a new one. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Asks the engine to shut down; kills it if it does not exit within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectedExit = true;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    this.messenger?.request("engine/shutdown", {}).catch(() => undefined);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the engine for good; later requests fail with `engine/stopped`. */
  async dispose(): Promise<void> {
    await this.stop();
    this.setState("disposed");
  }

  private spawn(): Promise<void> {
    this.setState("starting");
    this.expectedExit = false;
    this.hung = false;
    const child = fork(this.options.enginePath, [], {
      execPath: this.options.execPath ?? process.execPath,
      execArgv: [],
      // Under desktop VS Code process.execPath is Electron; this makes it behave as plain Node.
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: "1" },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    this.child = child;
    this.generationCount++;
    const messenger = new Messenger<Record<string, never>, EngineRequests, EngineNotifications, Record<string, never>>({
      incoming: {},
      outgoing: engineRequests,
      incomingNotifications: engineNotifications,
      send: (message: Envelope) => {
        if (!child.connected) throw new AppError("engine/stopped", "The engine process is not running.");
        child.send(message);
      },
      toWire: toWireError,
      fromWire: (wire) => AppError.fromWire(wire),
      onInvalidMessage: (error) => this.log({ source: "host", level: "warn", text: error.message }),
    });
    this.messenger = messenger;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream)
        createInterface({ input: stream }).on("line", (text) => this.log({ source: "stderr", level: "info", text }));
    }
    child.on("message", (raw) => messenger.receive(raw));

    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        fail(new AppError("engine/startFailed", `The engine did not start within ${this.startTimeout} ms.`));
        child.kill("SIGKILL");
      }, this.startTimeout);
      const fail = (err: AppError): void => {
        clearTimeout(timer);
        if (!ready) reject(err);
      };
      messenger.onNotification((method, params) => {
        if (method === "engine/didLog") {
          const p = params as { level: string; text: string };
          this.log({ source: "llama", level: p.level, text: p.text });
        } else if (method === "engine/didStart" && !ready) {
          const version = (params as { protocolVersion: number }).protocolVersion;
          clearTimeout(timer);
          if (version !== ENGINE_PROTOCOL_VERSION) {
            reject(
              new AppError(
                "protocol/versionMismatch",
                `The engine speaks protocol ${version}, the host ${ENGINE_PROTOCOL_VERSION}; rebuild PRISM.`,
              ),
            );
            child.kill("SIGKILL");
            return;
          }
          ready = true;
          this.setState("ready");
          resolve();
        }
      });
      child.once("error", (err) => fail(new AppError("engine/startFailed", `Cannot start the engine: ${err.message}`)));
      // "close" (not "exit") fires after stdout/stderr are drained, so an abort message is in the tail.
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        this.onExit(child, messenger, code, signal, ready, reject);
      });
    });
  }

  private armWatchdog(): void {
    if (this.watchdog) return;
    const interval = this.options.pingIntervalMs ?? 5_000;
    const limit = this.options.hangTimeoutMs ?? 30_000;
    this.watchdog = setInterval(
      () => {
        const messenger = this.messenger;
        const child = this.child;
        if (!messenger || !child || messenger.pendingCount === 0) {
          this.disarmWatchdog();
          return;
        }
        if (this.pingSentAt !== undefined) {
          if (Date.now() - this.pingSentAt >= limit) {
            this.hung = true;
            this.log({ source: "host", level: "error", text: `engine did not answer for ${limit} ms; killing it` });
            child.kill("SIGKILL");
            this.disarmWatchdog();
          }
          return;
        }
        this.pingSentAt = Date.now();
        messenger.request("engine/status", {}).then(
          () => (this.pingSentAt = undefined),
          () => (this.pingSentAt = undefined),
        );
      },
      Math.max(10, Math.min(interval, limit / 2)),
    );
    // The watchdog alone must not keep a CLI process alive.
    this.watchdog.unref();
  }

  private disarmWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.pingSentAt = undefined;
  }

  private onExit(
    child: ChildProcess,
    messenger: NonNullable<EngineProcess["messenger"]>,
    code: number | null,
    signal: NodeJS.Signals | null,
    wasReady: boolean,
    rejectStart: (err: AppError) => void,
  ): void {
    if (this.child === child) {
      this.child = undefined;
      this.messenger = undefined;
    }
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (this.expectedExit && !this.hung && (code === 0 || signal === "SIGKILL" || signal === "SIGTERM")) {
      this.disarmWatchdog();
      messenger.rejectAll(new AppError("engine/stopped", `The engine was stopped and ${how}.`));
      if (this.currentState !== "disposed") this.setState("idle");
      return;
    }
    const log = this.recentLog(30).map((l) => l.text);
    const hung = this.hung;
    this.hung = false;
    this.disarmWatchdog();
    const error = engineExitError({ code, signal, log, wasReady, hung });
    messenger.rejectAll(error);
    if (!wasReady) rejectStart(error);
    this.setState("crashed", error);
  }

  private get startTimeout(): number {
    return this.options.startTimeoutMs ?? 60_000;
  }

  private log(line: EngineLogLine): void {
    this.tail.push(line);
    if (this.tail.length > LOG_TAIL) this.tail.shift();
    this.options.onLog?.(line);
  }

  private setState(state: EngineState, error?: AppError): void {
    this.currentState = state;
    this.options.onStateChange?.(state, error);
  }
}
