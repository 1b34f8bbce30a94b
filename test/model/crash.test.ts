import { afterEach, describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { fixtures, loadModel, rejection, startEngine, user } from "./harness.js";

describe("crash containment", () => {
  let engine: EngineProcess | undefined;
  afterEach(async () => {
    await engine?.dispose();
    engine = undefined;
  });

  it("turns a llama.cpp abort (exit 134) into engine/crashed for every pending request, then restarts", async () => {
    engine = startEngine();
    const good = await loadModel(engine, fixtures.tiny);
    const ctx = await engine.request("engine/createContext", { modelId: good.modelId, contextSize: 256, threads: 1 });
    const firstGeneration = engine.generation;
    const firstPid = engine.pid;
    // A long stream in flight while another request kills the process: both must fail, both coded.
    const stream = engine.request("engine/generate", {
      contextId: ctx.contextId,
      messages: user("Go on"),
      maxTokens: 200,
    });
    const crash = await rejection(loadModel(engine, fixtures.duplicateVocab));
    const streamErr = await rejection(stream).catch(() => undefined);

    expect(crash.code).toBe("engine/crashed");
    expect(crash.message).toMatch(/code 134|SIGABRT/);
    expect(JSON.stringify(crash.detail)).toMatch(/GGML_ASSERT/);
    // The stream may have finished before the abort; if not, it failed with the same code.
    if (streamErr) expect(streamErr.code).toBe("engine/crashed");
    expect(engine.state).toBe("crashed");

    // The host (this process) is alive; the next request starts a fresh engine where old handles are void.
    const again = await loadModel(engine, fixtures.tiny);
    expect(engine.generation).toBe(firstGeneration + 1);
    expect(engine.pid).not.toBe(firstPid);
    expect(again.architecture).toBe("llama");
    const stale = await rejection(engine.request("engine/generate", { contextId: ctx.contextId, messages: user("x") }));
    expect(stale.code).toBe("engine/unknownContext");
  });

  it("reports a SIGKILL mid-stream as engine/crashed and recovers", async () => {
    engine = startEngine();
    const model = await loadModel(engine, fixtures.slow);
    const ctx = await engine.request("engine/createContext", { modelId: model.modelId, contextSize: 4096, threads: 1 });
    let chunks = 0;
    const e = engine;
    const stream = e.request(
      "engine/generate",
      { contextId: ctx.contextId, messages: user("Write forever."), maxTokens: 3000 },
      {
        onChunk: () => {
          if (++chunks === 1) process.kill(e.pid!, "SIGKILL");
        },
      },
    );
    const err = await rejection(stream);
    expect(err.code).toBe("engine/crashed");
    expect(err.message).toMatch(/SIGKILL/);
    const info = await loadModel(engine, fixtures.tiny);
    expect(info.layers).toBe(2);
  });

  it("detects a hung engine (stopped process), fails pending requests with engine/hung, and recovers", async () => {
    engine = new EngineProcess({ enginePath: resolve("dist/engine.mjs"), pingIntervalMs: 100, hangTimeoutMs: 1500 });
    const model = await loadModel(engine, fixtures.slow);
    const ctx = await engine.request("engine/createContext", { modelId: model.modelId, contextSize: 4096, threads: 1 });
    const e = engine;
    let stopped = false;
    const stream = e.request(
      "engine/generate",
      { contextId: ctx.contextId, messages: user("Write forever."), maxTokens: 3000 },
      {
        onChunk: () => {
          if (stopped) return;
          stopped = true;
          // SIGSTOP: the process exists but answers nothing — the watchdog's case, unlike a crash.
          process.kill(e.pid!, "SIGSTOP");
        },
      },
    );
    const started = Date.now();
    const err = await rejection(stream);
    expect(err.code).toBe("engine/hung");
    expect(Date.now() - started).toBeLessThan(10_000);
    const info = await loadModel(engine, fixtures.tiny);
    expect(info.layers).toBe(2);
  });

  it("stops cleanly on dispose and refuses later requests", async () => {
    engine = startEngine();
    await loadModel(engine, fixtures.tiny);
    const pid = engine.pid!;
    await engine.dispose();
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await rejection(loadModel(engine, fixtures.tiny))).code).toBe("engine/stopped");
  });
});
