import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AppError, abortError } from "../errors.js";

/** Quantization types offered by {@link quantizeModel} (llama-quantize's names, case-insensitive there). */
export type QuantizeType = "Q8_0" | "Q4_K_M" | "Q4_0" | "Q5_K_M" | "Q6_K" | "F16";

/** Options of {@link quantizeModel}. */
export interface QuantizeModelOptions {
  /** The `llama-quantize` binary (`node scripts/buildTrainer.mjs --print-quantize-path`). */
  binaryPath: string;
  /** Threads for quantization. Defaults to 1. */
  threads?: number;
  /** Allow quantizing an already quantized model (lossy twice). Defaults to false. */
  allowRequantize?: boolean;
  /** Seconds between SIGTERM and SIGKILL when cancelling. Defaults to 5. */
  killGraceSeconds?: number;
  signal?: AbortSignal;
  /** Every stderr/stdout line of llama-quantize (llama.cpp's log). */
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
   * llama-quantize stored in a fallback type instead (Q4_K → Q5_0, Q6_K → Q8_0, else F16). Tiny test models
   * (n_embd 64) hit this; n_embd 256 or more does not.
   */
  fallbackTensors: string[];
}

/**
 * Quantizes a GGUF model with llama-quantize built from node-llama-cpp's own llama.cpp source, so the result
 * loads in the engine and in prism-trainer alike. The output appears atomically (written next to `outPath`,
 * then renamed); a failure or cancellation leaves no partial file. Errors: `trainer/notBuilt` (no binary),
 * `gguf/notFound` (no input), `gguf/writeFailed` (llama-quantize failed; detail has its exit code and log tail).
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
    throw new AppError(
      "trainer/notBuilt",
      `llama-quantize is not built (${binaryPath}); run "node scripts/buildTrainer.mjs --quantize".`,
    );
  }
  if (!existsSync(inPath)) throw new AppError("gguf/notFound", `Model to quantize not found: ${inPath}`);
  const partial = join(dirname(outPath), `.${basename(outPath)}.partial-${process.pid}-${Date.now()}`);
  const args = [
    ...(options.allowRequantize ? ["--allow-requantize"] : []),
    inPath,
    partial,
    type,
    String(Math.max(1, options.threads ?? 1)),
  ];
  const t0 = Date.now();
  const log: string[] = [];
  const fallbackTensors: string[] = [];
  try {
    const code = await new Promise<number | string>((resolve, reject) => {
      const child = spawn(binaryPath, args, { stdio: ["ignore", "pipe", "pipe"] });
      let pending = "";
      const onData = (chunk: Buffer): void => {
        pending += chunk.toString("utf8");
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          log.push(line);
          if (log.length > 200) log.shift();
          const fallback = /warning:\s+(\S+)\s+- ncols .*falling back/.exec(line);
          if (fallback) fallbackTensors.push(fallback[1]!);
          options.onLog?.(line);
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        child.kill("SIGTERM");
        killTimer = setTimeout(() => child.kill("SIGKILL"), (options.killGraceSeconds ?? 5) * 1000);
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
    if (code !== 0 || !existsSync(partial)) {
      throw new AppError("gguf/writeFailed", `llama-quantize could not write ${type} from ${inPath} (exit ${code}).`, {
        exitCode: code,
        log: log.slice(-40),
      });
    }
    await rename(partial, outPath);
  } finally {
    await rm(partial, { force: true });
  }
  const bytes = (await stat(outPath)).size;
  return { path: outPath, type, bytes, seconds: (Date.now() - t0) / 1000, fallbackTensors };
}
