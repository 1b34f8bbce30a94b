/**
 * `prism` command line: the same engine process and core as the extension, for terminals, scripts and CI.
 * Errors print as `error [<code>]: <message>` and exit 1; usage errors exit 2; Ctrl-C cancels and exits 130.
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

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
  startEngine: () => new EngineProcess({ enginePath: enginePath() }),
});
