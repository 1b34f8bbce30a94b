import { describe, expect, it } from "vitest";
import { isCancellation } from "../../../src/core/errors.js";
import { ModelSession } from "../../../src/core/engine/ModelSession.js";
import { LocalChatBackend } from "../../../src/core/serve/LocalChatBackend.js";
import { FakeEngine } from "../../../testkit/FakeEngine.js";

function backend(engine: FakeEngine, parallel?: number) {
  const session = new ModelSession(engine, { modelPath: "/models/base.gguf", gpu: "false", threads: 1 });
  return new LocalChatBackend({
    session,
    adapterPath: "/b.prism/adapter.gguf",
    contextSize: 512,
    threads: 1,
    parallel,
  });
}

const ask = (content: string, adapterScale: number, extra: object = {}) => ({
  messages: [{ role: "user" as const, content }],
  adapterScale,
  maxTokens: 64,
  temperature: 0,
  ...extra,
});

describe("LocalChatBackend", () => {
  it("answers from a base context at scale 0 and an adapter context at scale 1, each created once", async () => {
    const engine = new FakeEngine({
      replies: [
        { adapter: true, text: "persona says hi" },
        { adapter: false, text: "base says hi" },
      ],
    });
    const b = backend(engine, 3);
    expect((await b.generate(ask("hi", 0))).text).toBe("base says hi");
    expect((await b.generate(ask("hi", 1))).text).toBe("persona says hi");
    expect((await b.generate(ask("hello", 0))).text).toBe("base says hi");
    const contexts = engine.calls.filter((c) => c.method === "engine/createContext").map((c) => c.params);
    expect(contexts).toMatchObject([
      { adapters: [], sequences: 3, contextSize: 512 },
      { adapters: [{ path: "/b.prism/adapter.gguf", scale: 1 }], sequences: 3 },
    ]);
  });

  it("runs a soft scale in a short-lived context of its own", async () => {
    const engine = new FakeEngine();
    const b = backend(engine);
    await Promise.all([b.generate(ask("a", 0.4)), b.generate(ask("b", 0.4))]);
    const created = engine.calls.filter((c) => c.method === "engine/createContext");
    expect(created.map((c) => c.params.adapters)).toEqual([
      [{ path: "/b.prism/adapter.gguf", scale: 0.4 }],
      [{ path: "/b.prism/adapter.gguf", scale: 0.4 }],
    ]);
    expect(engine.count("engine/disposeContext")).toBe(2);
  });

  it("passes stop strings, sampling and streams; maps the stop reason to OpenAI's finish reason", async () => {
    const engine = new FakeEngine({ replies: [{ text: "one two three four" }] });
    const b = backend(engine);
    const chunks: string[] = [];
    const stopped = await b.generate(
      ask("count", 0, {
        stop: [" three"],
        temperature: 0.5,
        topP: 0.8,
        seed: 7,
        onChunk: (t: string) => chunks.push(t),
      }),
    );
    expect(stopped).toMatchObject({ text: "one two", finishReason: "stop" });
    expect(chunks.join("")).toBe("one two");
    expect(engine.calls.find((c) => c.method === "engine/generate")!.params).toMatchObject({
      stop: [" three"],
      temperature: 0.5,
      topP: 0.8,
      seed: 7,
      maxTokens: 64,
    });
    expect(await b.generate(ask("count", 0, { maxTokens: 3 }))).toMatchObject({ text: "one", finishReason: "length" });
    expect(await b.generate(ask("count", 0))).toMatchObject({ text: "one two three four", finishReason: "stop" });
  });

  it("rejects with a cancellation when the signal aborts", async () => {
    const engine = new FakeEngine({ latencyMs: { "engine/generate": 5_000 } });
    const b = backend(engine);
    const controller = new AbortController();
    const answer = b.generate(ask("slow", 0, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    expect(await answer.then(() => false, isCancellation)).toBe(true);
  });
});
