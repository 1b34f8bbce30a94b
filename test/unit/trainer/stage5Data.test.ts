/**
 * Stage 5's data preparation, against a fake engine whose chat template is "prompt tokens, answer characters,
 * end-of-turn 99": answers cut by the token limit lose their end of turn, samples longer than the trainer window
 * are truncated or dropped on the host (counted), teacher rows follow, and LoRA targets follow the base's tensors.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelSession } from "../../../src/core/engine/ModelSession.js";
import type { QueryAnswers, DistillLabel, DistillQuery } from "../../../src/core/distill/distillRecords.js";
import { distillSettingsSchema } from "../../../src/core/distill/distillSettings.js";
import type { StageContext } from "../../../src/core/distill/DistillStage.js";
import type { JobProgress } from "../../../src/core/distill/JobProgress.js";
import { stage5Train, type Trainer, type TrainerRun } from "../../../src/core/distill/stage5Train.js";
import { writeSyntheticModel } from "../../../src/core/gguf/syntheticModel.js";
import { presentLoraTargets, resolveLoraTargets } from "../../../src/core/model/trainerSupport.js";

const EOT = 99;
let dir = "";
let modelPath = "";

// prompt = one token per character of the query (+ 1000 so they never collide with the answer's)
const promptTokens = (q: string) => [...q].map((c) => 1000 + c.charCodeAt(0));
const answerTokens = (a: string) => [...a].map((c) => c.charCodeAt(0));

function fakeSession(): ModelSession {
  const request = (method: string, p: Record<string, unknown>) => {
    const messages = p.messages as Array<{ role: string; content: string }>;
    const prompt = promptTokens(messages.at(-1)!.content);
    const answer = answerTokens(p.answer as string);
    if (method === "engine/formatPrompt") {
      return Promise.resolve({ text: "", tokens: [...prompt, ...answer, EOT], answerStart: prompt.length });
    }
    if (method === "engine/scoreTopK") {
      const rows = [...answer, EOT].map((t) => ({ ids: [t, 1], logp: [-0.1, -2.5] }));
      return Promise.resolve({ tokens: [...prompt, ...answer, EOT], answerStart: prompt.length, rows });
    }
    throw new Error(`unexpected ${method}`);
  };
  return {
    model: () => Promise.resolve({ modelId: "m1", contextLength: 4096 }),
    context: () => Promise.resolve("teacher-ctx"),
    load: { threads: 1 },
    engine: { request },
  } as unknown as ModelSession;
}

const progress = { stage() {}, update() {}, stage5Step() {} } as unknown as JobProgress;

interface Captured {
  lines: Array<{ id: string; tokens: number[]; answer_start: number; teacher?: { ids: number[][] } }>;
  run: TrainerRun;
}

async function prepare(
  name: string,
  items: Array<{ query: string; answer: string; stop?: QueryAnswers["personaStop"] }>,
  loss: "sft" | "kl" = "sft",
) {
  const jobDir = join(dir, name);
  const { mkdir } = await import("node:fs/promises");
  await mkdir(jobDir, { recursive: true });
  const settings = distillSettingsSchema.parse({
    model: { path: modelPath, architecture: "llama", tensorShapesDigest: "x", fileSize: 1, contentHash: "y" },
    personas: [{ id: "p", text: "a pirate" }],
    judge: "rule:x",
    generator: "local",
    minDistill: 1,
    lora: { loss, contextSize: 256 },
  });
  const queries: DistillQuery[] = items.map((it, i) => ({
    id: `q${i}`,
    personaId: "p",
    query: it.query,
    source: "user",
  }));
  const answers = new Map<string, QueryAnswers>(
    items.map((it, i) => [`q${i}`, { base: "b", persona: it.answer, personaStop: it.stop }]),
  );
  const labels = new Map<string, DistillLabel>(queries.map((q) => [q.id, "distill"]));
  const captured: Partial<Captured> = {};
  const trainer: Trainer = {
    description: "capture",
    async train(run) {
      captured.run = run;
      captured.lines = (await readFile(run.dataPath, "utf8"))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Captured["lines"][number]);
      return { adapterPath: run.outPath, seconds: 0, epochs: [] };
    },
  };
  const ctx = { jobDir, settings, session: fakeSession(), trainer, progress } as unknown as StageContext;
  const { training: result } = await stage5Train.run(ctx, { queries, answers, labels, gate: { protectedBlocks: 1 } });
  return { result, ...(captured as Captured) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-stage5-"));
  modelPath = join(dir, "m.gguf");
  await writeSyntheticModel(modelPath, {});
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe("stage 5 data preparation", () => {
  it("trains an answer cut by the token limit without the end-of-turn token, and counts it", async () => {
    const { result, lines } = await prepare("cut", [
      { query: "q one", answer: "complete", stop: "eogToken" },
      { query: "q two", answer: "half an answer that stops in the midd", stop: "maxTokens" },
      { query: "q three", answer: "old record" },
    ]);
    expect(lines[0]!.tokens.at(-1)).toBe(EOT);
    expect(lines[1]!.tokens.at(-1)).toBe("d".charCodeAt(0));
    expect(lines[1]!.tokens).toHaveLength("q two".length + "half an answer that stops in the midd".length);
    expect(lines[2]!.tokens.at(-1)).toBe(EOT);
    expect(result.data).toMatchObject({ samples: 3, cutAnswers: 1, truncatedSamples: 0, droppedSamples: 0 });
    const saved = JSON.parse(await readFile(join(dir, "cut", "training.json"), "utf8")) as typeof result;
    expect(saved.data).toEqual(result.data);
  });

  it("truncates samples longer than the window and drops those whose prompt fills it, with counts", async () => {
    const { result, lines, run } = await prepare("long", [
      { query: "x".repeat(200), answer: "y".repeat(100), stop: "eogToken" },
      { query: "z".repeat(300), answer: "short", stop: "eogToken" },
      { query: "fits", answer: "fine", stop: "eogToken" },
    ]);
    expect(lines.map((l) => l.id)).toEqual(["q0", "q2"]);
    expect(lines[0]!.tokens).toHaveLength(256);
    expect(lines[0]!.answer_start).toBe(200);
    expect(lines[0]!.tokens.at(-1)).not.toBe(EOT);
    expect(result.data).toMatchObject({ window: 256, samples: 2, truncatedSamples: 1, droppedSamples: 1 });
    expect(result.samples).toBe(2);
    expect(run.settings.contextSize).toBe(256);
  });

  it("keeps one teacher row per kept answer token (kl)", async () => {
    const { lines } = await prepare(
      "kl",
      [
        { query: "a", answer: "abc", stop: "eogToken" },
        { query: "b", answer: "abcd", stop: "maxTokens" },
        { query: "x".repeat(250), answer: "y".repeat(20), stop: "eogToken" },
      ],
      "kl",
    );
    for (const l of lines) expect(l.teacher!.ids).toHaveLength(l.tokens.length - l.answer_start);
    expect(lines[0]!.teacher!.ids.at(-1)![0]).toBe(EOT);
    expect(lines[1]!.teacher!.ids.at(-1)![0]).toBe("d".charCodeAt(0));
    expect(lines[2]!.tokens).toHaveLength(256);
  });

  it("trains the targets the base has", async () => {
    const { run, result } = await prepare("targets", [{ query: "q", answer: "a" }]);
    expect(run.settings.targets).toEqual([
      "attn_q",
      "attn_k",
      "attn_v",
      "attn_output",
      "ffn_gate",
      "ffn_up",
      "ffn_down",
    ]);
    expect(result.data?.targets).toEqual(run.settings.targets);
  });
});

describe("LoRA targets per architecture", () => {
  const phi3 = ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].flatMap((t) =>
    [0, 1, 2].map((b) => `blk.${b}.${t}.weight`),
  );
  const defaults = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] as const;

  it("maps split q/k/v to phi3's fused attn_qkv and gate to its fused gate-up ffn_up", () => {
    const present = presentLoraTargets(phi3);
    expect(present).toEqual(["attn_qkv", "attn_output", "ffn_up", "ffn_down"]);
    expect(resolveLoraTargets(defaults, present)).toEqual(["attn_qkv", "attn_output", "ffn_up", "ffn_down"]);
    expect(resolveLoraTargets(["attn_q", "ffn_gate"], present)).toEqual(["attn_qkv", "ffn_up"]);
  });

  it("ignores block 0 and refuses when nothing is left", () => {
    expect(presentLoraTargets(["blk.0.attn_q.weight", "blk.1.attn_q_norm.weight"])).toEqual([]);
    expect(() => resolveLoraTargets(["attn_q"], [])).toThrow(
      expect.objectContaining({ code: "engine/unsupportedArchitecture" }),
    );
  });
});
