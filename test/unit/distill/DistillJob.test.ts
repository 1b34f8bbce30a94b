import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { DistillJob } from "../../../src/core/distill/DistillJob.js";
import { distillSettingsSchema } from "../../../src/core/distill/distillSettings.js";
import type { ModelSession } from "../../../src/core/engine/ModelSession.js";
import type { FeatureExtractor } from "../../../src/core/features/FeatureExtractor.js";
import { RuleJudge } from "../../../src/core/pipeline/judges.js";
import type { GenerateResult, TextGenerator } from "../../../src/core/pipeline/TextGenerator.js";
import type { ChatMessage } from "../../../src/protocol/engineProtocol.js";

// Stages 4 and 5 are stand-ins here: these tests are about what stages 1–3 hand them.
const stages = vi.hoisted(() => ({ stage4: vi.fn(), stage5: vi.fn() }));
vi.mock("../../../src/core/distill/stage4Gate.js", () => ({ stage4Gate: stages.stage4 }));
vi.mock("../../../src/core/distill/stage5Train.js", () => ({ stage5Train: stages.stage5 }));

const STOP = new Error("stop after stage 5's input");

const settings = (over: Record<string, unknown> = {}) =>
  distillSettingsSchema.parse({
    model: { path: "/m.gguf", architecture: "qwen3", tensorShapesDigest: "d", fileSize: 1, contentHash: "h" },
    personas: [
      { id: "cardio", text: "You are a cardiologist." },
      { id: "rust", text: "You are a Rust expert." },
    ],
    queriesPerPersona: 2,
    judge: "test",
    generator: "test",
    minDistill: 1,
    gate: { minPerClass: 2 },
    ...over,
  });

/** A generator that answers like a chat model: `query(persona, index)` for stage 1, `answer(...)` for stage 2. */
function generator(o: {
  query(persona: string, index: number): string;
  answer?(side: "base" | "persona", query: string): GenerateResult;
}): TextGenerator & { calls: number } {
  const g = {
    concurrency: 2,
    description: "test",
    calls: 0,
    async generate(messages: ChatMessage[]): Promise<GenerateResult> {
      g.calls++;
      const user = messages.at(-1)!.content;
      const q = /Question (\d+):$/.exec(user);
      if (q) {
        const persona = /Expert description:\n(.*)\n/.exec(user)![1]!;
        return { text: o.query(persona, Number(q[1])), stop: "eogToken" };
      }
      const side = messages[0]!.role === "system" ? "persona" : "base";
      return o.answer?.(side, user) ?? { text: `${side} answer to ${user}`, stop: "eogToken" };
    },
  };
  return g;
}

async function job(g: TextGenerator, judge: RuleJudge, s = settings()) {
  const extract = vi.fn(async () => ({ vector: [0, 1], ms: 1 }));
  const jobDir = await mkdtemp(join(tmpdir(), "prism-distill-job-"));
  const j = new DistillJob({
    jobDir,
    outDir: join(jobDir, "out.prism"),
    settings: s,
    generator: g,
    judge,
    features: { extract } as unknown as FeatureExtractor,
    session: {} as ModelSession,
    trainer: { description: "none", train: vi.fn() },
  });
  return { job: j, jobDir, extract };
}

const personaWins = () => new RuleJudge("rule:persona", (_q, a) => (a.startsWith("persona") ? 1 : 0));

beforeEach(() => {
  stages.stage4.mockReset().mockResolvedValue({ protectedBlocks: 1 });
  stages.stage5.mockReset().mockRejectedValue(STOP);
});

describe("stage 2 records why each answer stopped", () => {
  it("writes `stop` to answers.jsonl and hands baseStop / personaStop to stage 5", async () => {
    const g = generator({
      query: (p, i) => `<think>\nA question for: ${p}\n</think>\n\n**Question ${i}:** What is hard question ${p} ${i}?`,
      answer: (side, q) =>
        side === "persona" && q.endsWith("1?")
          ? { text: "persona answer cut mid-", stop: "maxTokens" }
          : { text: `${side} answer`, stop: "eogToken" },
    });
    const { job: j, jobDir } = await job(g, personaWins());
    await expect(j.run()).rejects.toBe(STOP);

    const records = (await readFile(join(jobDir, "answers.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; side: string; stop?: string });
    expect(records).toHaveLength(8);
    expect(records.every((r) => r.stop === "eogToken" || r.stop === "maxTokens")).toBe(true);

    const input = stages.stage5.mock.calls[0]![0] as { answers: Map<string, Record<string, unknown>> };
    expect(input.answers.get("cardio-0")).toEqual({
      base: "base answer",
      persona: "persona answer cut mid-",
      baseStop: "eogToken",
      personaStop: "maxTokens",
    });
    expect(input.answers.get("cardio-1")).toMatchObject({ personaStop: "eogToken", baseStop: "eogToken" });
  });
});

describe("clear outcomes when stages produce nothing", () => {
  it("fails at the end of stage 1 with the attempts, the drop reasons and what the model wrote", async () => {
    const g = generator({
      query: (_p, i) =>
        i === 1
          ? "I'm sorry, but I can't help with creating questions about that topic."
          : "<think>\nOkay, the user wants a challenging question. Let me think about what a specialist would know that a generalist",
    });
    const { job: j, extract } = await job(g, personaWins());
    const err = await j.run().catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "distill/emptyDataset",
      detail: { stage: 1, attempted: 4, dropped: { refusal: 2, thoughtsOnly: 2 } },
    });
    const message = (err as Error).message;
    expect(message).toContain("all 4 generations were dropped (refusal 2, thoughtsOnly 2)");
    expect(message).toContain(`"I'm sorry, but I can't help`);
    expect(g.calls).toBe(4); // stage 2 never ran
    expect(extract).not.toHaveBeenCalled();
    expect(stages.stage4).not.toHaveBeenCalled();
  });

  it("truncates the example", async () => {
    const long = `<think>\n${"Let me think about renal dosing. ".repeat(40)}`;
    const { job: j } = await job(generator({ query: () => long }), personaWins());
    const err = (await j.run().catch((e: unknown) => e)) as { message: string; detail: { example: string } };
    expect(err.detail.example).toHaveLength(201);
    expect(err.detail.example.endsWith("…")).toBe(true);
  });

  it("reports 0 distill samples as such, before stage 4 computes a single gate feature", async () => {
    const g = generator({ query: (p, i) => `Q: What would ${p} say about case ${i}?` });
    const alwaysTie = new RuleJudge("rule:tie", () => 0);
    const { job: j, extract } = await job(g, alwaysTie, settings({ minDistill: 3 }));
    await expect(j.run()).rejects.toMatchObject({
      code: "distill/emptyDataset",
      message: expect.stringContaining("Only 0 of 4 queries were labelled distill"),
      detail: { distill: 0, retain: 4, minimum: 3 },
    });
    expect(stages.stage4).not.toHaveBeenCalled();
    expect(extract).not.toHaveBeenCalled();
  });
});
