/**
 * The whole job on the fake engine and trainer (docs/method.md §3, docs/architecture.md §8): the stage sequence
 * and its bundle, resume after an interruption in every stage, cancellation, an engine crash, and the job's state
 * file. test/model/distill.test.ts and faultInjection.test.ts do the same through the real engine and trainer.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { readBundle } from "../../../src/core/bundle/readBundle.js";
import type { DistillEstimate } from "../../../src/core/cost/estimateDistillation.js";
import { estimateDistillCost, type CostContext } from "../../../src/core/cost/estimateDistillCost.js";
import type { DistillLabel, DistillQuery, QueryAnswers } from "../../../src/core/distill/distillRecords.js";
import { DISTILL_STAGES, DistillJob, STAGE_NAMES, type DistillResult } from "../../../src/core/distill/DistillJob.js";
import type { StagesOutput } from "../../../src/core/distill/DistillStage.js";
import type { JobSnapshot } from "../../../src/core/distill/JobProgress.js";
import { type stage1Queries } from "../../../src/core/distill/stage1Queries.js";
import { type stage2Answers } from "../../../src/core/distill/stage2Answers.js";
import type { GateStageResult } from "../../../src/core/distill/stage4Gate.js";
import type { TrainStageResult } from "../../../src/core/distill/stage5Train.js";
import { isCancellation } from "../../../src/core/errors.js";
import type { FakeCall } from "../../../testkit/FakeEngine.js";
import type { FakeDistillation, FakeDistillationOptions } from "../../../testkit/fakeDistillation.js";
import { readJsonl, sortedLines } from "../../../testkit/readJsonl.js";
import { fakeDistillations } from "../../../testkit/fakeDistillations.js";

/** A small world (4 queries per persona: 4 distill, 4 retain) keeps the dozen job runs of this file quick. */
const SMALL = { queriesPerPersona: 4 };
const DATA = ["queries.jsonl", "answers.jsonl", "judgements.jsonl", "labels.jsonl", "train.jsonl"];
const distillation = fakeDistillations("prism-job-");

async function state(d: FakeDistillation): Promise<{ status: string; stage: number; error?: { code: string } }> {
  return JSON.parse(await readFile(join(d.jobDir, "state.json"), "utf8")) as never;
}

/** Runs the job, collecting every snapshot it sends. */
async function run(d: FakeDistillation, signal?: AbortSignal) {
  const snapshots: JobSnapshot[] = [];
  const result = await new DistillJob(d.jobOptions({ signal, onProgress: (s) => snapshots.push(s) }))
    .run()
    .catch((e: unknown) => e);
  return { result, snapshots };
}

/** What a finished job leaves that must not depend on interruptions: the bundle's data, gate weights and adapter. */
async function outcome(d: FakeDistillation) {
  const data = await Promise.all(DATA.map((f) => sortedLines(join(d.outDir, "data", f))));
  const gate = JSON.parse(await readFile(join(d.outDir, "gate.json"), "utf8")) as Record<string, unknown>;
  const report = JSON.parse(await readFile(join(d.outDir, "report.json"), "utf8")) as { counts: unknown };
  return {
    data,
    w1: gate.w1,
    b3: gate.b3,
    counts: report.counts,
    adapter: await readFile(join(d.outDir, "adapter.gguf")),
  };
}

/** Which stage an `engine/generate` serves, by its prompt (docs/method.md §9). */
function generation(c: FakeCall): "query" | "answer" | "judge" | undefined {
  return c.method === "engine/generate" ? generationKind(c.params.messages) : undefined;
}

function generationKind(messages: unknown): "query" | "answer" | "judge" {
  const text = JSON.stringify(messages);
  return text.includes("impartial evaluator") ? "judge" : text.includes("Expert description") ? "query" : "answer";
}

/** Requests that produce a logged item: generations (stages 1–3) and embeddings (stage 4). */
const loggedWork = (calls: readonly FakeCall[]) =>
  calls.filter((c) => c.method === "engine/generate" || c.method === "engine/embed").length;

async function loggedItems(d: FakeDistillation): Promise<number> {
  const logs = ["queries.jsonl", "answers.jsonl", "judgements.jsonl", "features.jsonl"];
  return (await Promise.all(logs.map((f) => readJsonl(join(d.jobDir, f))))).reduce((n, r) => n + r.length, 0);
}

/** An uninterrupted job: what every interrupted and resumed one must end with. */
let reference: FakeDistillation;
let referenceRun: Awaited<ReturnType<typeof run>>;
let expected: Awaited<ReturnType<typeof outcome>>;

beforeAll(async () => {
  reference = await distillation({ settings: SMALL });
  referenceRun = await run(reference);
  if (!(referenceRun.result as DistillResult).bundleDir) throw referenceRun.result;
  expected = await outcome(reference);
});

