/**
 * prism-trainer failure paths and their contract: one JSON `error` event with a code, the documented exit code
 * (docs/trainer.md §10), and no partial output. Also cancellation and resume after a kill.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticAdapter } from "../../src/core/gguf/syntheticModel.js";
import {
  BOS,
  EOS,
  byteModel,
  eventsOf,
  fixedAnswerSamples,
  loraArgs,
  readF32Tensors,
  runTrainer,
  sumAbs,
  trainerBinary,
  writeJsonl,
  type TrainerRun,
} from "../../testkit/trainerKit.js";

let bin = "";
let base = "";
let dir = "";
let data = "";

beforeAll(async () => {
  bin = trainerBinary();
  base = await byteModel({ blocks: 2 });
  dir = mkdtempSync(join(tmpdir(), "prism-trainer-err-"));
  data = writeJsonl(join(dir, "data.jsonl"), fixedAnswerSamples(40, " yes"));
}, 15 * 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectError(run: TrainerRun, exitCode: number, code: string): void {
  expect(run.code, run.stderr.slice(-1500)).toBe(exitCode);
  const errors = eventsOf(run, "error");
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ code, exitCode, message: expect.any(String) });
  expect(run.events.at(-1)!.event).toBe("error");
}

const noPartials = () => expect(readdirSync(dir).filter((f) => f.includes(".partial-"))).toEqual([]);

describe("prism-trainer errors", () => {
  it("missing base model: exit 4 model/notFound", async () => {
    expectError(
      await runTrainer(bin, loraArgs(join(dir, "nope.gguf"), data, join(dir, "o.gguf"))),
      4,
      "model/notFound",
    );
  });

  it("unloadable architecture: exit 4 model/loadFailed", async () => {
    const other = await byteModel({ blocks: 2, architecture: "notallama" });
    expectError(await runTrainer(bin, loraArgs(other, data, join(dir, "o.gguf"))), 4, "model/loadFailed");
  });

  it("initial adapter of another architecture: exit 4 adapter/archMismatch", async () => {
    const init = join(dir, "qwen-adapter.gguf");
    await writeSyntheticAdapter(init, { base, architecture: "qwen2", firstBlock: 1 });
    expectError(
      await runTrainer(bin, loraArgs(base, data, join(dir, "o.gguf"), ["--init", init])),
      4,
      "adapter/archMismatch",
    );
  });

  it("empty data: exit 3 data/empty", async () => {
    const empty = join(dir, "empty.jsonl");
    writeFileSync(empty, "\n\n");
    expectError(await runTrainer(bin, loraArgs(base, empty, join(dir, "o.gguf"))), 3, "data/empty");
  });

  it("sample longer than the window: exit 3 data/tooLong (or truncated with --truncate)", async () => {
    const long = writeJsonl(join(dir, "long.jsonl"), [
      { id: "long", tokens: [BOS, ...Array.from({ length: 300 }, (_, i) => 97 + (i % 26)), EOS], answer_start: 100 },
    ]);
    expectError(await runTrainer(bin, loraArgs(base, long, join(dir, "o.gguf"))), 3, "data/tooLong");
    const ok = await runTrainer(
      bin,
      loraArgs(base, long, join(dir, "t.gguf"), ["--truncate", "--epochs", "1", "--lr", "1e-2"]),
    );
    expect(ok.code, ok.stderr.slice(-1000)).toBe(0);
    expect(ok.events[0]).toMatchObject({ event: "start", truncatedSamples: 1 });
  });

  it("invalid JSON and out-of-vocabulary tokens: exit 3", async () => {
    const badJson = join(dir, "bad.jsonl");
    writeFileSync(badJson, '{"tokens":[1,2,3],"answer_start":1}\n{"tokens":[1,2\n');
    expectError(await runTrainer(bin, loraArgs(base, badJson, join(dir, "o.gguf"))), 3, "data/invalidJson");
    const oov = writeJsonl(join(dir, "oov.jsonl"), [{ id: "x", tokens: [BOS, 65, 99999], answer_start: 2 }]);
    expectError(await runTrainer(bin, loraArgs(base, oov, join(dir, "o.gguf"))), 3, "data/tokenOutOfRange");
  });

  it("rank 0, bad window size, block 0, missing --threads: exit 2", async () => {
    expectError(
      await runTrainer(bin, loraArgs(base, data, join(dir, "o.gguf"), ["--rank", "0"])),
      2,
      "usage/invalidOption",
    );
    expectError(
      await runTrainer(bin, loraArgs(base, data, join(dir, "o.gguf"), ["--ctx", "100"])),
      2,
      "usage/invalidOption",
    );
    expectError(
      await runTrainer(bin, loraArgs(base, data, join(dir, "o.gguf"), ["--layers", "0-"])),
      2,
      "usage/invalidOption",
    );
    expectError(
      await runTrainer(bin, ["train", "--base", base, "--data", data, "--out", join(dir, "o.gguf")]),
      2,
      "usage/invalidOption",
    );
    expectError(
      await runTrainer(bin, loraArgs(base, data, join(dir, "o.gguf"), ["--targets", "attn_qkv"])),
      2,
      "usage/invalidTarget",
    );
    expectError(await runTrainer(bin, ["frobnicate"]), 2, "usage/unknownCommand");
  });

  it("SIGTERM: exit 143, error event 'cancelled', no partial files, no output", async () => {
    const out = join(dir, "cancel.gguf");
    let sent = false;
    const run = await runTrainer(bin, loraArgs(base, data, out, ["--epochs", "200"]), {
      onEvent: (e) => {
        if (e.event !== "step" || sent) return;
        sent = true;
        return "SIGTERM";
      },
    });
    expectError(run, 143, "cancelled");
    expect(existsSync(out)).toBe(false);
    noPartials();
  });

  it("resumes from the last checkpoint after a kill and finishes the schedule", async () => {
    const out = join(dir, "resume.gguf");
    const args = loraArgs(base, data, out, [
      "--epochs",
      "6",
      "--checkpoint-every",
      "5",
      "--lr",
      "2e-3",
      "--eval-fraction",
      "0",
    ]);
    let killedAfter = -1;
    const first = await runTrainer(bin, args, {
      onEvent: (e) => {
        if (e.event === "checkpoint" && (e.step as number) >= 10 && killedAfter < 0) {
          killedAfter = e.step as number;
          return true; // SIGKILL: no chance to clean up, like a crash
        }
      },
    });
    expect(first.signal).toBe("SIGKILL");
    expect(existsSync(`${out}.ckpt.json`)).toBe(true);
    const total = first.events[0]!.steps as number;

    const second = await runTrainer(bin, [...args, "--resume"]);
    expect(second.code, second.stderr.slice(-1500)).toBe(0);
    const resumedFrom = second.events[0]!.resumedFromStep as number;
    expect(resumedFrom).toBeGreaterThanOrEqual(killedAfter);
    const steps = eventsOf(second, "step").map((s) => s.step as number);
    expect(steps[0]).toBe(resumedFrom + 1); // continues, does not restart
    expect(steps.at(-1)).toBe(total);
    // the learning-rate schedule continues too: the first resumed lr is the scheduled one, not warm-up from zero
    const lrFirstRun = eventsOf(first, "step").map((s) => s.lr as number);
    expect(eventsOf(second, "step")[0]!.lr as number).toBeLessThan(
      lrFirstRun[Math.min(lrFirstRun.length - 1, 9)]! + 1e-9,
    );
    const { tensors } = await readF32Tensors(out);
    expect(sumAbs(tensors.get("blk.1.attn_v.weight.lora_b")!.data)).toBeGreaterThan(0);
    expect(readdirSync(dir).filter((f) => f.startsWith("resume.gguf."))).toEqual([]);
  });

  it("a second --resume without a checkpoint starts fresh", async () => {
    const run = await runTrainer(
      bin,
      loraArgs(base, data, join(dir, "fresh.gguf"), ["--epochs", "1", "--resume", "--lr", "1e-2"]),
    );
    expect(run.code).toBe(0);
    expect(run.events[0]).toMatchObject({ resumedFromStep: -1 });
  });

  it("uses EOS padding by default and accepts one-token answers", async () => {
    const d = writeJsonl(join(dir, "one.jsonl"), [{ id: "a", tokens: [BOS, 65, 66, EOS], answer_start: 3 }]);
    const run = await runTrainer(
      bin,
      loraArgs(base, d, join(dir, "one.gguf"), ["--epochs", "3", "--lr", "1e-2", "--eval-fraction", "0"]),
    );
    expect(run.code, run.stderr.slice(-1000)).toBe(0);
    expect(run.events[0]).toMatchObject({ answerTokens: 1, windows: 1 });
  });
});
