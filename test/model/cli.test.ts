import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixtures } from "./harness.js";

const CLI = join(process.cwd(), "dist", "cli.mjs");
const prism = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });

describe("prism CLI", () => {
  it("info --json prints the model facts", () => {
    const r = prism("info", fixtures.tiny, "--json", "--threads", "1", "--gpu", "false");
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({
      architecture: "llama",
      layers: 2,
      embeddingSize: 64,
      contextLength: 256,
      vocabSize: 260,
      hasChatTemplate: true,
    });
    expect(info.fileSize).toBeGreaterThan(400_000);
  });

  it("chat streams a deterministic answer, and an adapter changes it", () => {
    const args = ["chat", "--model", fixtures.tiny, "--threads", "1", "--gpu", "false", "--max-tokens", "16"];
    const a = prism(...args, "Hello");
    const b = prism(...args, "Hello");
    const adapted = prism(...args, "--adapter", fixtures.adapter, "--scale", "1", "Hello");
    const zero = prism(...args, "--adapter", fixtures.adapter, "--scale", "0", "Hello");
    for (const r of [a, b, adapted, zero]) expect(r.status, r.stderr).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(1);
    expect(b.stdout).toBe(a.stdout);
    expect(zero.stdout).toBe(a.stdout);
    expect(adapted.stdout).not.toBe(a.stdout);
  });

  it("reports a llama.cpp abort as error [engine/crashed] and exits 1", () => {
    const r = prism("info", fixtures.duplicateVocab, "--threads", "1", "--gpu", "false");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error \[engine\/crashed\]: .*(134|SIGABRT)/m);
  });

  it.each([
    [
      ["info", "/nonexistent/model.gguf", "--threads", "1"],
      1,
      /error \[engine\/modelNotFound\]: .*\/nonexistent\/model\.gguf/,
    ],
    [["chat", "--model", "x.gguf"], 2, /error \[cli\/usage\]: chat takes exactly one prompt/],
    [["chat", "hello"], 2, /error \[cli\/usage\]: --model is required/],
    [["info", "m.gguf", "--threads=-2"], 2, /error \[cli\/usage\]: --threads must be an integer/],
    [["info", "m.gguf", "--gpu", "tpu"], 2, /error \[cli\/usage\]: --gpu must be one of/],
    [["info", "m.gguf", "--bogus"], 2, /error \[cli\/usage\]: Unknown option '--bogus'; "prism info --help" lists/],
    [["frobnicate"], 2, /error \[cli\/usage\]: unknown command "frobnicate"/],
    [["distill", "--model", "m.gguf", "--out", "b.prism", "--loss", "mse"], 2, /error \[cli\/usage\]: --loss must be/],
  ])("%j exits %i with a coded message", (args, code, message) => {
    const r = prism(...(args as string[]));
    expect(r.status).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it("--help and --version answer on stdout with exit 0 from the built CLI", () => {
    const help = prism("distill", "--help");
    expect(help.status, help.stderr).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/^usage: prism distill --model <m\.gguf> --out <name\.prism> \[options\]\n/);
    expect(help.stdout).toMatch(
      /\n {2}--threads N +CPU threads of the engine \(1 to 1024; default: the physical cores\)\n/,
    );
    const list = prism("--help");
    expect(list.status).toBe(0);
    expect(list.stdout).toContain("\n  distill ");
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    expect(prism("--version")).toMatchObject({ status: 0, stdout: `${version}\n` });
  });

  it("distill --estimate measures this machine and prints the preset's work per stage without starting a job", () => {
    const dir = mkdtempSync(join(tmpdir(), "prism-estimate-"));
    const out = join(dir, "b.prism");
    const args = ["distill", "--model", fixtures.tiny, "--out", out, "--threads", "1", "--gpu", "false"];
    const r = prism(...args, "--preset", "quick", "--estimate", "--json");
    expect(r.status, r.stderr).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.preset).toBe("quick");
    expect(e.stages.map((s: { stage: number }) => s.stage)).toEqual([1, 2, 3, 4, 5]);
    // quick: 6 personas x 16 queries, two answers each, one judge pass each and a second for an assumed half
    expect(e.stages[0].items).toBe(96);
    expect(e.stages[1].items).toBe(192);
    expect(e.stages[2].items).toBe(144);
    for (const rate of ["promptTokensPerSecond", "generatedTokensPerSecond", "trainTokensPerSecond"])
      expect(e.rates[rate]).toBeGreaterThan(0);
    expect(e.totalSeconds).toBeGreaterThan(0);
    // stage 5's memory at quick's 512-token window: the model file and more, against this machine's memory
    expect(e.memory.window).toBe(512);
    expect(e.memory.trainerPeakBytes).toBeGreaterThan(statSync(fixtures.tiny).size);
    expect(e.memory.machineBytes).toBe(totalmem());
    expect(existsSync(`${out}.job`)).toBe(false);
    const text = prism(...args, "--preset", "paper", "--queries-per-persona", "2", "--estimate");
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^stage 1 queries: 24 items, .* tokens, ~\d+ (s|min)$/m);
    expect(text.stdout).toMatch(/^total ~.* on this machine$/m);
    expect(text.stdout).toMatch(
      /^LoRA trainer: up to ~[\d.]+ GB of memory at a 768-token window \(this machine has [\d.]+ GB\)$/m,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ["Ctrl-C", "SIGINT", 130],
    ["SIGTERM", "SIGTERM", 143],
  ] as const)("%s (%s) cancels a running stream cleanly with exit %i", async (_name, sig, exit) => {
    const child = spawn(process.execPath, [
      CLI,
      "chat",
      "--model",
      fixtures.slow,
      "--threads",
      "1",
      "--gpu",
      "false",
      "--context",
      "4096",
      "--max-tokens",
      "3000",
      "Write a very long story.",
    ]);
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.once("data", () => child.kill(sig));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(exit);
    expect(stderr).toMatch(/cancelled/);
  });
});
