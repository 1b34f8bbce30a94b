/** ModelSession on the fake engine: one load per engine generation, shared by concurrent callers (docs/architecture.md §5). */
import { describe, expect, it } from "vitest";
import { ModelSession } from "../../../src/core/engine/ModelSession.js";
import { FakeEngine } from "../../../testkit/FakeEngine.js";

const load = { modelPath: "/models/base.gguf", gpu: "false", threads: 1 } as const;

describe("ModelSession", () => {
  it("loads the model once and creates each keyed context once, however many callers ask at the same time", async () => {
    const engine = new FakeEngine({ latencyMs: 2 });
    const session = new ModelSession(engine, load);
    const ids = await Promise.all([1, 2, 3].map(() => session.context("base", { contextSize: 64 })));
    const [a, b] = await Promise.all([session.model(), session.model()]);
    expect(new Set(ids).size).toBe(1);
    expect(a).toBe(b);
    expect(engine.count("engine/loadModel")).toBe(1);
    expect(engine.count("engine/createContext")).toBe(1);
  });

  it("after a crash, loads the model again and re-creates its contexts on the new engine", async () => {
    const engine = new FakeEngine();
    const session = new ModelSession(engine, load);
    const before = await session.context("base", { contextSize: 512 });
    engine.crash();
    const after = await session.context("base", { contextSize: 512 });
    expect(after).not.toBe(before);
    expect(engine.calls.filter((c) => c.method === "engine/loadModel").map((c) => c.generation)).toEqual([1, 2]);
    await expect(
      engine.request("engine/generate", { contextId: after, messages: [{ role: "user", content: "hi" }] }),
    ).resolves.toMatchObject({ stopReason: "eogToken" });
  });

  it("does not keep a failed load, and disposes a keyed context", async () => {
    const engine = new FakeEngine().inject({ method: "engine/loadModel", effect: { error: "engine/modelNotFound" } });
    const session = new ModelSession(engine, load);
    await expect(session.model()).rejects.toMatchObject({ code: "engine/modelNotFound" });
    const id = await session.context("soft", { contextSize: 64 });
    await session.disposeContext("soft");
    expect(engine.calls.at(-1)).toMatchObject({ method: "engine/disposeContext", params: { contextId: id } });
    expect(await session.context("soft", { contextSize: 64 })).not.toBe(id);
  });
});
