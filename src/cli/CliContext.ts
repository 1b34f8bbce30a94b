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

/** Raised for wrong flags or arguments: printed with the command's usage line, exit code 2 (`cli/usage`). */
export class UsageError extends AppError {
  constructor(message: string) {
    super("cli/usage", message);
  }
}

/** `dist/engine.mjs`, next to the bundled CLI. */
export function enginePath(): string {
  return fileURLToPath(new URL("./engine.mjs", import.meta.url));
}
