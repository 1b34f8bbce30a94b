/**
 * The router on the fake engine (docs/method.md §4): the gate's probability decides the side in `hard` mode
 * (adapter iff p ≥ threshold), scales the adapter in `soft` mode, is overruled by `base`/`persona`, and picks the
 * served side of `compare`. A hand-made gate computes p = sigmoid(feature[0]), and the fake engine's embedding of
 * a prompt is the logit of the probability the test wants, so every decision is exact.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ModelSession } from "../../../src/core/engine/ModelSession.js";
import { FeatureExtractor } from "../../../src/core/features/FeatureExtractor.js";
import { Gate } from "../../../src/core/gate/Gate.js";
import { Router, type RouteMode, type RouterOptions } from "../../../src/core/routing/Router.js";
import { RoutingLog } from "../../../src/core/routing/RoutingLog.js";
import { FakeEngine, type FakeEngineOptions } from "../../../testkit/FakeEngine.js";
import { scratchDirs } from "../../../testkit/scratchDirs.js";

const tmp = scratchDirs("prism-router-");

/** A gate whose output is sigmoid(x[0]): GELU(z) = z exactly for z ≥ 20 in float64, so the layers pass x through. */
function identityGate(): Gate {
  const f = (...v: number[]) => Float32Array.from(v);
  return new Gate({
    inputSize: 1,
    hidden: [1, 1],
    activation: "gelu",
    mean: f(0),
    std: f(1),
    w1: f(1),
    b1: f(20),
    w2: f(1),
    b2: f(0),
    w3: f(1),
    b3: -20,
  });
}

/** Prompts name their gate probability: "p=0.7 …". */
const probabilityOf = (prompt: string) => Number(/^p=([\d.]+)/.exec(prompt)?.[1] ?? 0.5);

async function router(o: { threshold?: number; engine?: FakeEngineOptions; log?: boolean } = {}) {
  const engine = new FakeEngine({
    model: { embeddingSize: 1 },
    embed: (input) => {
      const p = probabilityOf(input);
      return [Math.log(p / (1 - p))];
    },
    replies: [
      { adapter: true, text: (r) => `persona@${r.adapters[0]!.scale}: ${r.prompt}` },
      { adapter: false, text: (r) => `base: ${r.prompt}` },
    ],
    ...o.engine,
  });
  const dir = await tmp();
  const session = new ModelSession(engine, { modelPath: join(dir, "base.gguf"), gpu: "false", threads: 1 });
  const log = o.log ? new RoutingLog(join(dir, "routing.jsonl")) : undefined;
  const options: RouterOptions = {
    session,
    adapterPath: join(dir, "adapter.gguf"),
    gate: identityGate(),
    threshold: o.threshold ?? 0.5,
    // `final`: the base model's own embedding, so no truncated copy is needed
    features: new FeatureExtractor({
      engine,
      basePath: join(dir, "base.gguf"),
      baseFingerprint: "sha256:0",
      spec: { source: "final", pooling: "last" },
      cacheDir: dir,
      threads: 1,
      gpu: "false",
    }),
    contextSize: 512,
    threads: 1,
    log,
  };
  const contexts = () =>
    engine.calls
      .filter((c) => c.method === "engine/createContext")
      .map((c) => (c.params.adapters as Array<{ scale: number }>).map((a) => a.scale));
  return { engine, router: new Router(options), log, contexts, adapterPath: options.adapterPath };
}

describe("Router: hard mode (the paper)", () => {
  it.each([
    [0.9, 0.5, "persona"],
    [0.5, 0.5, "persona"], // p ≥ threshold: equality uses the adapter
    [0.3, 0.5, "base"],
    [0.5, 0.7, "base"],
    [0.75, 0.7, "persona"],
  ] as const)("p = %f, threshold %f → %s", async (p, threshold, side) => {
    const r = await router({ threshold });
    const result = await r.router.route(`p=${p} How do I sear scallops?`);
    expect(result.gate.probability).toBeCloseTo(p, 12);
    expect(result.gate).toMatchObject({ threshold, decision: side });
    expect(result.served).toBe(side);
    expect(Object.keys(result.outputs)).toEqual([side]);
    expect(result.outputs[side]!.scale).toBe(side === "persona" ? 1 : 0);
    expect(result.outputs[side]!.text).toBe(
      side === "persona" ? `persona@1: p=${p} How do I sear scallops?` : `base: p=${p} How do I sear scallops?`,
    );
  });

  it("generates from the student prompt, in a base context or a context with the adapter at scale 1", async () => {
    const r = await router();
    await r.router.route("p=0.2 first");
    await r.router.route("p=0.8 second");
    await r.router.route("p=0.9 third");
    // one context per side, created once and reused
    expect(r.contexts()).toEqual([[], [1]]);
    const adapted = r.engine.calls.filter((c) => c.method === "engine/createContext")[1]!;
    expect(adapted.params.adapters).toEqual([{ path: r.adapterPath, scale: 1 }]);
    const generate = r.engine.calls.find((c) => c.method === "engine/generate")!;
    expect(generate.params).toMatchObject({
      messages: [{ role: "user", content: "p=0.2 first" }],
      temperature: 0,
      maxTokens: 512,
    });
  });
});

