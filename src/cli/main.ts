/**
 * `prism` command line: the same engine process and core as the extension, for terminals, scripts and CI.
 * Errors print as `error [<code>]: <message>` and exit 1; usage errors exit 2; Ctrl-C cancels and exits 130.
 */
import { EngineProcess } from "../core/engine/EngineProcess.js";
import { AppError, isCancellation } from "../core/errors.js";
import { enginePath, UsageError, type CliContext } from "./CliContext.js";
import { CHAT_USAGE, chatCommand } from "./commands/chatCommand.js";
import { INFO_USAGE, infoCommand } from "./commands/infoCommand.js";
import { DISTILL_USAGE, distillCommand } from "./commands/distillCommand.js";
import { GATE_EVAL_USAGE, gateEvalCommand } from "./commands/gateEvalCommand.js";
import { MAKE_MODEL_USAGE, makeModelCommand } from "./commands/makeModelCommand.js";
import { ROUTE_USAGE, routeCommand } from "./commands/routeCommand.js";
import { TRAIN_USAGE, trainCommand } from "./commands/trainCommand.js";
import { EVAL_USAGE, evalCommand } from "./commands/evalCommand.js";
import { WORLD_USAGE, worldCommand } from "./commands/worldCommand.js";

const COMMANDS: Record<string, { usage: string; run(args: string[], ctx: CliContext): Promise<void> }> = {
  info: { usage: INFO_USAGE, run: infoCommand },
  chat: { usage: CHAT_USAGE, run: chatCommand },
  "make-model": { usage: MAKE_MODEL_USAGE, run: makeModelCommand },
  distill: { usage: DISTILL_USAGE, run: distillCommand },
  route: { usage: ROUTE_USAGE, run: routeCommand },
  "gate-eval": { usage: GATE_EVAL_USAGE, run: gateEvalCommand },
  train: { usage: TRAIN_USAGE, run: trainCommand },
  world: { usage: WORLD_USAGE, run: worldCommand },
  eval: { usage: EVAL_USAGE, run: evalCommand },
};

function usage(): string {
  return ["usage:", ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`error [cli/usage]: unknown command "${name}".\n${usage()}\n`);
    return 2;
  }
  const controller = new AbortController();
  let interrupted = 0;
  process.on("SIGINT", () => {
    // First Ctrl-C cancels cleanly; a second one means "now".
    if (++interrupted > 1) process.exit(130);
    controller.abort();
  });
  let engine: EngineProcess | undefined;
  const ctx: CliContext = {
    signal: controller.signal,
    stdout: process.stdout,
    stderr: process.stderr,
    engine: () => (engine ??= new EngineProcess({ enginePath: enginePath() })),
  };
  try {
    await command.run(args, ctx);
    return 0;
  } catch (err) {
    if (controller.signal.aborted && isCancellation(err)) {
      process.stderr.write("\ncancelled\n");
      return 130;
    }
    if (err instanceof UsageError || (err as { code?: string })?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      process.stderr.write(`error [cli/usage]: ${(err as Error).message}\nusage: ${command.usage}\n`);
      return 2;
    }
    if (err instanceof AppError) {
      process.stderr.write(`error [${err.code}]: ${err.message}\n`);
      if (process.env.PRISM_DEBUG && err.detail !== undefined)
        process.stderr.write(`${JSON.stringify(err.detail, null, 2)}\n`);
      return 1;
    }
    const e = err as Error & { code?: string };
    if (typeof e?.code === "string" && e.code.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`error [cli/usage]: ${e.message}\nusage: ${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`error [internal/unexpected]: ${e?.stack ?? String(err)}\n`);
    return 1;
  } finally {
    await engine?.dispose();
  }
}

process.exitCode = await main(process.argv.slice(2));
