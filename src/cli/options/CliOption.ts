import { UsageError } from "../CliContext.js";

/**
 * One command-line option as a command declares it: how `node:util`'s `parseArgs` reads it, how its text becomes a
 * value (strictly, throwing {@link UsageError} — `cli/usage`, exit 2 — that names the flag), its default, and how
 * `--help` documents it. The same object can serve several flags (`--rank` and `--epochs` are both
 * {@link intOption}s): the flag's name is passed to {@link CliOption.parse}.
 */
export interface CliOption<T> {
  /** `string` options take a value (`--x v` or `--x=v`); `boolean` ones are switches. */
  readonly type: "string" | "boolean";
  /** The value's placeholder in usage lines and help (`N`, `<m.gguf>`, `hard|soft`); none for switches. */
  readonly valueName?: string;
  /** What the option does, one line for `--help`. */
  readonly description: string;
  /** The accepted values when the placeholder does not show them (`1 to 1024`). */
  readonly constraint?: string;
  /** An absent required option is a usage error (`--model is required.`). Defaults to false. */
  readonly required?: boolean;
  /** The default as `--help` shows it; undefined when there is none to show. */
  readonly defaultText?: string;
  /**
   * Turns what `parseArgs` read — the text, `true` for a given switch, undefined when absent — into the value,
   * applying the default.
   *
   * @throws UsageError naming `--<name>` and the value when it is not accepted.
   */
  parse(raw: string | boolean | undefined, name: string): T;
}

/** The help and default fields every value-taking option factory accepts. */
export interface ValueOptionSpec<D> {
  /** See {@link CliOption.description}. */
  description: string;
  /** See {@link CliOption.valueName}. */
  valueName?: string;
  /** A default, or a function computing it when the option is absent (`defaultThreadCount`). */
  default?: D | (() => D);
  /**
   * The default as help shows it. Defaults to the default's text when it is a plain value; set it for a computed
   * default, or for one that a callee applies to an absent value (a settings schema, the model's own context).
   */
  defaultText?: string;
}

/**
 * The value type of an option: required or defaulted ones always have a value, others may be undefined. The
 * factories wrap `D` and `R` in `NoInfer` in their return types: inside a command's option table, TypeScript would
 * otherwise infer an absent default's `D` from the table's contextual type `CliOption<unknown>`, typing every option
 * without a default as `unknown` instead of `T | undefined`.
 */
type Valued<T, D, R> = R extends true ? T : T | D;

/**
 * The common core of every value-taking option: `convert` checks and converts a given text; absence yields the
 * default (or undefined).
 */
function valueOption<T, D, R extends boolean>(
  spec: ValueOptionSpec<D> & { required?: R; constraint?: string; convert(text: string, name: string): T },
): CliOption<Valued<T, D, R>> {
  const fallback = spec.default;
  return {
    type: "string",
    valueName: spec.valueName ?? "<value>",
    description: spec.description,
    constraint: spec.constraint,
    required: spec.required === true,
    defaultText:
      spec.defaultText ?? (fallback === undefined || typeof fallback === "function" ? undefined : String(fallback)),
    parse: (raw, name) => {
      if (typeof raw === "string") return spec.convert(raw, name);
      return (typeof fallback === "function" ? (fallback as () => D)() : fallback) as Valued<T, D, R>;
    },
  };
}

/** A switch: true when given, else false. */
export function flagOption(description: string): CliOption<boolean> {
  return { type: "boolean", description, parse: (raw) => raw === true };
}

/** A free-text option (a path, a URL, a prompt). */
export function stringOption<D = undefined, R extends boolean = false>(
  spec: ValueOptionSpec<D> & { required?: R },
): CliOption<Valued<string, NoInfer<D>, NoInfer<R>>> {
  return valueOption({ ...spec, convert: (text) => text });
}

/** An integer in `[min, max]`, parsed strictly: `4x`, `1.5` and `1e3` are refused, not truncated. */
export function intOption<D = undefined>(
  spec: ValueOptionSpec<D> & { min: number; max?: number },
): CliOption<number | NoInfer<D>> {
  const max = spec.max ?? Number.MAX_SAFE_INTEGER;
  return valueOption({
    valueName: "N",
    ...spec,
    constraint: `${spec.min} to ${max}`,
    convert: (text, name) => {
      const n = Number(text);
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < spec.min || n > max) {
        throw new UsageError(`--${name} must be an integer from ${spec.min} to ${max}, got "${text}".`);
      }
      return n;
    },
  });
}

/** A finite number in `[min, max]`, parsed strictly (`Number`, so `2e-4` is fine and `0.5x` is not). */
export function numberOption<D = undefined>(
  spec: ValueOptionSpec<D> & { min: number; max: number },
): CliOption<number | NoInfer<D>> {
  return valueOption({
    valueName: "X",
    ...spec,
    constraint: `${spec.min} to ${spec.max}`,
    convert: (text, name) => {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n) || n < spec.min || n > spec.max) {
        throw new UsageError(`--${name} must be a number from ${spec.min} to ${spec.max}, got "${text}".`);
      }
      return n;
    },
  });
}

/** One of a fixed list of words; the placeholder lists them (`hard|soft|base`). */
export function choiceOption<C extends string, const D = undefined>(
  spec: ValueOptionSpec<D> & { choices: readonly C[] },
): CliOption<C | NoInfer<D>> {
  return valueOption({
    valueName: spec.choices.join("|"),
    ...spec,
    convert: (text, name) => {
      if ((spec.choices as readonly string[]).includes(text)) return text as C;
      throw new UsageError(`--${name} must be one of ${spec.choices.join(", ")}, got "${text}".`);
    },
  });
}

/**
 * A comma-separated list (`a,b`); items are trimmed and empty ones dropped. With `choices`, every item must be one of
 * them.
 */
export function listOption<C extends string = string, D = undefined>(
  spec: ValueOptionSpec<D> & { choices?: readonly C[] },
): CliOption<C[] | NoInfer<D>> {
  return valueOption({
    valueName: "a,b",
    ...spec,
    constraint: spec.choices ? `each one of ${spec.choices.join(", ")}` : undefined,
    convert: (text, name) => {
      const items = text
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean);
      if (items.length === 0) throw new UsageError(`--${name} needs at least one item, got "${text}".`);
      const unknown = spec.choices ? items.filter((item) => !(spec.choices as readonly string[]).includes(item)) : [];
      if (unknown.length) {
        throw new UsageError(
          `--${name}: unknown item(s) ${unknown.join(", ")}; each must be one of ${spec.choices!.join(", ")}.`,
        );
      }
      return items as C[];
    },
  });
}

/**
 * An option with its own syntax (`--gate-features layer:K/mean`): `convert` returns the value or undefined for a
 * text it refuses, and `error` says what is accepted.
 */
export function customOption<T, D = undefined>(
  spec: ValueOptionSpec<D> & { convert(text: string): T | undefined; error: string },
): CliOption<T | NoInfer<D>> {
  return valueOption({
    ...spec,
    convert: (text, name) => {
      const value = spec.convert(text);
      if (value === undefined) throw new UsageError(`--${name} ${spec.error}`);
      return value;
    },
  });
}
