import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { AppError, abortError } from "../errors.js";

/** Options of {@link LlamaServerProcess.start}. */
export interface LlamaServerProcessOptions {
  /** The llama-server binary (`node scripts/buildTrainer.mjs --print-server-path`; see `llamaServerBinary`). */
  binary: string;
  /** The base model (GGUF). */
  modelPath: string;
  /**
   * A LoRA adapter to load without applying it (`--lora <file> --lora-init-without-apply`): requests choose its
   * scale in their `lora` field. Defaults to none.
   */
  adapterPath?: string;
  /** CPU threads for generation and prompt evaluation (`--threads`, `--threads-batch`); always explicit. */
  threads: number;
  /** Context size of the whole server (`--ctx-size`), shared by its slots. Defaults to 0: the model's. */
  contextSize?: number;
  /** Requests answered at once (`--parallel`); each slot gets contextSize / parallel cells. Defaults to 1. */
  parallel?: number;
  /** Port on 127.0.0.1. Defaults to a free one. */
  port?: number;
  /** Further llama-server arguments (e.g. `--api-key`). Defaults to none. */
  extraArgs?: string[];
  /** How long loading may take until `/health` answers 200. Defaults to 60 000 ms. */
  startTimeoutMs?: number;
  signal?: AbortSignal;
}

const LOG_TAIL = 60;

/**
 * llama.cpp's `llama-server` as a child process on 127.0.0.1: started with explicit threads on a free port,
 * ready once `GET /health` answers 200 (the model is loaded), killed on {@link dispose}. For tests, benchmarks and
 * the documentation's example; `prism serve --backend <url>` talks to a server its user runs. A server that exits
 * or does not become healthy in time fails with `serve/llamaServerStartFailed` and its last log lines.
 */
export class LlamaServerProcess {
  private readonly log: string[] = [];
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    /** Where it listens, `http://127.0.0.1:<port>`. */
    readonly url: string,
  ) {
    const keep = (line: string) => {
      this.log.push(line);
      if (this.log.length > LOG_TAIL) this.log.shift();
    };
    // llama-server logs to stderr; stdout carries nothing we need, but both must be drained.
    for (const stream of [child.stdout, child.stderr]) if (stream) createInterface({ input: stream }).on("line", keep);
    child.once("exit", () => (this.exited = true));
  }

  /** Starts a server and waits until it has loaded the model. */
  static async start(options: LlamaServerProcessOptions): Promise<LlamaServerProcess> {
    options.signal?.throwIfAborted();
    // A free port found by binding port 0 can be taken before llama-server binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort());
      const server = LlamaServerProcess.spawn(options, port);
      try {
        await server.waitUntilHealthy(options.startTimeoutMs ?? 60_000, options.signal);
        return server;
      } catch (err) {
        await server.dispose();
        const taken = server.log.some((l) => /couldn't bind|address already in use/i.test(l));
        if (!taken || options.port !== undefined || attempt >= 3) throw err;
      }
    }
  }

  private static spawn(options: LlamaServerProcessOptions, port: number): LlamaServerProcess {
    const threads = String(options.threads);
    const args = [
      ["--model", options.modelPath],
      ["--host", "127.0.0.1", "--port", String(port)],
      ["--threads", threads, "--threads-batch", threads],
      ["--ctx-size", String(options.contextSize ?? 0), "--parallel", String(options.parallel ?? 1)],
      options.adapterPath ? ["--lora", options.adapterPath, "--lora-init-without-apply"] : [],
      options.extraArgs ?? [],
    ].flat();
    const child = spawn(options.binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    const server = new LlamaServerProcess(child, `http://127.0.0.1:${port}`);
    child.once("error", (err) => {
      server.exited = true;
      server.log.push(`cannot start ${options.binary}: ${err.message}`);
    });
    return server;
  }

  /** The last lines llama-server logged (for error reports). */
  get logTail(): string[] {
    return [...this.log];
  }

  /** Stops the server: SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  async dispose(graceMs = 5_000): Promise<void> {
    if (this.exited || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exit = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exit;
    clearTimeout(timer);
  }

  private async waitUntilHealthy(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      if (this.exited) throw this.startFailed("exited while starting");
      try {
        // 503 while the model loads, 200 once it serves.
        const r = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2_000) });
        await r.body?.cancel();
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw this.startFailed(`did not become healthy within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  private startFailed(why: string): AppError {
    const code = this.child.exitCode === null ? "" : ` (exit code ${this.child.exitCode})`;
    return new AppError("serve/llamaServerStartFailed", `llama-server ${why}${code}.`, { log: this.logTail });
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
