import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBundle } from "../../src/core/bundle/readBundle.js";
import { ModelSession } from "../../src/core/engine/ModelSession.js";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { FeatureExtractor } from "../../src/core/features/FeatureExtractor.js";
import { writeSyntheticAdapter } from "../../src/core/gguf/syntheticModel.js";
import { modelFingerprint, modelIdentity } from "../../src/core/model/modelIdentity.js";
import { Router } from "../../src/core/routing/Router.js";
import { RoutingLog } from "../../src/core/routing/RoutingLog.js";
import { makeBundle } from "../../testkit/makeBundle.js";
import { fixtures, rejection, startEngine, user } from "./harness.js";

describe("router on a hand-made bundle", () => {
  let engine: EngineProcess;
  let dir: string;
  let bundleDir: string;
  let router: Router;
  let session: ModelSession;
  let features: FeatureExtractor;
  let log: RoutingLog;

  beforeAll(async () => {
    engine = startEngine();
    dir = await mkdtemp(join(tmpdir(), "prism-router-"));
    bundleDir = join(dir, "b.prism");
    await makeBundle(bundleDir, fixtures.tiny);
    const identity = await modelIdentity(fixtures.tiny);
    const bundle = await readBundle(bundleDir, { identity, embeddingSize: 64 });
    session = new ModelSession(engine, { modelPath: fixtures.tiny, gpu: "false", threads: 1 });
    features = new FeatureExtractor({
      engine,
      basePath: fixtures.tiny,
      baseFingerprint: modelFingerprint(identity),
      spec: bundle.manifest.featureSpec,
      cacheDir: join(dir, "cache"),
      threads: 1,
      gpu: "false",
    });
    log = new RoutingLog(join(dir, "routing.jsonl"));
    router = new Router({
      session,
      adapterPath: bundle.adapterPath,
      gate: bundle.gate,
      threshold: bundle.threshold,
      features,
      contextSize: 256,
      threads: 1,
      log,
    });
  });
  afterAll(async () => {
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  /** Output of a fresh context at `scale` (0 = no adapter), to compare the router against. */
  async function direct(prompt: string, scale: number): Promise<string> {
    const { modelId } = await session.model();
    const adapters = scale === 0 ? [] : [{ path: join(bundleDir, "adapter.gguf"), scale }];
    const { contextId } = await engine.request("engine/createContext", {
      modelId,
      contextSize: 256,
      threads: 1,
      adapters,
    });
    const r = await engine.request("engine/generate", { contextId, messages: user(prompt), maxTokens: 16 });
    await engine.request("engine/disposeContext", { contextId });
    return r.text;
  }

  const prompts = [
    "What is the capital of France?",
    "Write a haiku about rain.",
    "hi",
    "Explain recursion to a child.",
  ];

  it("hard mode serves exactly the base or the adapter context's output, as the gate decides", async () => {
    const decisions = new Set<string>();
    for (const prompt of prompts) {
      const r = await router.route(prompt, { mode: "hard", maxTokens: 16 });
      decisions.add(r.served);
      expect(r.served).toBe(r.gate.probability >= r.gate.threshold ? "persona" : "base");
      expect(Object.keys(r.outputs)).toEqual([r.served]);
      expect(r.outputs[r.served]!.text).toBe(await direct(prompt, r.served === "persona" ? 1 : 0));
    }
    expect(await direct(prompts[0]!, 1)).not.toBe(await direct(prompts[0]!, 0));
  });

  it("soft mode runs the adapter at scale p", async () => {
    const r = await router.route(prompts[1]!, { mode: "soft", maxTokens: 16 });
    const p = r.gate.probability;
    expect(r.outputs.persona!.scale).toBe(p);
    expect(r.outputs.persona!.text).toBe(await direct(prompts[1]!, p));
  });

  it("compare mode generates both sides and forced modes ignore the gate", async () => {
    const chunks: Record<string, string> = { base: "", persona: "" };
    const r = await router.route(prompts[3]!, {
      mode: "compare",
      maxTokens: 16,
      onChunk: (side, t) => (chunks[side] += t),
    });
    expect(r.outputs.base!.text).toBe(await direct(prompts[3]!, 0));
    expect(r.outputs.persona!.text).toBe(await direct(prompts[3]!, 1));
    expect(chunks).toEqual({ base: r.outputs.base!.text, persona: r.outputs.persona!.text });
    expect((await router.route(prompts[3]!, { mode: "base", maxTokens: 4 })).served).toBe("base");
    expect((await router.route(prompts[3]!, { mode: "persona", maxTokens: 4 })).served).toBe("persona");
  });

  it("D2: the gate's feature at inference equals the one computed for training", async () => {
    const a = await features.extract("Summarise the plot of Hamlet.");
    const b = await features.extract("Summarise the plot of Hamlet.");
    expect(a.vector).toEqual(b.vector);
    const decision = await router.decide("Summarise the plot of Hamlet.");
    const { gate } = await readBundle(bundleDir);
    expect(decision.probability).toBe(gate.predict(a.vector));
  });

  it("records every routed prompt in the routing log", async () => {
    const records = await log.recent();
    expect(records.length).toBeGreaterThanOrEqual(8);
    const last = records.at(-1)!;
    expect(last).toMatchObject({ mode: "persona", served: "persona", prompt: prompts[3] });
    expect(last.sides.persona?.generatedTokens).toBeGreaterThan(0);
  });

  it("keeps working after the engine crashed", async () => {
    process.kill(engine.pid!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    const r = await router.route(prompts[0]!, { mode: "hard", maxTokens: 8 });
    expect(r.outputs[r.served]!.text.length).toBeGreaterThan(0);
  });
});

describe("bundle validation", () => {
  let dir: string;
  let good: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "prism-bundle-"));
    good = join(dir, "good.prism");
    await makeBundle(good, fixtures.tiny);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function variant(name: string, change: (d: string) => Promise<void>): Promise<string> {
    const d = join(dir, `${name}.prism`);
    await cp(good, d, { recursive: true });
    await change(d);
    return d;
  }
  const patchManifest = (f: (m: Record<string, unknown>) => void) => async (d: string) => {
    const m = JSON.parse(await readFile(join(d, "manifest.json"), "utf8")) as Record<string, unknown>;
    f(m);
    await writeFile(join(d, "manifest.json"), JSON.stringify(m));
  };
  const patchGate = (f: (g: Record<string, unknown>) => void) => async (d: string) => {
    const g = JSON.parse(await readFile(join(d, "gate.json"), "utf8")) as Record<string, unknown>;
    f(g);
    await writeFile(join(d, "gate.json"), JSON.stringify(g));
  };

  it("accepts the good bundle against its model", async () => {
    const b = await readBundle(good, { identity: await modelIdentity(fixtures.tiny), embeddingSize: 64 });
    expect(b.gate.inputSize).toBe(64);
  });

  const cases: Array<[string, (d: string) => Promise<void>, string]> = [
    ["bad manifest JSON", (d) => writeFile(join(d, "manifest.json"), "{nope"), "bundle/invalidManifest"],
    ["unknown schema version", patchManifest((m) => (m.schemaVersion = 99)), "bundle/unsupportedSchema"],
    ["manifest missing a field", patchManifest((m) => delete m.adapter), "bundle/invalidManifest"],
    ["missing gate", (d) => rm(join(d, "gate.json")), "bundle/missingFile"],
    ["missing adapter", (d) => rm(join(d, "adapter.gguf")), "bundle/missingFile"],
    ["gate JSON with a NaN (null) weight", patchGate((g) => ((g.b1 as unknown[])[0] = null)), "gate/invalid"],
    ["gate of the wrong width", patchGate((g) => (g.mean = (g.mean as number[]).slice(1))), "gate/invalid"],
    ["adapter that is not an adapter", (d) => cp(fixtures.tiny, join(d, "adapter.gguf")), "bundle/invalidAdapter"],
    [
      "adapter touching block 0",
      (d) =>
        writeSyntheticAdapter(join(d, "adapter.gguf"), { base: fixtures.tiny, firstBlock: 0 }).then(() => undefined),
      "bundle/adapterTouchesGateLayers",
    ],
  ];
  it.each(cases)("%s", async (name, change, code) => {
    const d = await variant(name.replace(/\W+/g, "-"), change);
    expect((await rejection(readBundle(d))).code).toBe(code);
  });

  it("refuses another base model and a gate of the wrong width", async () => {
    const other = await modelIdentity(fixtures.tinyF16);
    expect((await rejection(readBundle(good, { identity: other, embeddingSize: 64 }))).code).toBe(
      "bundle/modelMismatch",
    );
    const own = await modelIdentity(fixtures.tiny);
    expect((await rejection(readBundle(good, { identity: own, embeddingSize: 128 }))).code).toBe("gate/wrongWidth");
    expect((await rejection(readBundle(join(dir, "nope.prism")))).code).toBe("bundle/notFound");
  });
});
