import { fileURLToPath } from "node:url";
import type { EngineProcess } from "../core/engine/EngineProcess.js";
import { AppError } from "../core/errors.js";

/** What every CLI command gets: the abort signal of Ctrl-C, output streams and a lazily started engine. */
export interface CliContext {
  signal: AbortSignal;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** The engine process, started on first use and disposed when the command ends. */
  engine(): EngineProcess;
}

/** Raised for wrong flags or arguments: printed with the usage text, exit code 2. */
export class UsageError extends AppError {
  constructor(message: string) {
    super("cli/usage", message);
  }
}

/** `dist/engine.mjs`, next to the bundled CLI. */
export function enginePath(): string {
  return fileURLToPath(new URL("./engine.mjs", import.meta.url));
}

/** Parses an integer flag strictly (no `parseInt("4x")` surprises). */
export function intFlag(
  name: string,
  value: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}".`);
  }
  return n;
}

/** Parses a number flag strictly. */
export function numberFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${value}".`);
  }
  return n;
}
