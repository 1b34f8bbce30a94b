import { describe, expect, it } from "vitest";
import { flagOption, intOption, stringOption } from "../../../src/cli/options/CliOption.js";
import { parseCommandArgs } from "../../../src/cli/options/parseCommandArgs.js";

const usage = (message: string) => expect.objectContaining({ code: "cli/usage", message });

const withPrompt = {
  name: "demo",
  summary: "a demo",
  positional: { name: '"<prompt>"', description: "the prompt", error: "demo takes exactly one prompt (quote it)." },
  options: {
    model: stringOption({ valueName: "<m.gguf>", description: "model", required: true }),
    out: stringOption({ description: "out", required: true }),
    count: intOption({ description: "count", min: 1, max: 9, default: 3 }),
    json: flagOption("json"),
  },
};
const noPositional = { name: "plain", summary: "no positional", options: { json: flagOption("json") } };

describe("parseCommandArgs", () => {
  it("returns typed values with defaults applied, the positional, and which options were given", () => {
    const parsed = parseCommandArgs(withPrompt, ["--model", "m.gguf", "hello", "--out=o", "--json"]);
    if (parsed === "help") throw new Error("not help");
    expect(parsed.values).toEqual({ model: "m.gguf", out: "o", count: 3, json: true });
    expect(parsed.positional).toBe("hello");
    expect([...parsed.given].sort()).toEqual(["json", "model", "out"]);
  });

  it("names every missing required option", () => {
    expect(() => parseCommandArgs(withPrompt, ["--out", "o", "hi"])).toThrow(usage("--model is required."));
    expect(() => parseCommandArgs(withPrompt, ["hi"])).toThrow(usage("--model and --out are required."));
  });

  it("checks the positional count with the command's message, and refuses positionals a command does not take", () => {
    const flags = ["--model", "m", "--out", "o"];
    expect(() => parseCommandArgs(withPrompt, flags)).toThrow(usage("demo takes exactly one prompt (quote it)."));
    expect(() => parseCommandArgs(withPrompt, [...flags, "a", "b"])).toThrow(
      usage("demo takes exactly one prompt (quote it)."),
    );
    expect(() => parseCommandArgs(noPositional, ["stray"])).toThrow(usage('unexpected argument "stray".'));
  });

  it("turns an unknown option into cli/usage that names it and points to the command's --help", () => {
    expect(() => parseCommandArgs(noPositional, ["--bogus"])).toThrow(
      usage(`Unknown option '--bogus'; "prism plain --help" lists the options.`),
    );
    expect(() => parseCommandArgs(noPositional, ["-x"])).toThrow(
      usage(`Unknown option '-x'; "prism plain --help" lists the options.`),
    );
  });

  it("turns parseArgs's other errors (a missing value, a value for a switch) into cli/usage", () => {
    expect(() => parseCommandArgs(withPrompt, ["hi", "--out", "o", "--model"])).toThrow(
      expect.objectContaining({ code: "cli/usage", message: expect.stringContaining("--model") }),
    );
    expect(() => parseCommandArgs(noPositional, ["--json=yes"])).toThrow(
      expect.objectContaining({ code: "cli/usage", message: expect.stringContaining("--json") }),
    );
  });

  it("validates each value with its option's parser", () => {
    expect(() => parseCommandArgs(withPrompt, ["--model", "m", "--out", "o", "--count", "10", "hi"])).toThrow(
      usage('--count must be an integer from 1 to 9, got "10".'),
    );
  });

  it("answers --help and -h before any other check, even on a wrong command line", () => {
    expect(parseCommandArgs(withPrompt, ["--help"])).toBe("help");
    expect(parseCommandArgs(withPrompt, ["-h"])).toBe("help");
    expect(parseCommandArgs(withPrompt, ["--bogus", "--count", "99", "--help"])).toBe("help");
    // After `--` it is a positional argument, not a request for help.
    const parsed = parseCommandArgs(withPrompt, ["--model", "m", "--out", "o", "--", "--help"]);
    expect(parsed !== "help" && parsed.positional).toBe("--help");
  });
});
