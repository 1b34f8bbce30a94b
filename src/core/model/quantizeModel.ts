import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { AppError, abortError } from "../errors.js";
import { onJsonLines } from "../util/onJsonLines.js";

/** Quantization types offered by {@link quantizeModel} (llama.cpp's names; `prism-trainer quantize --type`). */
export type QuantizeType = "Q8_0" | "Q4_K_M" | "Q4_0" | "Q5_K_M" | "Q6_K" | "F16" | "F32";

/** Options of {@link quantizeModel}. */
export interface QuantizeModelOptions {
  /** The prism-trainer binary (`npm run build:trainer`; `node scripts/buildTrainer.mjs --print-path`). */
  binaryPath: string;
  /** Threads for quantization. Defaults to 1. */
  threads?: number;
  /** Allow quantizing an already quantized model (lossy twice). Defaults to false. */
  allowRequantize?: boolean;
  /** Seconds between SIGTERM and SIGKILL when cancelling. Defaults to 5. */
  killGraceSeconds?: number;
  signal?: AbortSignal;
  /** Every line of llama.cpp's quantize log (the trainer's stderr). */
  onLog?(line: string): void;
}

/** What {@link quantizeModel} wrote. */
export interface QuantizeModelResult {
  path: string;
  type: QuantizeType;
  bytes: number;
  seconds: number;
  /**
   * Tensors whose row length is not a multiple of the type's block size (256 for k-quants) and that
   * llama.cpp stored in a fallback type instead (Q4_K → Q5_0, Q6_K → Q8_0, else F16). Tiny test models
   * (n_embd 64) hit this; n_embd 256 or more does not.
   */
  fallbackTensors: string[];
}

interface TrainerEvent {
  event?: string;
  code?: string;
  message?: string;
  [key: string]: unknown;
}

/**
 * Quantizes a GGUF model with `prism-trainer quantize`, which calls llama.cpp's own `llama_model_quantize` in the
 * library the trainer is built against (node-llama-cpp's bundled llama.cpp source, built once), so the result
 * loads in the engine and in prism-trainer alike and is byte-identical to what `llama-quantize` writes. The output
 * appears atomically (the trainer writes `<out>.partial-<pid>`, fsyncs and renames it); a failure or cancellation
 * leaves no partial file. Errors: `trainer/notBuilt` (no binary; run `npm run build:trainer`), `gguf/notFound` (no
 * input), `gguf/writeFailed` (quantization failed; detail has the exit code, the trainer's error code and message,
 * and the log tail).
 */
export async function quantizeModel(
  inPath: string,
  outPath: string,
  type: QuantizeType,
  options: QuantizeModelOptions,
): Promise<QuantizeModelResult> {
  const { binaryPath, signal } = options;
  signal?.throwIfAborted();
  if (!existsSync(binaryPath)) {
    throw new AppError("trainer/notBuilt", `The trainer is not built (${binaryPath}); run "npm run build:trainer".`);
  }
  if (!existsSync(inPath)) throw new AppError("gguf/notFound", `Model to quantize not found: ${inPath}`);
  // prettier-ignore
  const args = [
    "quantize", "--in", inPath, "--out", outPath, "--type", type,
    "--threads", String(Math.max(1, options.threads ?? 1)),
    ...(options.allowRequantize ? ["--allow-requantize"] : []),
  ];
  const t0 = Date.now();
  const log: string[] = [];
  const fallbackTensors: string[] = [];
  let errorEvent: TrainerEvent | undefined;
  let saved = false;
  let pid: number | undefined;
  let ok = false;
  try {
    const code = await new Promise<number | string>((resolve, reject) => {
      // detached: its own process group, so cancelling reaches anything it starts (as for training)
      const child = spawn(binaryPath, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
      pid = child.pid;
      createInterface({ input: child.stderr }).on("line", (line) => {
        log.push(line);
        if (log.length > 200) log.shift();
        const fallback = /warning:\s+(\S+)\s+- ncols .*falling back/.exec(line);
        if (fallback) fallbackTensors.push(fallback[1]!);
        options.onLog?.(line);
      });
      onJsonLines<TrainerEvent>(child.stdout, (event) => {
        if (event.event === "error") errorEvent = event;
        else if (event.event === "saved") saved = true;
      });
      let killTimer: NodeJS.Timeout | undefined;
      const kill = (sig: NodeJS.Signals): void => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, sig);
        } catch {
          // already gone
        }
      };
      const onAbort = (): void => {
        kill("SIGTERM");
        killTimer = setTimeout(() => kill("SIGKILL"), (options.killGraceSeconds ?? 5) * 1000);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      child.on("error", reject);
      child.on("close", (status, sig) => {
        clearTimeout(killTimer);
        signal?.removeEventListener("abort", onAbort);
        resolve(status ?? sig ?? "unknown");
      });
    });
    if (signal?.aborted) throw abortError(signal);
    if (code !== 0 || !saved || !existsSync(outPath)) {
      const why = errorEvent ? `[${String(errorEvent.code)}] ${String(errorEvent.message)}` : `exit ${code}`;
      throw new AppError("gguf/writeFailed", `Could not quantize ${inPath} to ${type}: ${why}`, {
        exitCode: code,
        trainerCode: errorEvent?.code,
        log: log.slice(-40),
      });
    }
    ok = true;
  } finally {
    // The trainer removes its temp file itself unless it was killed outright (SIGKILL after the grace period).
    if (!ok && pid !== undefined) await rm(`${outPath}.partial-${pid}`, { force: true });
  }
  const bytes = (await stat(outPath)).size;
  return { path: outPath, type, bytes, seconds: (Date.now() - t0) / 1000, fallbackTensors };
}
