/**
 * The unit tests' engine keeps the promises the real one makes (docs/architecture.md §4–5): validated params,
 * handles valid for one engine generation, coded errors, cancellation, and a crash that rejects every pending
 * request the way `EngineProcess` does and restarts on the next request. Determinism is what makes the
 * resume tests of test/unit/distill meaningful.
 */
import { describe, expect, it } from "vitest";
import { ModelSession } from "../../../src/core/engine/ModelSession.js";
import { isCancellation } from "../../../src/core/errors.js";
import { personaMessages, studentMessages } from "../../../src/core/pipeline/studentPrompt.js";
import { FakeEngine } from "../../../testkit/FakeEngine.js";
import { FAKE_TOKENS } from "../../../testkit/fakeChatTemplate.js";

const load = { modelPath: "/models/base.gguf", gpu: "false", threads: 1 } as const;

async function contextOf(engine: FakeEngine, adapters: Array<{ path: string; scale: number }> = []) {
  const { modelId } = await engine.request("engine/loadModel", load);
  const { contextId } = await engine.request("engine/createContext", { modelId, contextSize: 512, adapters });
  return { modelId, contextId };
}

describe("FakeEngine answers deterministically", () => {
  it("derives unscripted answers from the request: same request, same text; the seed matters only when sampling", async () => {
    const a = new FakeEngine();
    const b = new FakeEngine();
    const gen = async (engine: FakeEngine, seed: number, temperature: number) => {
      const { contextId } = await contextOf(engine);
      return (
        await engine.request("engine/generate", { contextId, messages: studentMessages("Why?"), seed, temperature })
      ).text;
    };
    expect(await gen(a, 1, 0.7)).toBe(await gen(b, 1, 0.7));
    expect(await gen(a, 1, 0.7)).not.toBe(await gen(a, 2, 0.7));
    expect(await gen(a, 1, 0)).toBe(await gen(a, 2, 0));
  });

  it("uses the first matching scripted reply, cuts at maxTokens (one character per token) and streams the text", async () => {
    const engine = new FakeEngine({
      replies: [
        { system: "pirate", prompt: /treasure/, text: "Arr, buried on the isle." },
        { adapter: true, text: (r) => `adapter at ${r.adapters[0]!.scale}` },
      ],
    });
    const { contextId } = await contextOf(engine);
    const chunks: string[] = [];
    const pirate = await engine.request(
      "engine/generate",
      { contextId, messages: personaMessages("You are a pirate.", "Where is the treasure?") },
      { onChunk: (t) => chunks.push(t) },
    );
    expect(pirate).toMatchObject({ text: "Arr, buried on the isle.", stopReason: "eogToken" });
    expect(chunks.join("")).toBe(pirate.text);
    const cut = await engine.request("engine/generate", {
      contextId,
      messages: personaMessages("You are a pirate.", "Any treasure?"),
      maxTokens: 4,
    });
    expect(cut).toMatchObject({ text: "Arr,", stopReason: "maxTokens", timings: { generatedTokens: 4 } });
    const adapted = await contextOf(engine, [{ path: "/a.gguf", scale: 0.25 }]);
    const r = await engine.request("engine/generate", {
      contextId: adapted.contextId,
      messages: studentMessages("Hi"),
    });
    expect(r.text).toBe("adapter at 0.25");
  });

  it("formats prompts with answers as the engine does: the answer's tokens, then end of turn, at answerStart", async () => {
    const engine = new FakeEngine();
    const { modelId, contextId } = await contextOf(engine);
    const student = await engine.request("engine/formatPrompt", {
      modelId,
      messages: studentMessages("q"),
      answer: "ab",
    });
    expect(student.tokens.slice(student.answerStart)).toHaveLength(3);
    expect(student.tokens.at(-1)).toBe(FAKE_TOKENS.eot);
    const teacher = await engine.request("engine/scoreTopK", {
      contextId,
      messages: personaMessages("You are a chef.", "q"),
      answer: "ab",
      k: 8,
    });
    // same answer tokens after another prompt, one row per answer token, top-k renormalised and sorted
    expect(teacher.tokens.slice(teacher.answerStart)).toEqual(student.tokens.slice(student.answerStart));
    expect(teacher.rows).toHaveLength(3);
    for (const [i, row] of teacher.rows.entries()) {
      expect(row.ids).toHaveLength(8);
      expect(row.ids).toContain(teacher.tokens[teacher.answerStart + i]);
      expect(row.logp.reduce((s, x) => s + Math.exp(x), 0)).toBeCloseTo(1, 10);
      expect([...row.logp].sort((x, y) => y - x)).toEqual(row.logp);
    }
    const other = await engine.request("engine/scoreTopK", {
      contextId,
      messages: studentMessages("q"),
      answer: "ab",
      k: 8,
    });
    expect(other.rows).not.toEqual(teacher.rows);
  });

  it("embeds by script or by hash, as wide as the model says", async () => {
    const engine = new FakeEngine({
      model: { embeddingSize: 3 },
      embed: (input) => (input === "scripted" ? [1, 2, 3] : undefined),
    });
    const { modelId } = await contextOf(engine);
    const embed = (text: string) =>
      engine.request("engine/embed", { modelId, input: { messages: studentMessages(text) } });
    expect((await embed("scripted")).embedding).toEqual([1, 2, 3]);
    const hashed = (await embed("other")).embedding;
    expect(hashed).toHaveLength(3);
    expect((await embed("other")).embedding).toEqual(hashed);
  });
});

