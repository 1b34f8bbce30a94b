import { AppError } from "../errors.js";

/** How an engine process ended that nobody asked to stop. */
export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last log lines (llama.cpp's log and stderr), oldest first. */
  log: string[];
  /** Whether it had finished starting; a process that dies while starting failed to start. */
  wasReady: boolean;
  /** Whether the watchdog killed it because it stopped answering. */
  hung: boolean;
}

/**
 * The error every pending request gets when the engine process dies unexpectedly (docs/architecture.md §5):
 * `engine/hung` when the watchdog killed it, `engine/crashed` (with the exit code or signal and the most telling
 * log line, e.g. a `GGML_ASSERT`) when it died on its own, `engine/startFailed` when it never became ready.
 * Shared by `EngineProcess` and the unit tests' fake engine, so both fail alike.
 */
export function engineExitError(exit: EngineExit): AppError {
  const { code, signal, log } = exit;
  if (exit.hung) {
    return new AppError("engine/hung", "The engine stopped answering and was restarted; try the request again.", {
      log,
    });
  }
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const hint = log.filter((l) => /GGML_ASSERT|error|abort|fail/i.test(l)).at(-1);
  return new AppError(
    exit.wasReady ? "engine/crashed" : "engine/startFailed",
    `The engine process ${how}${hint ? `: ${hint.trim()}` : ""}. It will be restarted on the next request.`,
    { exitCode: code, signal, log },
  );
}
