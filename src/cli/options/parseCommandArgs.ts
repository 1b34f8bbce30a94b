import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../CliContext.js";
import type { CommandSpec, OptionTable, OptionValues, ParsedArgs, PositionalSpec } from "./CommandSpec.js";

/** `--help`/`-h`, accepted by every command. */
export const HELP_FLAG = { name: "help", short: "h" } as const;

/**
 * Parses a command's arguments against its {@link CommandSpec}: `node:util`'s `parseArgs` (strict) reads them, then
 * each option's own parser validates and applies its default. Returns `"help"` when `--help` or `-h` is among them,
 * whatever else is (so `prism distill --bogus --help` still helps).
 *
 * @throws UsageError (`cli/usage`, exit 2) for an unknown option (naming it and pointing to `--help`), a missing
 *   value, a missing required option, a wrong number of positional arguments, or a value an option refuses.
 */
export function parseCommandArgs<O extends OptionTable, P extends PositionalSpec | undefined>(
  spec: CommandSpec<O, P>,
  args: readonly string[],
): ParsedArgs<O, P> | "help" {
  const options: NonNullable<ParseArgsConfig["options"]> = {
    [HELP_FLAG.name]: { type: "boolean", short: HELP_FLAG.short },
  };
  for (const [name, option] of Object.entries(spec.options)) options[name] = { type: option.type };

  // A lenient pass first: --help wins over any mistake elsewhere on the line.
  const lenient = parseArgs({ args: [...args], options, strict: false, allowPositionals: true });
  if (lenient.values[HELP_FLAG.name] === true) return "help";

  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (err) {
    throw usageErrorOf(err, spec.name);
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const given = new Set(Object.keys(spec.options).filter((name) => raw[name] !== undefined));

  const missing = Object.entries(spec.options)
    .filter(([name, option]) => option.required && !given.has(name))
    .map(([name]) => `--${name}`);
  if (missing.length === 1) throw new UsageError(`${missing[0]} is required.`);
  if (missing.length > 1)
    throw new UsageError(`${missing.slice(0, -1).join(", ")} and ${missing.at(-1)} are required.`);

  let positional: string | undefined;
  if (spec.positional) {
    if (parsed.positionals.length !== 1) throw new UsageError(spec.positional.error);
    positional = parsed.positionals[0];
  } else if (parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument "${parsed.positionals[0]}".`);
  }

  const values: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(spec.options)) values[name] = option.parse(raw[name], name);
  return {
    values: values as OptionValues<O>,
    positional: positional as ParsedArgs<O, P>["positional"],
    given: given as ReadonlySet<keyof O & string>,
  };
}

/** `parseArgs`'s own errors (`ERR_PARSE_ARGS_*`) as usage errors; an unknown option points to the command's help. */
function usageErrorOf(err: unknown, command: string): unknown {
  const e = err as Error & { code?: unknown };
  if (typeof e?.code !== "string" || !e.code.startsWith("ERR_PARSE_ARGS")) return err;
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    // Node's message goes on to explain `--` for positional arguments; the option's name is what matters here.
    const option = /^Unknown option '([^']*)'/.exec(e.message)?.[1];
    if (option !== undefined) {
      return new UsageError(`Unknown option '${option}'; "prism ${command} --help" lists the options.`);
    }
  }
  return new UsageError(e.message);
}
