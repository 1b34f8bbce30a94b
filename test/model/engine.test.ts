import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTruncatedModel } from "../../src/core/gguf/writeTruncatedModel.js";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { fixtures, loadModel, rejection, relativeError, startEngine, user } from "./harness.js";

describe("engine process on the tiny model", () => {
  let engine: EngineProcess;
  let modelId: string;
  let base: string;
  let adapted: string;
  let zeroScale: string;

  beforeAll(async () => {
    engine = startEngine();
    const info = await loadModel(engine, fixtures.tiny);
    modelId = info.modelId;
    const ctx = (adapters: Array<{ path: string; scale: number }>) =>
      engine.request("engine/createContext", { modelId, contextSize: 256, adapters, threads: 1 });
    base = (await ctx([])).contextId;
    adapted = (await ctx([{ path: fixtures.adapter, scale: 1 }])).contextId;
    zeroScale = (await ctx([{ path: fixtures.adapter, scale: 0 }])).contextId;
  });
  afterAll(() => engine.dispose());

  it("reports model info", async () => {
    const info = await loadModel(engine, fixtures.tiny);
    expect(info).toMatchObject({
      architecture: "llama",
      layers: 2,
      embeddingSize: 64,
      contextLength: 256,
      vocabSize: 260,
      fileSize: statSync(fixtures.tiny).size,
      hasChatTemplate: true,
      chatWrapper: "ChatML",
      gpu: false,
      threads: 1,
    });
    await engine.request("engine/unloadModel", { modelId: info.modelId });
  });

  const generate = (contextId: string, extra: Record<string, unknown> = {}, onChunk?: (t: string) => void) =>
    engine.request(
      "engine/generate",
      { contextId, messages: user("Hello, world!"), maxTokens: 24, ...extra },
      { onChunk },
    );

  it("streams a deterministic greedy answer with timings", async () => {
    const chunks: string[] = [];
    const a = await generate(base, {}, (t) => chunks.push(t));
    const b = await generate(base);
    expect(a.text.length).toBeGreaterThan(0);
    expect(b.text).toBe(a.text);
    expect(chunks.join("")).toBe(a.text);
    expect(a.timings.promptTokens).toBeGreaterThan(10);
    expect(a.timings.generatedTokens).toBeGreaterThan(0);
    expect(a.timings.tokensPerSecond).toBeGreaterThan(0);
    expect(a.timings.timeToFirstTokenMs).toBeGreaterThanOrEqual(a.timings.promptMs);
  });

  it("is reproducible with a seed at temperature > 0, and the seed matters", async () => {
    const s1 = await generate(base, { temperature: 1, seed: 7 });
    const s1again = await generate(base, { temperature: 1, seed: 7 });
    const others = await Promise.all([8, 9, 10].map((seed) => generate(base, { temperature: 1, seed })));
    expect(s1again.text).toBe(s1.text);
    expect(others.some((o) => o.text !== s1.text)).toBe(true);
  });

  it("applies LoRA: scale 0 equals the base bit for bit, scale 1 differs", async () => {
    const [b, z, a] = await Promise.all([generate(base), generate(zeroScale), generate(adapted)]);
    expect(z.text).toBe(b.text);
    expect(a.text).not.toBe(b.text);
    const ll = (contextId: string) =>
      engine.request("engine/logLikelihood", { contextId, messages: user("Hello, world!"), answer: "Hi there." });
    const [lb, lz, la] = await Promise.all([ll(base), ll(zeroScale), ll(adapted)]);
    expect(lz.logLikelihood).toBe(lb.logLikelihood);
    expect(la.logLikelihood).not.toBe(lb.logLikelihood);
  });

  it("cancels a stream mid-way and keeps serving", async () => {
    const controller = new AbortController();
    let received = "";
    const call = engine.request(
      "engine/generate",
      { contextId: base, messages: user("Tell me a long story."), maxTokens: 200 },
      {
        signal: controller.signal,
        onChunk: (t) => {
          received += t;
          controller.abort();
        },
      },
    );
    await expect(call).rejects.toMatchObject({ name: "AbortError" });
    expect(received.length).toBeGreaterThan(0);
    const after = await generate(base);
    expect(after.text.length).toBeGreaterThan(0);
    expect(engine.state).toBe("ready");
  });

  it("returns deterministic embeddings of the formatted prompt and of raw text", async () => {
    const e1 = await engine.request("engine/embed", { modelId, input: { messages: user("What is 2 + 2?") } });
    const e2 = await engine.request("engine/embed", { modelId, input: { messages: user("What is 2 + 2?") } });
    const e3 = await engine.request("engine/embed", { modelId, input: { messages: user("Write a poem.") } });
    const raw = await engine.request("engine/embed", { modelId, input: { text: "What is 2 + 2?" } });
    expect(e1.embedding).toHaveLength(64);
    expect(e2.embedding).toEqual(e1.embedding);
    expect(e3.embedding).not.toEqual(e1.embedding);
    expect(raw.embedding).not.toEqual(e1.embedding);
    expect(e1.embedding.every(Number.isFinite)).toBe(true);
  });

  it("reads the last hidden state through a feature head as the embedding of the same blocks gives it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prism-head-"));
    try {
      await writeTruncatedModel(fixtures.tiny, join(dir, "plain.gguf"), 1);
      await writeTruncatedModel(fixtures.tiny, join(dir, "head.gguf"), 1, { featureHead: true });
      const plain = await loadModel(engine, join(dir, "plain.gguf"));
      const head = await loadModel(engine, join(dir, "head.gguf"));
      const { contextId } = await engine.request("engine/createContext", {
        modelId: head.modelId,
        contextSize: 256,
        threads: 1,
      });
      for (const prompt of ["What is 2 + 2?", "Write a poem about the sea, please."]) {
        const expected = await engine.request("engine/embed", {
          modelId: plain.modelId,
          input: { messages: user(prompt) },
        });
        const read = await engine.request("engine/featureHead", { contextId, messages: user(prompt) });
        expect(read.tokens).toBe(expected.tokens);
        // The head multiplies the state quantised to 8 bits per block of 32 (featureHead.ts).
        expect(relativeError(read.embedding, expected.embedding)).toBeLessThan(0.02);
        expect(relativeError(read.embedding, expected.embedding)).toBeGreaterThan(0);
      }
      // An ordinary model's logits are no hidden state.
      expect(
        await rejection(engine.request("engine/featureHead", { contextId: base, messages: user("Hi") })),
      ).toMatchObject({ code: "engine/notFeatureHead" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("scores an answer's log-likelihood deterministically", async () => {
    const a = await engine.request("engine/logLikelihood", { contextId: base, messages: user("Hi"), answer: "Hello!" });
    const b = await engine.request("engine/logLikelihood", { contextId: base, messages: user("Hi"), answer: "Hello!" });
    expect(a.logLikelihood).toBeLessThan(0);
    expect(b.logLikelihood).toBe(a.logLikelihood);
    expect(a.answerTokens).toBe(6);
  });

  it("formats prompts with the model's ChatML template", async () => {
    const p = await engine.request("engine/formatPrompt", {
      modelId,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
    });
    expect(p.text).toContain("<|im_start|>system\nBe brief.<|im_end|>");
    expect(p.text).toContain("<|im_start|>user\nHi<|im_end|>");
    expect(p.text.trimEnd().endsWith("<|im_start|>assistant")).toBe(true);
    expect(p.tokens).toContain(258);
  });

  it("D1: the teacher reads the persona; teacher and student sequences differ exactly by the persona block", async () => {
    const persona = "You are an expert mathematician who shows every step.";
    const answer = "Four.";
    const student = await engine.request("engine/formatPrompt", { modelId, messages: user("What is 2 + 2?"), answer });
    const teacher = await engine.request("engine/scoreTopK", {
      contextId: base,
      messages: [{ role: "system", content: persona }, ...user("What is 2 + 2?")],
      answer,
      k: 8,
    });
    // Same answer tokens (end of turn included), one teacher row per answer token, each sorted, top-8.
    expect(teacher.tokens.slice(teacher.answerStart)).toEqual(student.tokens.slice(student.answerStart));
    expect(teacher.rows).toHaveLength(student.tokens.length - student.answerStart);
    for (const row of teacher.rows) {
      expect(row.ids).toHaveLength(8);
      expect([...row.logp].sort((a, b) => b - a)).toEqual(row.logp);
    }
    // Student prompt = teacher prompt without the system block: the BOS, then everything after that block.
    const extra = teacher.answerStart - student.answerStart;
    expect(teacher.tokens.slice(0, 1)).toEqual(student.tokens.slice(0, 1));
    expect(teacher.tokens.slice(1 + extra)).toEqual(student.tokens.slice(1));
    const block = await engine.request("engine/formatPrompt", { modelId, messages: user("x") });
    expect(extra).toBeGreaterThan(persona.length); // byte vocabulary: the persona's bytes plus the role markers
    expect(block.text).not.toContain(persona);
  });

  it("scores the teacher's top-k natively: the full distribution's top k, up to one constant per row", async () => {
    const messages = [{ role: "system" as const, content: "You are terse." }, ...user("Name a colour.")];
    const answer = "Blue, mostly.";
    const full = await engine.request("engine/scoreTopK", { contextId: base, messages, answer, k: 260 });
    const top = await engine.request("engine/scoreTopK", { contextId: base, messages, answer, k: 16 });
    expect(top.rows).toHaveLength(full.rows.length);
    for (const [i, row] of top.rows.entries()) {
      const all = full.rows[i]!;
      // k = the vocabulary keeps every token, so that row is the whole softmax.
      expect(all.ids).toHaveLength(260);
      expect(all.logp.reduce((s, lp) => s + Math.exp(lp), 0)).toBeCloseTo(1, 4);
      expect(row.ids).toEqual(all.ids.slice(0, 16));
      const offsets = row.logp.map((lp, j) => lp - all.logp[j]!);
      for (const o of offsets) expect(o).toBeCloseTo(offsets[0]!, 4);
      expect(offsets[0]!).toBeGreaterThanOrEqual(-1e-6); // top-k renormalised: its mass ≤ 1
    }
    // The full rows agree with the independent log-likelihood path on the answer's own tokens.
    const ll = await engine.request("engine/logLikelihood", { contextId: base, messages, answer });
    let sum = 0;
    for (let i = 0; i < ll.answerTokens; i++) {
      const next = full.tokens[full.answerStart + i]!;
      const row = full.rows[i]!;
      sum += row.logp[row.ids.indexOf(next)]!;
    }
    expect(sum).toBeCloseTo(ll.logLikelihood, 2);
  });

  it("evaluates a shared prefix once per sequence, answering exactly as when it evaluates it afresh", async () => {
    const persona = "You are a patient, precise teacher of geometry who explains every idea with a drawing.";
    const ask = (question: string, sharedPrefix = { messages: 1, chars: 0 }) => ({
      messages: [
        { role: "system" as const, content: persona },
        { role: "user" as const, content: question },
      ],
      sharedPrefix,
      maxTokens: 12,
    });
    const { contextId } = await engine.request("engine/createContext", { modelId, contextSize: 256, threads: 1 });
    const first = await engine.request("engine/generate", { contextId, ...ask("What is a circle?") });
    const other = await engine.request("engine/generate", { contextId, ...ask("What is a square?") });
    const again = await engine.request("engine/generate", { contextId, ...ask("What is a circle?") });
    expect(first.timings.cachedPromptTokens).toBeUndefined();
    // byte vocabulary: the persona's characters and the template's markup around it
    expect(other.timings.cachedPromptTokens).toBeGreaterThanOrEqual(persona.length);
    expect(again.timings.cachedPromptTokens).toBe(other.timings.cachedPromptTokens);
    expect(again.text).toBe(first.text);
    // a request without it clears the sequence; the prefix is then evaluated afresh, with the same answer
    await engine.request("engine/generate", { contextId, messages: user("Hello"), maxTokens: 4 });
    const fresh = await engine.request("engine/generate", { contextId, ...ask("What is a circle?") });
    expect(fresh.timings.cachedPromptTokens).toBeUndefined();
    expect(fresh.text).toBe(first.text);
    // a split beyond the prompt is no prefix at all
    const none = await engine.request("engine/generate", {
      contextId,
      ...ask("What is a circle?", { messages: 5, chars: 0 }),
    });
    expect(none.timings.cachedPromptTokens).toBeUndefined();
    await engine.request("engine/disposeContext", { contextId });
  });

  it("runs several sequences of one context in parallel", async () => {
    const { contextId } = await engine.request("engine/createContext", {
      modelId,
      contextSize: 512,
      sequences: 3,
      threads: 1,
    });
    const prompts = ["one", "two", "three", "four"].map((w) =>
      engine.request("engine/generate", { contextId, messages: user(`Say ${w}`), maxTokens: 12 }),
    );
    const results = await Promise.all(prompts);
    const serial = await engine.request("engine/generate", {
      contextId: base,
      messages: user("Say three"),
      maxTokens: 12,
    });
    expect(results[2]!.text).toBe(serial.text);
    await engine.request("engine/disposeContext", { contextId });
    expect((await rejection(engine.request("engine/generate", { contextId, messages: user("x") }))).code).toBe(
      "engine/unknownContext",
    );
  });

  it("refuses a GPU backend this machine does not have instead of silently using the CPU", async () => {
    const other = startEngine();
    try {
      const absent = process.platform === "darwin" ? "cuda" : "metal";
      const err = await rejection(
        other.request("engine/loadModel", { modelPath: fixtures.tiny, gpu: absent, threads: 1 }),
      );
      expect(err.code).toBe("engine/gpuUnavailable");
    } finally {
      await other.dispose();
    }
  });

  it("a model download while offline fails fast with a clear, coded error and leaves nothing behind", async () => {
    const dir = join(fixtures.dir, "downloads");
    const started = Date.now();
    const err = await rejection(
      engine.request("engine/download", { uri: "hf:prism-test/no-such-repo/model-q4_k_m.gguf", dir }),
    );
    expect(err.code).toBe("engine/downloadFailed");
    expect(err.message).toContain("hf:prism-test/no-such-repo/model-q4_k_m.gguf");
    expect(Date.now() - started).toBeLessThan(60_000);
    const left = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".gguf")) : [];
    expect(left).toEqual([]);
  });

  it("reads F16 weights", async () => {
    const info = await loadModel(engine, fixtures.tinyF16);
    expect(info.typeDescription).toMatch(/F16/);
    await engine.request("engine/unloadModel", { modelId: info.modelId });
  });
});