describe("FakeEngine fails like the engine", () => {
  it("validates params (engine/invalidOptions) and refuses unknown handles", async () => {
    const engine = new FakeEngine();
    await expect(
      engine.request("engine/generate", { contextId: "c1", messages: [{ role: "system", content: "x" }] }),
    ).rejects.toMatchObject({ code: "engine/invalidOptions", message: expect.stringContaining("at messages") });
    await expect(
      engine.request("engine/generate", { contextId: "c9", messages: studentMessages("q") }),
    ).rejects.toMatchObject({ code: "engine/unknownContext" });
    await expect(engine.request("engine/download", { uri: "hf:a/b/c.gguf", dir: "/tmp" })).rejects.toMatchObject({
      code: "engine/downloadFailed",
    });
  });

  it("injects coded errors on cue: after `skip` matching requests, `times` times", async () => {
    const engine = new FakeEngine().inject({
      method: "engine/generate",
      skip: 1,
      times: 2,
      effect: { error: "engine/generationFailed", message: "boom" },
    });
    const { contextId } = await contextOf(engine);
    const gen = () => engine.request("engine/generate", { contextId, messages: studentMessages("q") });
    const outcomes = await Promise.allSettled([gen(), gen(), gen(), gen()]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: "engine/generationFailed" });
  });

  it("crashes like EngineProcess: every pending request gets engine/crashed with the log, the next one starts a new engine", async () => {
    const engine = new FakeEngine({ latencyMs: 20 }).inject({
      method: "engine/generate",
      skip: 2,
      effect: { crash: { exitCode: 134, log: ["GGML_ASSERT(x) failed"] } },
    });
    const { contextId } = await contextOf(engine);
    const gen = () => engine.request("engine/generate", { contextId, messages: studentMessages("q") });
    const outcomes = await Promise.allSettled([gen(), gen(), gen()]);
    for (const o of outcomes) {
      expect(o.status).toBe("rejected");
      expect((o as PromiseRejectedResult).reason).toMatchObject({
        code: "engine/crashed",
        message:
          "The engine process exited with code 134: GGML_ASSERT(x) failed. It will be restarted on the next request.",
        detail: { exitCode: 134, signal: null, log: ["GGML_ASSERT(x) failed"] },
      });
    }
    expect(engine.state).toBe("crashed");
    expect(engine.generation).toBe(1);
    // the old handle died with the old process
    await expect(gen()).rejects.toMatchObject({ code: "engine/unknownContext" });
    expect(engine.generation).toBe(2);
    const session = new ModelSession(engine, load);
    await expect(session.context("x", { contextSize: 64 })).resolves.toMatch(/^c\d+$/);
  });

  it("reports a hang and a kill by signal as the watchdog and EngineProcess do", async () => {
    const engine = new FakeEngine();
    await contextOf(engine);
    expect(engine.crash({ hung: true })).toMatchObject({ code: "engine/hung" });
    await contextOf(engine);
    expect(engine.crash({ signal: "SIGKILL", log: [] }).message).toBe(
      "The engine process was killed by SIGKILL. It will be restarted on the next request.",
    );
  });

  it("rejects at once with the signal's reason when cancelled, and stops for good when disposed", async () => {
    const engine = new FakeEngine({ latencyMs: { "engine/generate": 10_000 } });
    const { contextId } = await contextOf(engine);
    const controller = new AbortController();
    const started = performance.now();
    const pending = engine.request(
      "engine/generate",
      { contextId, messages: studentMessages("q") },
      { signal: controller.signal },
    );
    controller.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(isCancellation(err)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(engine.pendingCount).toBe(0);
    engine.dispose();
    await expect(engine.request("engine/status", {})).rejects.toMatchObject({ code: "engine/stopped" });
  });
});
