import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliContext } from "../../../src/cli/CliContext.js";
import { makeModelCommand } from "../../../src/cli/commands/makeModelCommand.js";
import { GgufValueType } from "../../../src/core/gguf/ggufTypes.js";
import { readGguf, requireGgufValue } from "../../../src/core/gguf/readGguf.js";
import { REAL_MODELS_DIR, realModelPath, tokenizerDir } from "../../../testkit/realModels.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-make-model-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(): { ctx: CliContext; out: () => string } {
  const stdout = new PassThrough();
  let text = "";
  stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const ctx: CliContext = {
    signal: new AbortController().signal,
    stdout,
    stderr: new PassThrough(),
    engine: () => {
      throw new Error("make-model needs no engine");
    },
  };
  return { ctx, out: () => text };
}

describe("prism make-model --arch", { timeout: 30_000 }, () => {
  it("writes the vendor-shaped model from a tokenizer folder", async () => {
    const out = join(dir, "mistral.gguf");
    const { ctx, out: stdout } = context();
    await makeModelCommand(["--arch", "mistral", "--tokenizer-dir", tokenizerDir("mistral"), "--out", out], ctx);
    const file = await readGguf(out);
    expect(requireGgufValue(file, "general.architecture", GgufValueType.String)).toBe("llama");
    expect(requireGgufValue(file, "tokenizer.chat_template", GgufValueType.String)).toContain("[INST]");
    expect(stdout()).toMatch(/^wrote .*mistral\.gguf \(\d+ bytes, llama, 32000 tokens, \d+ parameters\)\n$/);
  });

  it("rejects an unknown architecture, a missing tokenizer folder and flags of the synthetic models", async () => {
    const { ctx } = context();
    const out = join(dir, "x.gguf");
    await expect(makeModelCommand(["--arch", "gpt5", "--tokenizer-dir", dir, "--out", out], ctx)).rejects.toMatchObject(
      { code: "cli/usage", message: expect.stringContaining("llama3, qwen2, qwen3, gemma3, phi3, mistral") },
    );
    await expect(makeModelCommand(["--arch", "phi3", "--out", out], ctx)).rejects.toMatchObject({ code: "cli/usage" });
    await expect(
      makeModelCommand(["--arch", "phi3", "--tokenizer-dir", dir, "--size", "bench", "--out", out], ctx),
    ).rejects.toMatchObject({ code: "cli/usage" });
    await expect(makeModelCommand(["--arch", "phi3", "--tokenizer-dir", dir, "--out", out], ctx)).rejects.toMatchObject(
      { code: "gguf/notFound" },
    );
    await expect(stat(out)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("realModelPath", { timeout: 30_000 }, () => {
  it("makes a fixture once, under .cache/real-models, and answers concurrent callers with the same file", async () => {
    const [a, b] = await Promise.all([realModelPath("phi3"), realModelPath("phi3")]);
    expect(a).toBe(b);
    expect(a.startsWith(REAL_MODELS_DIR)).toBe(true);
    expect(a).toMatch(/phi3-[0-9a-f]{16}\.gguf$/);
    expect((await stat(a)).size).toBeGreaterThan(8_000_000);
  });
});
