/**
 * Stage 5 on the fake engine and trainer: the distill set with the persona-prompted teacher's rows, the trainer's
 * events as progress, its checkpoint resume, and a finished result never redone (docs/method.md §3.5). The data
 * preparation's edge cases (cut answers, the window) are in test/unit/trainer/stage5Data.test.ts.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DistillLabel } from "../../../src/core/distill/distillRecords.js";
import { JobProgress } from "../../../src/core/distill/JobProgress.js";
import { stage1Queries } from "../../../src/core/distill/stage1Queries.js";
import { stage2Answers } from "../../../src/core/distill/stage2Answers.js";
import { stage5Train } from "../../../src/core/distill/stage5Train.js";
import { isCancellation } from "../../../src/core/errors.js";
import { readGguf } from "../../../src/core/gguf/readGguf.js";
import { personaMessages, studentMessages } from "../../../src/core/pipeline/studentPrompt.js";
import { caseOf, type FakeDistillationOptions } from "../../../testkit/fakeDistillation.js";
import { readJsonl } from "../../../testkit/readJsonl.js";
import { fakeDistillations } from "../../../testkit/fakeDistillations.js";

const distillation = fakeDistillations("prism-stage5-");

const gate = { protectedBlocks: 1 };

/** Stages 1–2 done, labels as the fake world's judge gives them (even cases distill). */
async function withAnswers(o: FakeDistillationOptions = {}) {
  const d = await distillation(o);
  const { queries } = await stage1Queries.run(d.stageContext(), {});
  const { answers } = await stage2Answers.run(d.stageContext(), { queries });
  const labels = new Map<string, DistillLabel>(
    queries.map((q) => [q.id, caseOf(q.query) % 2 === 0 ? "distill" : "retain"]),
  );
  return { ...d, queries, answers, labels, gate };
}

interface Sample {
  id: string;
  tokens: number[];
  answer_start: number;
  teacher: { ids: number[][]; logp: number[][] };
}

describe("stage 5: one LoRA on the distill set", () => {
  it("scores the teacher with the persona in context, trains above the gate's blocks and writes training.json", async () => {
    const d = await withAnswers();
    const ctx = d.stageContext();
    const { training } = await stage5Train.run(ctx, d);

    const samples = await readJsonl<Sample>(join(d.jobDir, "train.jsonl"));
    const distill = d.queries.filter((q) => d.labels.get(q.id) === "distill");
    expect(samples.map((s) => s.id)).toEqual(distill.map((q) => q.id));
    for (const s of samples) expect(s.teacher.ids).toHaveLength(s.tokens.length - s.answer_start);
    // Defect D1 (docs/method.md §10): the teacher reads the persona, the student prompt does not.
    const q = distill[0]!;
    const scored = d.engine.calls.filter((c) => c.method === "engine/scoreTopK");
    expect(scored[0]!.params).toMatchObject({ messages: personaMessages("You are a chef.", q.query), k: 64 });
    const formatted = d.engine.calls.filter((c) => c.method === "engine/formatPrompt");
    expect(formatted[1]!.params).toMatchObject({
      messages: studentMessages(q.query),
      answer: d.answers.get(q.id)!.persona,
    });

    const run = d.trainer.runs[0]!.run;
    expect(run).toMatchObject({ firstBlock: 1, seed: d.settings.seed, outPath: join(d.jobDir, "adapter.gguf") });
    expect(run.settings).toMatchObject({ rank: 4, alpha: 8, epochs: 2, loss: "kl" });
    const adapter = await readGguf(training.adapterPath);
    expect(adapter.kvs.find((k) => k.key === "general.type")?.value.value).toBe("adapter");
    expect(adapter.tensors.some((t) => t.name.startsWith("blk.0."))).toBe(false);

    expect(training).toMatchObject({ samples: 8, trainer: "fake-trainer", data: { samples: 8, window: 256 } });
    expect(training.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(JSON.parse(await readFile(join(d.jobDir, "training.json"), "utf8"))).toEqual(training);
    // tokenising counts samples, then training counts steps (4 = 8 samples / 4 per step × 2 epochs)
    expect(ctx.snapshots.find((s) => s.message.startsWith("tokenising"))).toMatchObject({ stage: 5, total: 8 });
    expect(ctx.snapshots.at(-1)).toMatchObject({ stage: 5, done: 4, total: 4 });
  });

  it("never trains twice: a finished stage returns its result without the engine or the trainer", async () => {
    const d = await withAnswers();
    const first = await stage5Train.run(d.stageContext(), d);
    const requests = d.engine.count();
    const ctx = d.stageContext();
    expect(await stage5Train.run(ctx, d)).toEqual(first);
    expect(d.engine.count()).toBe(requests);
    expect(d.trainer.runs).toHaveLength(1);
    expect(ctx.snapshots.at(-1)).toMatchObject({ stage: 5, message: "LoRA already trained" });
  });

  it("resumes a trainer that died mid-run from its checkpoint, ending with the uninterrupted run's adapter", async () => {
    const reference = await withAnswers();
    const expected = (await stage5Train.run(reference.stageContext(), reference)).training;

    const d = await withAnswers({ trainer: { failAtStep: 3 } });
    await expect(stage5Train.run(d.stageContext(), d)).rejects.toMatchObject({
      code: "trainer/failed",
      message: expect.stringContaining("[native/abort]"),
      detail: { exitCode: 134 },
    });
    expect(existsSync(join(d.jobDir, "adapter.gguf.ckpt.json"))).toBe(true);
    expect(existsSync(join(d.jobDir, "training.json"))).toBe(false);
    const { training } = await stage5Train.run(d.stageContext(), d);
    expect(d.trainer.runs.map((r) => r.resumedFrom)).toEqual([0, 2]);
    expect(await readFile(training.adapterPath)).toEqual(await readFile(expected.adapterPath));
    expect(training.epochs).toEqual(expected.epochs);
    expect(existsSync(join(d.jobDir, "adapter.gguf.ckpt.json"))).toBe(false);
  });

  it("cancelled during training, stops at the next step and resumes from the checkpoint", async () => {
    const d = await withAnswers();
    const controller = new AbortController();
    const progress = new JobProgress(
      "test",
      (s) => {
        if (s.stage === 5 && s.total === 4 && s.done >= 2) controller.abort();
      },
      () => undefined,
      0,
    );
    const err = await stage5Train
      .run(d.stageContext({ progress, signal: controller.signal }), d)
      .catch((e: unknown) => e);
    expect(isCancellation(err)).toBe(true);
    await stage5Train.run(d.stageContext(), d);
    expect(d.trainer.runs.map((r) => r.resumedFrom)).toEqual([0, 2]);
  });

  it("fails with engine/crashed when the engine dies while scoring, leaves no partial training file, and re-runs", async () => {
    const d = await withAnswers();
    d.engine.inject({ method: "engine/scoreTopK", skip: 3, effect: { crash: {} } });
    await expect(stage5Train.run(d.stageContext(), d)).rejects.toMatchObject({ code: "engine/crashed" });
    expect((await readdir(d.jobDir)).filter((f) => f.includes("train.jsonl"))).toEqual([]);
    const { training } = await stage5Train.run(d.stageContext(), d);
    expect(training.samples).toBe(8);
    expect(d.trainer.runs).toHaveLength(1);
  });
});
