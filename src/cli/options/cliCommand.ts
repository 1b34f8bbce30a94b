import type { CliContext } from "../CliContext.js";
import type { CommandSpec, OptionTable, ParsedArgs, PositionalSpec } from "./CommandSpec.js";
import { formatCommandHelp } from "./formatCommandHelp.js";
import { parseCommandArgs } from "./parseCommandArgs.js";

/**
 * A runnable command: called with its raw arguments (everything after its name), it parses them against `spec`,
 * prints its help for `--help`/`-h`, and otherwise runs. `spec` is attached so the CLI can list and document it.
 */
export interface CliCommand {
  (args: string[], ctx: CliContext): Promise<void>;
  /** The command's declaration: name, summary, positional argument, options. */
  readonly spec: CommandSpec<OptionTable, PositionalSpec | undefined>;
}

/**
 * Binds a command's declaration to its body. The body gets the parsed, validated values with defaults applied; it
 * throws `UsageError` only for rules between options (`--scale needs --adapter`) that no single option can check.
 */
export function cliCommand<O extends OptionTable, P extends PositionalSpec | undefined = undefined>(
  spec: CommandSpec<O, P>,
  run: (args: ParsedArgs<O, P>, ctx: CliContext) => Promise<void>,
): CliCommand {
  const command = async (args: string[], ctx: CliContext): Promise<void> => {
    const parsed = parseCommandArgs(spec, args);
    if (parsed === "help") {
      ctx.stdout.write(formatCommandHelp(spec));
      return;
    }
    await run(parsed, ctx);
  };
  return Object.assign(command, { spec: spec as CommandSpec<OptionTable, PositionalSpec | undefined> });
}
