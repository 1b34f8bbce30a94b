import { describe, expect, it } from "vitest";
import { CLI_COMMANDS } from "../../../src/cli/cliCommands.js";
import { flagOption, intOption, stringOption } from "../../../src/cli/options/CliOption.js";
import { formatCommandHelp, formatCommandList, formatUsage } from "../../../src/cli/options/formatCommandHelp.js";

describe("help generated from the command declarations", () => {
  it("every command declares a summary, a description of every option, and no option of its own named help", () => {
    const names = CLI_COMMANDS.map((c) => c.spec.name);
    expect(new Set(names).size).toBe(names.length);
    for (const { spec } of CLI_COMMANDS) {
      expect(spec.summary.length, spec.name).toBeGreaterThan(10);
      expect(Object.keys(spec.options), spec.name).not.toContain("help");
      for (const [name, option] of Object.entries(spec.options)) {
        expect(option.description.length, `${spec.name} --${name}`).toBeGreaterThan(3);
        if (option.type === "string") expect(option.valueName, `${spec.name} --${name}`).toBeTruthy();
      }
    }
  });

  it.each(CLI_COMMANDS.map((c) => [c.spec.name, c] as const))(
    "prism %s --help shows its usage line, description and every option with its default",
    (name, command) => {
      const { spec } = command;
      const help = formatCommandHelp(spec);
      expect(help.startsWith(`usage: ${formatUsage(spec)}\n\n`)).toBe(true);
      expect(formatUsage(spec).startsWith(`prism ${name} `)).toBe(true);
      const text = help.replace(/\s+/g, " ");
      expect(text).toContain((spec.description ?? spec.summary).replace(/\s+/g, " ").trim());
      if (spec.positional) expect(help).toContain(`\n  ${spec.positional.name}  `);
      for (const [flag, option] of Object.entries(spec.options)) {
        const shown = option.type === "boolean" ? `--${flag}` : `--${flag} ${option.valueName}`;
        expect(help, shown).toContain(`\n  ${shown}`);
        expect(text).toContain(option.description);
        if (option.required) expect(text).toContain(`${option.description} (`);
        if (option.defaultText !== undefined) expect(text).toContain(`default: ${option.defaultText})`);
        if (option.constraint !== undefined) expect(text).toContain(option.constraint);
      }
      expect(help).toContain("\n  -h, --help");
    },
  );

  it("shows the shared groups the same way in every command and the defaults the code applies", () => {
    const help = (name: string) => formatCommandHelp(CLI_COMMANDS.find((c) => c.spec.name === name)!.spec);
    for (const name of ["info", "chat", "distill", "route", "gate-eval", "train"]) {
      expect(help(name)).toMatch(/--threads N +CPU threads of the engine \(1 to 1024; default: the physical cores\)/);
      expect(help(name)).toMatch(
        /--gpu auto\|cuda\|vulkan\|metal\|false\s+the GPU backend; false runs on the CPU \(default: auto\)/,
      );
    }
    expect(help("chat")).toMatch(/--max-tokens N +the most tokens an answer may have \(1 to 1048576; default: 256\)/);
    expect(help("distill")).toMatch(/--rank N +LoRA rank \(1 to 512; default: 16\)/);
    expect(help("train")).toMatch(/--seed N +the trainer's seed \(0 to 2147483647; default: 42\)/);
    expect(help("route")).toMatch(/--mode hard\|soft\|base\|persona\|compare\s+the routing mode \(default: hard\)/);
  });

  it("marks required options, spells them in the usage line, and wraps long descriptions under their text", () => {
    const spec = {
      name: "demo",
      summary: "a demo",
      description: "First paragraph.\n\nSecond paragraph.",
      positional: { name: "<file>", description: "a file", error: "one file" },
      options: {
        model: stringOption({ valueName: "<m.gguf>", description: "the model", required: true }),
        "a-very-long-option-name-indeed": intOption({ description: "word ".repeat(40).trim(), min: 0, max: 9 }),
        json: flagOption("print JSON"),
      },
    };
    expect(formatUsage(spec)).toBe("prism demo --model <m.gguf> [options] <file>");
    const help = formatCommandHelp(spec);
    expect(help).toContain("First paragraph.\n\nSecond paragraph.\n\nArguments:\n");
    expect(help).toMatch(/\n {2}--model <m.gguf> +the model \(required\)\n/);
    expect(help).toContain("\n  --a-very-long-option-name-indeed N\n");
    for (const line of help.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    expect(help).toMatch(/word \(0 to 9\)\n/);
  });

  it("prism --help lists every command with its summary and the version", () => {
    const list = formatCommandList(
      CLI_COMMANDS.map((c) => c.spec),
      "9.9.9",
    );
    expect(list).toMatch(/^prism 9\.9\.9: /);
    expect(list).toContain('Run "prism <command> --help"');
    for (const { spec } of CLI_COMMANDS)
      expect(list).toMatch(new RegExp(`\\n  ${spec.name} +${spec.summary.slice(0, 20)}`));
  });
});
