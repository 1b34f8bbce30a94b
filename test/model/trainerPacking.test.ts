/**
 * Packed windows keep samples apart (patch 0006 + the training mask of patch 0002): every packed sample is its own
 * sequence, so its loss does not depend on what was packed before it. Measured on the first step (B = 0, so the
 * loss is the base model's cross-entropy on the answer tokens): the loss summed over a window of two samples
 * equals the sum of each sample's loss alone. With `--cross-sample-attention` (one causal stream, the behaviour
 * before the patch) it does not.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BOS,
  EOS,
  byteModel,
  bytes,
  eventsOf,
  loraArgs,
  runTrainer,
  trainerBinary,
  writeJsonl,
  type TrainerSample,
} from "../../testkit/trainerKit.js";

let bin = "";
let base = "";
let dir = "";

const sample = (id: string, prompt: string, answer: string): TrainerSample => {
  const p = [BOS, ...bytes(prompt)];
  return { id, tokens: [...p, ...bytes(answer), EOS], answer_start: p.length };
};
const X = sample("x", "Q: what is the colour of the sky?\nA:", " blue, mostly");
const A1 = sample("a1", "Q: zebra\nA:", " stripes");
const A2 = sample("a2", "Q: a much longer question about nothing in particular\nA:", " yes");
const trained = (s: TrainerSample) => s.tokens.length - s.answer_start;

/** Loss summed over the trained tokens of the first (and only) window, before any update. */
async function windowLossSum(samples: TrainerSample[], extra: string[] = []): Promise<number> {
  const name = samples.map((s) => s.id).join("-") + extra.join("");
  const data = writeJsonl(join(dir, `${name}.jsonl`), samples);
  const run = await runTrainer(
    bin,
    loraArgs(base, data, join(dir, `${name}.gguf`), ["--max-steps", "1", "--eval-fraction", "0", ...extra]),
  );
  // one step cannot move B far enough to matter, but a zero B is refused at the end: only the first loss counts
  const start = eventsOf(run, "start")[0]!;
  expect(start.windows, run.stderr.slice(-1500)).toBe(1);
  const loss = eventsOf(run, "step")[0]!.loss as number;
  return loss * samples.reduce((n, s) => n + trained(s), 0);
}

beforeAll(() => {
  bin = trainerBinary();
  dir = mkdtempSync(join(tmpdir(), "prism-packing-"));
}, 15 * 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("packed training windows", () => {
  it("a sample's loss does not depend on what was packed before it (one sequence per sample)", async () => {
    base = await byteModel({ blocks: 2 });
    const x = await windowLossSum([X]);
    const a1 = await windowLossSum([A1]);
    const a2 = await windowLossSum([A2]);
    const a1x = await windowLossSum([A1, X]);
    const a2x = await windowLossSum([A2, X]);
    expect(a1x).toBeCloseTo(a1 + x, 3);
    expect(a2x).toBeCloseTo(a2 + x, 3);

    // the old single-stream behaviour: X reads A's tokens and its loss changes with them
    const a1xCross = await windowLossSum([A1, X], ["--cross-sample-attention"]);
    const a2xCross = await windowLossSum([A2, X], ["--cross-sample-attention"]);
    const xAfterA1 = a1xCross - a1;
    const xAfterA2 = a2xCross - a2;
    console.log(
      `loss(X) alone ${x.toFixed(4)}; after A1/A2 isolated ${(a1x - a1).toFixed(4)}/${(a2x - a2).toFixed(4)}; ` +
        `single stream ${xAfterA1.toFixed(4)}/${xAfterA2.toFixed(4)}`,
    );
    expect(Math.abs(xAfterA1 - x)).toBeGreaterThan(0.01);
    expect(Math.abs(xAfterA2 - xAfterA1)).toBeGreaterThan(0.01);
  });

  it("reports the isolation in the start event", async () => {
    const data = writeJsonl(join(dir, "start.jsonl"), [A1, X]);
    const run = await runTrainer(bin, loraArgs(base, data, join(dir, "start.gguf"), ["--max-steps", "1"]));
    expect(eventsOf(run, "start")[0]).toMatchObject({ sampleIsolation: true, samples: 2, windows: 1 });
  });
});
