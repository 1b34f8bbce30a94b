import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLI_COMMANDS } from "../../../src/cli/cliCommands.js";
import { CLI_VERSION } from "../../../src/cli/runCli.js";
import { runCliInProcess, type CliRun } from "../../../testkit/runCliInProcess.js";

/** Runs the CLI in-process (testkit/runCliInProcess.ts). */
function prism(...argv: string[]): Promise<CliRun> {
  return runCliInProcess(argv, "help and usage errors must not start the engine");
}

describe("runCli: help, version and usage errors", () => {
  it("--version and -V print package.json's version", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    expect(CLI_VERSION).toBe(version);
    for (const flag of ["--version", "-V"])
      expect(await prism(flag)).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("prism --help, -h and help list the commands on stdout and exit 0; no arguments lists them on stderr, exit 2", async () => {
    for (const flag of ["--help", "-h", "help"]) {
      const r = await prism(flag);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      for (const c of CLI_COMMANDS) expect(r.stdout).toContain(`  ${c.spec.name} `);
    }
    const none = await prism();
    expect(none.code).toBe(2);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain("usage: prism <command> [options]");
  });

  it.each(CLI_COMMANDS.map((c) => [c.spec.name] as const))(
    "prism %s --help (and -h, and prism help …) prints the command's help and exits 0",
    async (name) => {
      const words = name.split(" ");
      const long = await prism(...words, "--help");
      expect(long.code).toBe(0);
      expect(long.stderr).toBe("");
      expect(long.stdout).toMatch(new RegExp(`^usage: prism ${name} `));
      expect(long.stdout).toContain("Options:");
      expect(await prism(...words, "-h")).toEqual(long);
      expect(await prism("help", ...words)).toEqual(long);
    },
  );

  it("prism world --help shows both subcommands; a missing or wrong subcommand is a usage error", async () => {
    const help = await prism("world", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: prism world build ");
    expect(help.stdout).toContain("usage: prism world distill ");
    const none = await prism("world");
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error \[cli\/usage\]: world needs a subcommand, build or distill\.\n/);
    const wrong = await prism("world", "grow");
    expect(wrong.stderr).toMatch(/^error \[cli\/usage\]: world needs a subcommand, build or distill; got "grow"\./);
  });

  it("an unknown command or option is cli/usage, exit 2, naming it and pointing to --help", async () => {
    const command = await prism("frobnicate");
    expect(command.code).toBe(2);
    expect(command.stderr).toBe(
      'error [cli/usage]: unknown command "frobnicate"; "prism --help" lists the commands.\n',
    );
    const option = await prism("distill", "--model", "m.gguf", "--out", "b.prism", "--bogus");
    expect(option.code).toBe(2);
    expect(option.stdout).toBe("");
    expect(option.stderr).toBe(
      `error [cli/usage]: Unknown option '--bogus'; "prism distill --help" lists the options.\n` +
        "usage: prism distill --model <m.gguf> --out <name.prism> [options]\n",
    );
  });

  it.each([
    [
      ["info", "m.gguf", "--threads=-2"],
      /^error \[cli\/usage\]: --threads must be an integer from 1 to 1024, got "-2"\./,
    ],
    [
      ["info", "m.gguf", "--gpu", "tpu"],
      /^error \[cli\/usage\]: --gpu must be one of auto, cuda, vulkan, metal, false, got "tpu"\./,
    ],
    [["chat", "hello"], /^error \[cli\/usage\]: --model is required\./],
    [["chat", "--model", "x.gguf"], /^error \[cli\/usage\]: chat takes exactly one prompt \(quote it\)\./],
    [["chat", "--model", "x.gguf", "--scale", "2", "hi"], /^error \[cli\/usage\]: --scale needs --adapter\./],
    [
      ["chat", "--model", "x.gguf", "--context", "8", "hi"],
      /^error \[cli\/usage\]: --context must be an integer from 16 to/,
    ],
    [["route", "--bundle", "b", "--mode", "sideways", "hi"], /^error \[cli\/usage\]: --mode must be one of hard, soft/],
    [
      ["distill", "--model", "m", "--out", "o", "--loss", "mse"],
      /^error \[cli\/usage\]: --loss must be one of kl, sft/,
    ],
    [
      ["distill", "--model", "m", "--out", "o", "--gate-features", "layer:x"],
      /--gate-features must be final or layer:K/,
    ],
    [["train", "--model", "m"], /^error \[cli\/usage\]: --data and --out are required\./],
    [
      ["train", "--model", "m", "--data", "d", "--out", "o", "--targets", "attn_z"],
      /--targets: unknown item\(s\) attn_z/,
    ],
    [["make-model", "--out", "x.gguf", "--size", "huge"], /^error \[cli\/usage\]: --size must be one of tiny, bench/],
    [["make-model", "--out", "x.gguf", "--arch", "phi3"], /^error \[cli\/usage\]: --arch needs --tokenizer-dir\./],
    [["gate-eval", "--bundle", "b"], /^error \[cli\/usage\]: --labelled is required\./],
    [
      ["eval", "--world", "w", "--bundle", "b", "--max-tokens", "5000"],
      /--max-tokens must be an integer from 1 to 4096/,
    ],
    [["world", "distill", "--world", "w"], /^error \[cli\/usage\]: --out is required\./],
    [["world", "build", "--out", "w", "extra"], /^error \[cli\/usage\]: unexpected argument "extra"\./],
  ])("%j is refused with exit 2 before any work", async (argv, message) => {
    const r = await prism(...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\nusage: prism [a-z -]+ /);
  });
});
