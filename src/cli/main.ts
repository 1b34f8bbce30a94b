/**
 * `prism` command line: the same engine process and core as the extension, for terminals, scripts and CI.
 * Errors print as `error [<code>]: <message>` and exit 1; usage errors exit 2; Ctrl-C cancels and exits 130,
 * SIGTERM the same way with 143.
 * The commands and their options are declared in `cliCommands.ts`; `runCli` dispatches.
 */
import { EngineProcess } from "../core/engine/EngineProcess.js";
import { enginePath } from "./CliContext.js";
import { runCli } from "./runCli.js";

const controller = new AbortController();
let interrupted = 0;
process.on("SIGINT", () => {
  // First Ctrl-C cancels cleanly; a second one means "now".
  if (++interrupted > 1) process.exit(130);
  controller.abort();
});
// SIGTERM (a service manager stopping `prism serve`, `kill`, a CI timeout) cancels the same clean way: a job records
// itself as cancelled and resumes, a server stops accepting and aborts what is in flight. Exit 143, as for a signal.
let terminated = false;
process.on("SIGTERM", () => {
  if (terminated) process.exit(143);
  terminated = true;
  controller.abort();
});

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
  startEngine: () => new EngineProcess({ enginePath: enginePath() }),
});
process.exitCode = terminated && code === 130 ? 143 : code;