describe("DistillJob sequences the stages", () => {
  it("runs stages 1–5, then writes a bundle that loads for the base model", async () => {
    const d = reference;
    const { result, snapshots } = referenceRun;
    expect(result).toMatchObject({ bundleDir: d.outDir, queries: 8, distill: 4, retain: 4 });
    const stages = snapshots.map((s) => s.stage);
    expect([...new Set(stages)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(stages).toEqual([...stages].sort((a, b) => a - b));
    expect(new Set(snapshots.map((s) => `${s.stage} ${s.stageName}`))).toEqual(
      new Set(["1 queries", "2 answers", "3 judge", "4 gate", "5 LoRA training", "6 bundle"]),
    );
    expect(snapshots.at(-1)).toMatchObject({ state: "done", stage: 6, done: 1, total: 1 });
    expect(await state(d)).toMatchObject({ status: "done", stage: 6 });
    const bundle = await readBundle(d.outDir, { identity: d.settings.model, embeddingSize: 8 });
    expect(bundle.manifest.adapter.firstBlock).toBe(1);
    expect(existsSync(join(d.jobDir, "job.lock"))).toBe(false);
  });

  it("types the list: each stage gets what the ones before it made, in any other order the list does not compile", () => {
    expectTypeOf<StagesOutput<typeof DISTILL_STAGES>>().toEqualTypeOf<
      object & { queries: DistillQuery[] } & { answers: Map<string, QueryAnswers> } & {
        labels: Map<string, DistillLabel>;
        secondPasses: number;
      } & { gate: GateStageResult } & { training: TrainStageResult }
    >();
    type Misordered = readonly [typeof stage2Answers, typeof stage1Queries];
    expectTypeOf<StagesOutput<Misordered>>().toHaveProperty("stageOrderError");
    // numbered by position; names as the CLI and the jobs view have always shown them
    expect(DISTILL_STAGES.map((s) => s.number)).toEqual([1, 2, 3, 4, 5]);
    expect(STAGE_NAMES).toEqual(["", "queries", "answers", "judge", "gate", "LoRA training", "bundle"]);
  });
});

describe("DistillJob resumes", () => {
  /** One way for a run to stop mid-stage; the cue is the n-th request of the stage's kind. */
  interface Interruption {
    stage: number;
    how: string;
    options(abort: () => void): FakeDistillationOptions;
    /** Faults to inject once the distillation exists. */
    arm?(d: FakeDistillation): void;
    ends: { state: "cancelled" | "failed"; code?: string };
  }
  /** Aborts the job at the n-th request for which `isCue` holds. */
  const cancelAt = (nth: number, isCue: (c: FakeCall) => boolean) => (abort: () => void) => {
    let seen = 0;
    return { engine: { onRequest: (c: FakeCall) => void (isCue(c) && ++seen === nth && abort()) } };
  };
  const interruptions: Interruption[] = [
    {
      stage: 1,
      how: "cancelled",
      options: cancelAt(3, (c) => generation(c) === "query"),
      ends: { state: "cancelled" },
    },
    {
      stage: 2,
      how: "engine crash",
      // with parallel answers in flight, all of which the crash fails
      options: () => ({ engine: { latencyMs: { "engine/generate": 1 } } }),
      arm: (d) =>
        d.engine.inject({
          method: "engine/generate",
          when: (p) => generationKind(p.messages) === "answer",
          skip: 6,
          effect: { crash: {} },
        }),
      ends: { state: "failed", code: "engine/crashed" },
    },
    {
      stage: 3,
      how: "cancelled",
      options: cancelAt(9, (c) => generation(c) === "judge"),
      ends: { state: "cancelled" },
    },
    {
      stage: 4,
      how: "cancelled",
      options: cancelAt(4, (c) => c.method === "engine/embed"),
      ends: { state: "cancelled" },
    },
    {
      stage: 5,
      how: "trainer killed",
      options: () => ({ trainer: { failAtStep: 2 } }),
      ends: { state: "failed", code: "trainer/failed" },
    },
  ];

  it.each(interruptions)(
    "stage $stage, $how: the job records it, a re-run redoes nothing finished and ends with the uninterrupted bundle",
    async ({ stage, options, arm, ends }) => {
      const controller = new AbortController();
      const d = await distillation({ ...options(() => controller.abort()), settings: SMALL });
      arm?.(d);
      const first = await run(d, controller.signal);
      if (ends.state === "cancelled") expect(isCancellation(first.result)).toBe(true);
      else expect(first.result).toMatchObject({ code: ends.code });
      const error = ends.code ? { error: { code: ends.code } } : {};
      expect(first.snapshots.at(-1)).toMatchObject({ state: ends.state, stage, ...error });
      expect(await state(d)).toMatchObject({ status: ends.state, stage, ...error });
      expect(existsSync(join(d.jobDir, "job.lock"))).toBe(false);

      const finished = await loggedItems(d);
      const before = d.engine.calls.length;
      const second = await run(d);
      expect(second.result).toMatchObject({ bundleDir: d.outDir });
      // every generation or embedding already in a log is skipped: the re-run does exactly the rest
      expect(loggedWork(d.engine.calls.slice(before))).toBe(loggedWork(reference.engine.calls) - finished);
      if (stage === 5) expect(d.trainer.runs.map((r) => r.resumedFrom)).toEqual([0, 1]);
      expect(await outcome(d)).toEqual(expected);
    },
  );
});

describe("DistillJob stops and refuses", () => {
  it("stops promptly when cancelled inside a slow engine call", async () => {
    const d = await distillation({ settings: SMALL });
    d.engine.inject({ method: "engine/generate", times: Infinity, effect: { delayMs: 10_000 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = performance.now();
    const { result } = await run(d, controller.signal);
    expect(isCancellation(result)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(d.engine.pendingCount).toBe(0);
    expect(await state(d)).toMatchObject({ status: "cancelled", stage: 1 });
  });

  it("refuses to resume a job directory started with other settings", async () => {
    const d = await distillation({ settings: SMALL });
    const controller = new AbortController();
    controller.abort();
    await run(d, controller.signal);
    const other = new DistillJob(d.jobOptions({ settings: { ...d.settings, seed: d.settings.seed + 1 } }));
    await expect(other.run()).rejects.toMatchObject({ code: "job/settingsChanged" });
  });
});

describe("DistillJob with an estimate", () => {
  /** A made-up calibration: the fake world's timings are its latencies, so only the ETA's shape is checked. */
  function estimate(d: FakeDistillation): DistillEstimate {
    const context: CostContext = {
      rates: { promptTokensPerSecond: 2000, generatedTokensPerSecond: 500, trainTokensPerSecond: 200 },
      tokensPerChar: 0.25,
      localJudge: true,
      localGenerator: true,
      featurePassFraction: 0.5,
    };
    const cost = estimateDistillCost(d.settings, context);
    const memory = { trainerPeakBytes: 1e9, window: d.settings.lora.contextSize, machineBytes: 8e9 };
    return { cost, context, rates: { ...context.rates, tokensPerChar: 0.25, ms: 1 }, memory };
  }

  it("gives every running snapshot the job's ETA, reaching 0 when done, and reports estimated vs actual per stage", async () => {
    const d = await distillation({ settings: SMALL, engine: { latencyMs: { "engine/generate": 2 } } });
    const snapshots: JobSnapshot[] = [];
    const given = estimate(d);
    const result = await new DistillJob(d.jobOptions({ estimate: given, onProgress: (s) => snapshots.push(s) })).run();
    const running = snapshots.filter((s) => s.state === "running" && s.stage <= 5);
    expect(running.length).toBeGreaterThan(5);
    for (const s of running) expect(s.jobEtaSeconds).toBeGreaterThanOrEqual(0);
    expect(running[0]!.jobEtaSeconds).toBeCloseTo(given.cost.totalSeconds, 3);
    expect(snapshots.at(-1)).toMatchObject({ state: "done", jobEtaSeconds: 0 });
    expect(result.cost?.map((r) => r.stage)).toEqual([1, 2, 3, 4, 5]);
    for (const r of result.cost!) {
      expect(r.estimatedSeconds).toBeCloseTo(given.cost.stages[r.stage - 1]!.seconds, 6);
      expect(r.actualSeconds).toBeGreaterThan(0);
    }
    // observed: 8 queries kept, 4 distill; the re-estimate uses them
    const report = JSON.parse(await readFile(join(d.outDir, "report.json"), "utf8")) as { cost: unknown };
    expect(report.cost).toEqual(result.cost);
    const saved = JSON.parse(await readFile(join(d.jobDir, "cost.json"), "utf8")) as { observed: object };
    expect(saved.observed).toMatchObject({ queries: 8, distill: 4 });
  });

  it("a resumed job goes on with the estimate it saved, and adds each run's time", async () => {
    const controller = new AbortController();
    let seen = 0;
    const d = await distillation({
      settings: SMALL,
      engine: { onRequest: (c: FakeCall) => void (generation(c) === "answer" && ++seen === 5 && controller.abort()) },
    });
    const first = await new DistillJob(d.jobOptions({ estimate: estimate(d), signal: controller.signal }))
      .run()
      .catch((e: unknown) => e);
    expect(isCancellation(first)).toBe(true);
    const stage1 = (JSON.parse(await readFile(join(d.jobDir, "cost.json"), "utf8")) as CostFile).stages["1"]!;
    expect(stage1.items).toBe(8);
    const snapshots: JobSnapshot[] = [];
    const second = await new DistillJob(d.jobOptions({ onProgress: (s) => snapshots.push(s) })).run();
    expect(snapshots.filter((s) => s.state === "running").every((s) => s.jobEtaSeconds !== undefined)).toBe(true);
    expect(second.cost?.[0]?.actualSeconds).toBeGreaterThanOrEqual(stage1.seconds);
    expect(second.cost?.[1]?.actualSeconds).toBeGreaterThan(0);
  });

  it("without an estimate snapshots carry the stage's ETA only", () => {
    expect(referenceRun.snapshots.every((s) => s.jobEtaSeconds === undefined)).toBe(true);
    expect((referenceRun.result as DistillResult).cost).toBeUndefined();
  });
});

type CostFile = { stages: Record<string, { seconds: number; items: number }> };
