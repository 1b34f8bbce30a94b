import { version } from "../../package.json";
import type { EngineProcess } from "../core/engine/EngineProcess.js";
import { AppError, isCancellation } from "../core/errors.js";
import { CLI_COMMANDS } from "./cliCommands.js";
import { UsageError, type CliContext } from "./CliContext.js";
import type { CliCommand } from "./options/cliCommand.js";
import { formatCommandHelp, formatCommandList, formatUsage } from "./options/formatCommandHelp.js";

/** What the CLI runs against: its output streams, the Ctrl-C signal, and how to start the engine. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Aborted by Ctrl-C; a command that then fails with a cancellation exits 130. */
  signal: AbortSignal;
  /** Starts the engine process; called at most once, on a command's first use, and disposed when it ends. */
  startEngine(): EngineProcess;
}

/** The package version, from package.json at build time (esbuild inlines only this field). */
export const CLI_VERSION: string = version;

const isHelp = (arg: string | undefined) => arg === "--help" || arg === "-h";

/**
 * Runs `prism <argv>` and returns its exit code: 0, 1 for an error (`error [<code>]: <message>` on stderr), 2 for a
 * usage error (the message and the command's usage line), 130 when Ctrl-C cancelled it. `--help`, `-h`,
 * `prism help [<command>]` and `--version`/`-V` print to stdout and exit 0.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(
      formatCommandList(
        CLI_COMMANDS.map((c) => c.spec),
        CLI_VERSION,
      ),
    );
    return 2;
  }
  if (first === "--version" || first === "-V") {
    io.stdout.write(`${CLI_VERSION}\n`);
    return 0;
  }
  if (first === "help" || isHelp(first)) {
    if (rest.length === 0) {
      io.stdout.write(
        formatCommandList(
          CLI_COMMANDS.map((c) => c.spec),
          CLI_VERSION,
        ),
      );
      return 0;
    }
    // `prism help world build` reads as `prism world build --help`.
    return runCli([...rest, "--help"], io);
  }

  const group = CLI_COMMANDS.filter((c) => c.spec.name.startsWith(`${first} `));
  let command = CLI_COMMANDS.find((c) => c.spec.name === first);
  let args = rest;
  if (!command && group.length > 0) {
    const [sub, ...subArgs] = rest;
    command = group.find((c) => c.spec.name === `${first} ${sub}`);
    args = subArgs;
    if (!command && isHelp(sub)) {
      io.stdout.write(group.map((c) => `${formatCommandHelp(c.spec)}\n`).join(""));
      return 0;
    }
    if (!command) {
      const subs = group.map((c) => c.spec.name.slice(first.length + 1));
      const got = sub === undefined ? "" : `; got "${sub}"`;
      io.stderr.write(
        `error [cli/usage]: ${first} needs a subcommand, ${subs.join(" or ")}${got}.\n` +
          `usage:\n${group.map((c) => `  ${formatUsage(c.spec)}\n`).join("")}`,
      );
      return 2;
    }
  }
  if (!command) {
    io.stderr.write(`error [cli/usage]: unknown command "${first}"; "prism --help" lists the commands.\n`);
    return 2;
  }
  return runCommand(command, args, io);
}

/** Runs one command with a lazily started engine, and maps what it throws to an exit code. */
async function runCommand(command: CliCommand, args: string[], io: CliIo): Promise<number> {
  let engine: EngineProcess | undefined;
  const ctx: CliContext = {
    signal: io.signal,
    stdout: io.stdout,
    stderr: io.stderr,
    engine: () => (engine ??= io.startEngine()),
  };
  try {
    await command(args, ctx);
    return 0;
  } catch (err) {
    if (io.signal.aborted && isCancellation(err)) {
      io.stderr.write("\ncancelled\n");
      return 130;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error [cli/usage]: ${err.message}\nusage: ${formatUsage(command.spec)}\n`);
      return 2;
    }
    if (err instanceof AppError) {
      io.stderr.write(`error [${err.code}]: ${err.message}\n`);
      if (process.env.PRISM_DEBUG && err.detail !== undefined)
        io.stderr.write(`${JSON.stringify(err.detail, null, 2)}\n`);
      return 1;
    }
    const e = err as Error | undefined;
    io.stderr.write(`error [internal/unexpected]: ${e?.stack ?? String(err)}\n`);
    return 1;
  } finally {
    await engine?.dispose();
  }
}
