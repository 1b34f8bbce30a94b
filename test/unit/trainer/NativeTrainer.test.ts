/**
 * How NativeTrainer turns a trainer's failure into a coded error, on stand-in binaries (shell scripts that speak the
 * trainer's JSON-lines contract, docs/trainer.md §10); the real trainer's runs are in test/model/trainer*.test.ts.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NativeTrainer } from "../../../src/core/distill/NativeTrainer.js";
import { distillSettingsSchema } from "../../../src/core/distill/distillSettings.js";

const dir = mkdtempSync(join(tmpdir(), "prism-native-trainer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in trainer that prints one error event and exits with `exitCode`. */
function failingTrainer(code: string, message: string, exitCode: number): string {
  const path = join(dir, `trainer-${exitCode}`);
  const event = JSON.stringify({ v: 1, event: "error", code, message, exitCode });
  writeFileSync(path, `#!/bin/sh\necho '${event}'\necho 'llama.cpp log line' >&2\nexit ${exitCode}\n`);
  chmodSync(path, 0o755);
  return path;
}

const lora = distillSettingsSchema.shape.lora.parse({});
const run = {
  basePath: join(dir, "base.gguf"),
  dataPath: join(dir, "train.jsonl"),
  outPath: join(dir, "adapter.gguf"),
  checkpointDir: join(dir, "ckpt"),
  settings: lora,
  firstBlock: 1,
  seed: 1,
};

describe("NativeTrainer errors", () => {
  it("a CPU the build does not fit is trainer/cpuUnsupported, with the trainer's words", async () => {
    const binaryPath = failingTrainer(
      "trainer/cpuUnsupported",
      "this CPU lacks AVX2, FMA, which this prism-trainer build (x86-64-v3) needs",
      7,
    );
    const err = await new NativeTrainer({ binaryPath, threads: 1 }).train(run).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "trainer/cpuUnsupported" });
    expect((err as Error).message).toContain("this CPU lacks AVX2, FMA");
  });

  it("any other failure is trainer/failed with the trainer's code, exit code and stderr tail", async () => {
    const binaryPath = failingTrainer("train/nonFinite", "loss is NaN at step 3", 6);
    const err = await new NativeTrainer({ binaryPath, threads: 1 }).train(run).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "trainer/failed", detail: { exitCode: 6, stderr: ["llama.cpp log line"] } });
    expect((err as Error).message).toContain("[train/nonFinite] loss is NaN at step 3");
  });
});
