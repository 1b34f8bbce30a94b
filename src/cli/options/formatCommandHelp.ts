import type { CliOption } from "./CliOption.js";
import type { CommandSpec, OptionTable, PositionalSpec } from "./CommandSpec.js";
import { HELP_FLAG } from "./parseCommandArgs.js";

/** Help text is wrapped to this width, a common terminal's. */
const WIDTH = 100;
/** Flags longer than this put their description on the next line. */
const FLAG_COLUMN = 30;

type AnySpec = CommandSpec<OptionTable, PositionalSpec | undefined>;

/** `--name <value>`, as usage lines and help show an option. */
function flagText(name: string, option: CliOption<unknown>): string {
  return option.type === "boolean" ? `--${name}` : `--${name} ${option.valueName ?? "<value>"}`;
}

/**
 * The usage line: required options spelled out, the rest as `[options]`, then the positional argument. The full
 * list is the `--help` text, so that a usage error stays one readable line.
 */
export function formatUsage(spec: AnySpec): string {
  const parts = [`prism ${spec.name}`];
  for (const [name, option] of Object.entries(spec.options)) if (option.required) parts.push(flagText(name, option));
  parts.push("[options]");
  if (spec.positional) parts.push(spec.positional.name);
  return parts.join(" ");
}

/** An option's help line after its flag: what it does, the accepted values, required or its default. */
function describe(option: CliOption<unknown>): string {
  const notes: string[] = [];
  if (option.constraint) notes.push(option.constraint);
  if (option.required) notes.push("required");
  else if (option.defaultText !== undefined) notes.push(`default: ${option.defaultText}`);
  return notes.length ? `${option.description} (${notes.join("; ")})` : option.description;
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** Two columns, `  flag  description`, the description wrapped with a hanging indent. */
function table(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const column = Math.min(FLAG_COLUMN, Math.max(...rows.map(([left]) => left.length)));
  const indent = " ".repeat(2 + column + 2);
  const out: string[] = [];
  for (const [left, right] of rows) {
    const lines = wrap(right, WIDTH - indent.length);
    if (left.length > column) out.push(`  ${left}`);
    else out.push(`  ${left.padEnd(column)}  ${lines.shift() ?? ""}`.trimEnd());
    for (const line of lines) out.push(`${indent}${line}`);
  }
  return out;
}

/**
 * `prism <command> --help`: the usage line, the description, the positional argument, and every option with its
 * accepted values and default, all generated from the command's {@link CommandSpec}.
 */
export function formatCommandHelp(spec: AnySpec): string {
  const out = [`usage: ${formatUsage(spec)}`, ""];
  for (const paragraph of (spec.description ?? spec.summary).split(/\n\s*\n/)) out.push(...wrap(paragraph, WIDTH), "");
  if (spec.positional) out.push("Arguments:", ...table([[spec.positional.name, spec.positional.description]]), "");
  const rows: Array<readonly [string, string]> = Object.entries(spec.options).map(([name, option]) => [
    flagText(name, option),
    describe(option),
  ]);
  rows.push([`-${HELP_FLAG.short}, --${HELP_FLAG.name}`, "print this help and exit"]);
  out.push("Options:", ...table(rows));
  return `${out.join("\n")}\n`;
}

/** `prism --help`: the version, every command with its summary, and where to read more. */
export function formatCommandList(specs: readonly AnySpec[], version: string): string {
  return [
    `prism ${version}: PRISM persona routing for local GGUF models, from the command line`,
    "",
    "usage: prism <command> [options]",
    "",
    "Commands:",
    ...table(specs.map((spec) => [spec.name, spec.summary])),
    "",
    'Run "prism <command> --help" for a command\'s options, "prism --version" for the version.',
    "Errors print as error [<code>]: <message> and exit 1; usage errors exit 2; Ctrl-C cancels (exit 130).",
    "",
  ].join("\n");
}
