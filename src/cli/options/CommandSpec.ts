import type { CliOption } from "./CliOption.js";

/** A command's options by flag name (without `--`). */
export type OptionTable = Record<string, CliOption<unknown>>;

/** The one positional argument a command may take (a prompt, a model path). */
export interface PositionalSpec {
  /** As usage lines show it: `<model.gguf>`, `"<prompt>"`. */
  name: string;
  /** One line for `--help`. */
  description: string;
  /** The usage error when there is not exactly one (`chat takes exactly one prompt (quote it).`). */
  error: string;
}

/**
 * Everything about one command's command line, in one place: `parseCommandArgs` parses and validates from it,
 * `formatCommandHelp` writes its `--help`, and `prism --help` lists its summary.
 */
export interface CommandSpec<O extends OptionTable = OptionTable, P extends PositionalSpec | undefined = undefined> {
  /** The words after `prism`: `chat`, or `world build` for a subcommand. */
  name: string;
  /** One line for the command list of `prism --help`. */
  summary: string;
  /** What the command does, in more detail, for its `--help`; paragraphs separated by blank lines. */
  description?: string;
  /** The one positional argument; without it, any positional argument is a usage error. */
  positional?: P;
  /** The options, in the order help lists them; `--help`/`-h` is added to every command. */
  options: O;
}

/** The values of an option table, typed by each option's parser. */
export type OptionValues<O extends OptionTable> = { [K in keyof O]: O[K] extends CliOption<infer T> ? T : never };

/** A parsed command line. */
export interface ParsedArgs<O extends OptionTable, P extends PositionalSpec | undefined> {
  /** Every declared option's value, defaults applied. */
  values: OptionValues<O>;
  /** The positional argument; undefined for a command that takes none. */
  positional: P extends PositionalSpec ? string : undefined;
  /** The options given on the command line (for rules between options, like "--scale needs --adapter"). */
  given: ReadonlySet<keyof O & string>;
}