describe("Router: other modes", () => {
  it("soft: the adapter at scale p in a short-lived context, served as persona", async () => {
    const r = await router();
    const result = await r.router.route("p=0.25 braise", { mode: "soft" });
    expect(result.served).toBe("persona");
    expect(result.outputs.persona!.scale).toBeCloseTo(0.25, 12);
    expect(result.outputs.persona!.text).toBe(`persona@${result.outputs.persona!.scale}: p=0.25 braise`);
    expect(r.engine.count("engine/disposeContext")).toBe(1);
  });

  it.each(["base", "persona"] as const)("%s: forces the side whatever the gate says", async (mode) => {
    const r = await router();
    for (const p of [0.1, 0.9]) {
      const result = await r.router.route(`p=${p} roast`, { mode });
      expect(result.served).toBe(mode);
      expect(result.gate.decision).toBe(p >= 0.5 ? "persona" : "base");
      expect(Object.keys(result.outputs)).toEqual([mode]);
    }
  });

  it("compare: generates both sides and serves the gate's choice, streaming each side's text", async () => {
    const r = await router();
    const chunks: Record<string, string> = { base: "", persona: "" };
    const result = await r.router.route("p=0.3 poach", { mode: "compare", onChunk: (side, t) => (chunks[side] += t) });
    expect(result.served).toBe("base");
    expect(result.outputs.base!.text).toBe("base: p=0.3 poach");
    expect(result.outputs.persona!.text).toBe("persona@1: p=0.3 poach");
    expect(chunks).toEqual({ base: result.outputs.base!.text, persona: result.outputs.persona!.text });
  });

  it("refuses an unknown mode with routing/invalidMode, before any engine work", async () => {
    const r = await router();
    await expect(r.router.route("p=0.3 x", { mode: "sideways" as RouteMode })).rejects.toMatchObject({
      code: "routing/invalidMode",
    });
    expect(r.engine.count()).toBe(0);
  });
});

describe("Router: decisions, log and faults", () => {
  it("reports the decision before generating, and reuses a given decision without running the gate", async () => {
    const r = await router();
    const order: string[] = [];
    const first = await r.router.route("p=0.9 grill", {
      onDecision: (d) => order.push(`decision ${d.decision}`),
      onChunk: () => order.at(-1) === "text" || order.push("text"),
    });
    expect(order).toEqual(["decision persona", "text"]);
    const embeds = r.engine.count("engine/embed");
    const followUp = await r.router.route("p=0.1 and then?", { decision: first.gate });
    expect(r.engine.count("engine/embed")).toBe(embeds);
    expect(followUp.served).toBe("persona");
  });

  it("appends every routed prompt to the routing log", async () => {
    const r = await router({ log: true });
    await r.router.route("p=0.9 one");
    await r.router.route("p=0.1 two", { mode: "compare" });
    const records = await r.log!.recent();
    expect(records.map((x) => [x.prompt, x.mode, x.decision, x.served])).toEqual([
      ["p=0.9 one", "hard", "persona", "persona"],
      ["p=0.1 two", "compare", "base", "base"],
    ]);
    expect(records[1]!.sides.persona).toBeDefined();
    expect(records[0]!.threshold).toBe(0.5);
  });

  it("fails with engine/crashed when the engine dies mid-answer, and routes again on a fresh engine", async () => {
    const r = await router({
      engine: { latencyMs: { "engine/generate": 2 } },
    });
    r.engine.inject({ method: "engine/generate", effect: { crash: {} } });
    await expect(r.router.route("p=0.9 flambé", { mode: "compare" })).rejects.toMatchObject({ code: "engine/crashed" });
    const again = await r.router.route("p=0.9 flambé");
    expect(again.outputs.persona!.text).toBe("persona@1: p=0.9 flambé");
    // the feature model and the base model were loaded once per engine, also with both sides asking at once
    expect(r.engine.generation).toBe(2);
    expect(r.engine.calls.filter((c) => c.method === "engine/loadModel").map((c) => c.generation)).toEqual([
      1, 1, 2, 2,
    ]);
  });

  it("passes a coded engine error through and stays usable", async () => {
    const r = await router();
    r.engine.inject({ method: "engine/generate", effect: { error: "engine/promptTooLong" } });
    await expect(r.router.route("p=0.2 long")).rejects.toMatchObject({ code: "engine/promptTooLong" });
    await expect(r.router.route("p=0.2 short")).resolves.toMatchObject({ served: "base" });
  });
});
