import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { fixtures, loadModel, rejection, startEngine, user } from "./harness.js";

describe("bad input gets a coded error that names the file and the reason", () => {
  let engine: EngineProcess;
  let modelId: string;
  let contextId: string;
  beforeAll(async () => {
    engine = startEngine();
    modelId = (await loadModel(engine, fixtures.tiny)).modelId;
    contextId = (await engine.request("engine/createContext", { modelId, contextSize: 256, threads: 1 })).contextId;
  });
  afterAll(() => engine.dispose());

  const models: Array<[string, () => string, string, RegExp]> = [
    ["missing file", () => join(fixtures.dir, "nope.gguf"), "engine/modelNotFound", /file not found/],
    ["not a GGUF", () => fixtures.notGguf, "engine/notGguf", /not a GGUF/],
    ["truncated in the tensor data", () => fixtures.truncatedData, "engine/truncatedGguf", /truncated|corrupt/],
    ["truncated in the header", () => fixtures.truncatedHeader, "engine/truncatedGguf", /truncated|corrupt/],
    [
      "unsupported architecture",
      () => fixtures.unsupportedArch,
      "engine/unsupportedArchitecture",
      /prism-unknown-arch/,
    ],
  ];
  it.each(models)("model: %s", async (_name, path, code, reason) => {
    const err = await rejection(loadModel(engine, path()));
    expect(err.code).toBe(code);
    expect(err.message).toContain(path());
    expect(err.message).toMatch(reason);
    expect(engine.state).toBe("ready");
  });

  const adapters: Array<[string, () => string, string, RegExp]> = [
    ["missing adapter", () => join(fixtures.dir, "nope-adapter.gguf"), "engine/adapterNotFound", /file not found/],
    ["adapter for another architecture", () => fixtures.adapterOtherArch, "engine/adapterArchMismatch", /arch/],
    ["adapter for another shape", () => fixtures.adapterWrongShape, "engine/adapterShapeMismatch", /shape/],
    ["a model file used as adapter", () => fixtures.tiny, "engine/notAnAdapter", /not an adapter/],
    ["a text file used as adapter", () => fixtures.notGguf, "engine/notAnAdapter", /not a GGUF/],
  ];
  it.each(adapters)("adapter: %s", async (_name, path, code, reason) => {
    const err = await rejection(
      engine.request("engine/createContext", { modelId, contextSize: 256, adapters: [{ path: path(), scale: 1 }] }),
    );
    expect(err.code).toBe(code);
    expect(err.message).toContain(path());
    expect(err.message).toMatch(reason);
  });

  it("prompt longer than the context", async () => {
    const err = await rejection(
      engine.request("engine/generate", { contextId, messages: user("x".repeat(400)), maxTokens: 4 }),
    );
    expect(err.code).toBe("engine/promptTooLong");
    expect(err.message).toMatch(/\d+ tokens long.*256/);
  });

  it.each([[""], ["   \n\t"]])("empty prompt %j", async (content) => {
    const err = await rejection(engine.request("engine/generate", { contextId, messages: user(content) }));
    expect(err.code).toBe("engine/emptyPrompt");
  });

  const invalid: Array<[string, () => Promise<unknown>]> = [
    [
      "negative temperature",
      () => engine.request("engine/generate", { contextId, messages: user("hi"), temperature: -1 }),
    ],
    ["zero max tokens", () => engine.request("engine/generate", { contextId, messages: user("hi"), maxTokens: 0 })],
    ["zero threads", () => engine.request("engine/loadModel", { modelPath: fixtures.tiny, gpu: "false", threads: 0 })],
    [
      "unknown gpu",
      () => engine.request("engine/loadModel", { modelPath: fixtures.tiny, gpu: "tpu" as "auto", threads: 1 }),
    ],
    ["context size 0", () => engine.request("engine/createContext", { modelId, contextSize: 0 })],
    [
      "a NaN adapter scale",
      () =>
        engine.request("engine/createContext", {
          modelId,
          contextSize: 256,
          adapters: [{ path: fixtures.adapter, scale: NaN }],
        }),
    ],
    [
      "last message not from the user",
      () => engine.request("engine/generate", { contextId, messages: [{ role: "assistant", content: "hi" }] }),
    ],
  ];
  it.each(invalid)("invalid option: %s", async (_name, call) => {
    const err = await rejection(call());
    expect(err.code).toBe("engine/invalidOptions");
  });

  it("unknown handles", async () => {
    expect((await rejection(engine.request("engine/embed", { modelId: "m999", input: { text: "x" } }))).code).toBe(
      "engine/unknownModel",
    );
    expect((await rejection(engine.request("engine/generate", { contextId: "c999", messages: user("x") }))).code).toBe(
      "engine/unknownContext",
    );
  });

  it("a GPU backend that is not there", async () => {
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
});
