import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { makeBundle } from "../../testkit/makeBundle.js";
import { readBundle } from "../../src/core/bundle/readBundle.js";
import { ModelSession } from "../../src/core/engine/ModelSession.js";
import { modelIdentity } from "../../src/core/model/modelIdentity.js";
import { createRouter } from "../../src/core/routing/createRouter.js";
import { fixtures, startEngine, user } from "./harness.js";

const CLI = join(process.cwd(), "dist", "cli.mjs");

/** A running `prism serve` (the built CLI, one thread) and its stderr. */
interface Served {
  child: ChildProcessWithoutNullStreams;
  baseURL: string;
  stderr: () => string;
}

/** Starts `prism serve` on a free loopback port and waits for the base URL it prints. */
async function serve(bundle: string, model: string, ...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [
    CLI,
    "serve",
    "--bundle",
    bundle,
    "--model",
    model,
    "--port",
    "0",
    "--threads",
    "1",
    "--gpu",
    "false",
    ...args,
  ]);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const baseURL = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("http://"));
      if (line) resolve(line.trim());
    });
    child.on("exit", (code) => reject(new Error(`prism serve exited with ${code}: ${stderr}`)));
  });
  return { child, baseURL, stderr: () => stderr };
}

/** Ctrl-C, and the exit code. */
async function stop(s: Served | undefined): Promise<number | null> {
  if (!s || s.child.exitCode !== null) return s?.child.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => s.child.on("exit", (c) => resolve(c)));
  s.child.kill("SIGINT");
  return exited;
}

const PROMPTS = ["Hello there", "What is the capital of France?", "Write a haiku about rain.", "Explain recursion."];
const MAX_TOKENS = 12;

describe("prism serve with the official openai client", () => {
  let dir: string;
  let engine: EngineProcess;
  let main: Served;
  let guarded: Served | undefined;
  let client: OpenAI;
  let threshold: number;
  /** Greedy answers straight from the engine, per prompt and side: what the server must return. */
  const direct = new Map<string, { base: string; persona: string }>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "prism-serve-"));
    engine = startEngine();
    // The hand-made gate is random: put the bundle's threshold between the prompts' probabilities, so both sides
    // answer some of them and the test shows that routing picks the side.
    await makeBundle(join(dir, "probe.prism"), fixtures.tiny);
    const identity = await modelIdentity(fixtures.tiny);
    const probe = await readBundle(join(dir, "probe.prism"), { identity, embeddingSize: 64 });
    const session = new ModelSession(engine, { modelPath: fixtures.tiny, gpu: "false", threads: 1 });
    const router = createRouter({
      session,
      bundle: probe,
      featureCacheDir: dir,
      contextSize: 256,
      threads: 1,
      gpu: "false",
    });
    const p = (await Promise.all(PROMPTS.map((prompt) => router.decide(prompt)))).map((d) => d.probability).sort();
    threshold = Number(((p[1]! + p[2]!) / 2).toFixed(6));
    await makeBundle(join(dir, "tiny.prism"), fixtures.tiny, { threshold });
    await makeBundle(join(dir, "slow.prism"), fixtures.slow, { width: 256 });

    const { modelId } = await session.model();
    for (const [side, adapters] of [
      ["base", []],
      ["persona", [{ path: join(dir, "tiny.prism", "adapter.gguf"), scale: 1 }]],
    ] as const) {
      const { contextId } = await engine.request("engine/createContext", {
        modelId,
        contextSize: 256,
        adapters: [...adapters],
      });
      for (const prompt of PROMPTS) {
        const r = await engine.request("engine/generate", { contextId, messages: user(prompt), maxTokens: MAX_TOKENS });
        direct.set(prompt, { ...(direct.get(prompt) ?? { base: "", persona: "" }), [side]: r.text });
      }
    }
    await engine.dispose();
    main = await serve(join(dir, "tiny.prism"), fixtures.tiny, "--log", join(dir, "routing.jsonl"));
    client = new OpenAI({ baseURL: main.baseURL, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(async () => {
    expect(await stop(main)).toBe(0);
    await stop(guarded);
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the models", async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(["prism", "prism-base", "prism-persona"]);
  });

  it("answers without streaming: the routed side's greedy answer, the decision in a header and the prism field", async () => {
    for (const prompt of PROMPTS) {
      const { data, response } = await client.chat.completions
        .create({
          model: "prism",
          messages: [{ role: "user", content: prompt }],
          max_tokens: MAX_TOKENS,
          temperature: 0,
        })
        .withResponse();
      const prism = (
        data as unknown as { prism: { decision: string; served: "base" | "persona"; probability: number } }
      ).prism;
      expect(prism.served).toBe(prism.decision);
      expect(response.headers.get("x-prism-route")).toBe(
        `${prism.decision}; p=${prism.probability.toFixed(4)}; threshold=${threshold}; served=${prism.served}`,
      );
      expect(data.choices[0]!.message.content).toBe(direct.get(prompt)![prism.served]);
      expect(data.usage!.completion_tokens).toBeGreaterThan(0);
      expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    }
    // Both sides were exercised, or the comparison above would not show that routing picks the side.
    const log = (await readFile(join(dir, "routing.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(new Set(log.map((r: { served: string }) => r.served))).toEqual(new Set(["base", "persona"]));
    expect(log.at(-1)).toMatchObject({ prompt: PROMPTS.at(-1), mode: "hard" });
  });

  it("streams the same text, the prism field on the first chunk, usage at the end", async () => {
    const prompt = PROMPTS[1]!;
    const stream = await client.chat.completions.create({
      model: "prism-persona",
      messages: [{ role: "user", content: prompt }],
      max_tokens: MAX_TOKENS,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect((chunks[0] as unknown as { prism: { served: string } }).prism.served).toBe("persona");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(direct.get(prompt)!.persona);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(true);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it("ends the answer at a stop string, without it", async () => {
    // The tiny model's text is mostly bytes that are not valid UTF-8 on their own: pick an answer that starts with
    // two printable characters, and stop at the second.
    const printable = (ch: string | undefined) => ch !== undefined && /^[ -~]$/.test(ch);
    const found = PROMPTS.flatMap((prompt) => (["base", "persona"] as const).map((side) => ({ prompt, side })))
      .map((c) => ({ ...c, full: direct.get(c.prompt)![c.side] }))
      .find((c) => printable(c.full[0]) && printable(c.full[1]));
    expect(found, JSON.stringify([...direct])).toBeDefined();
    const { prompt, side, full } = found!;
    const stop = full[1]!;
    const expected = full.slice(0, full.indexOf(stop));
    for (const stream of [false, true]) {
      const model = side === "base" ? "prism-base" : "prism-persona";
      const request = { model, messages: [{ role: "user" as const, content: prompt }] };
      if (!stream) {
        const r = await client.chat.completions.create({ ...request, max_tokens: MAX_TOKENS, stop });
        expect(r.choices[0]).toMatchObject({ message: { content: expected }, finish_reason: "stop" });
      } else {
        const s = await client.chat.completions.create({ ...request, max_tokens: MAX_TOKENS, stop: [stop], stream });
        let text = "";
        for await (const c of s) text += c.choices[0]?.delta.content ?? "";
        expect(text).toBe(expected);
      }
    }
  });

  it("keeps concurrent requests apart: each gets the answer it gets alone", async () => {
    const jobs = PROMPTS.flatMap((prompt) =>
      (["prism-base", "prism-persona"] as const).map((model, i) => ({ prompt, model, stream: i === 0 })),
    );
    const answers = await Promise.all(
      jobs.map(async ({ prompt, model, stream }) => {
        const request = { model, messages: [{ role: "user" as const, content: prompt }], max_tokens: MAX_TOKENS };
        if (!stream) return (await client.chat.completions.create(request)).choices[0]!.message.content;
        let text = "";
        for await (const c of await client.chat.completions.create({ ...request, stream: true }))
          text += c.choices[0]?.delta.content ?? "";
        return text;
      }),
    );
    answers.forEach((text, i) => {
      const { prompt, model } = jobs[i]!;
      expect(text, `${model} ${prompt}`).toBe(direct.get(prompt)![model === "prism-base" ? "base" : "persona"]);
    });
  });

  it("answers each bad request with an OpenAI error, and keeps serving", async () => {
    const bad: Array<[() => Promise<unknown>, number, string]> = [
      [
        () => client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
        404,
        "serve/unknownModel",
      ],
      [() => client.chat.completions.create({ model: "prism", messages: [] }), 400, "serve/invalidRequest"],
      [
        () =>
          client.chat.completions.create({
            model: "prism",
            messages: [{ role: "user", content: "hi" }],
            temperature: "hot" as unknown as number,
          }),
        400,
        "serve/invalidRequest",
      ],
      [
        () =>
          client.chat.completions.create({
            model: "prism",
            messages: [{ role: "user", content: "x".repeat(9_000_000) }],
          }),
        413,
        "serve/bodyTooLarge",
      ],
    ];
    for (const [call, status, code] of bad) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err).toMatchObject({ status, code });
      expect((err as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code, type: expect.any(String) });
    }
    const ok = await client.chat.completions.create({
      model: "prism-base",
      messages: [{ role: "user", content: PROMPTS[0]! }],
      max_tokens: MAX_TOKENS,
    });
    expect(ok.choices[0]!.message.content).toBe(direct.get(PROMPTS[0]!)!.base);
  });

  it("with an API key: refuses a missing or wrong key; cancels a stream the client aborts and serves the next", async () => {
    const log = join(dir, "guarded.jsonl");
    guarded = await serve(
      join(dir, "slow.prism"),
      fixtures.slow,
      "--api-key",
      "k3y",
      "--context",
      "4096",
      "--log",
      log,
    );
    const wrong = new OpenAI({ baseURL: guarded.baseURL, apiKey: "wrong", maxRetries: 0 });
    const err = await wrong.models.list().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: "serve/unauthorized" });
    // The openai client always sends a key; without one at all:
    const bare = await fetch(`${guarded.baseURL}/models`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({ error: { code: "serve/unauthorized", type: "authentication_error" } });
    const c = new OpenAI({ baseURL: guarded.baseURL, apiKey: "k3y", maxRetries: 0 });
    const request = { model: "prism-base", messages: [{ role: "user" as const, content: "Write a very long story." }] };

    const controller = new AbortController();
    const stream = await c.chat.completions.create(
      { ...request, max_tokens: 3000, stream: true },
      { signal: controller.signal },
    );
    let received = "";
    // The client's stream ends quietly when its signal aborts; the server sees the connection close.
    for await (const chunk of stream) {
      received += chunk.choices[0]?.delta.content ?? "";
      if (received) controller.abort();
    }
    expect(received.length).toBeGreaterThan(0);
    // Requests for one side run one after another, so had the aborted generation gone on, it would finish (and be
    // logged) before this one.
    const next = await c.chat.completions.create({ ...request, max_tokens: 8 });
    expect(next.choices[0]!.finish_reason).toBe("length");
    await expect.poll(async () => (await readFile(log, "utf8")).trim().split("\n").length).toBe(1);
    const records = (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(records[0].sides.base.generatedTokens).toBeLessThanOrEqual(8);
    expect(await stop(guarded)).toBe(0);
    expect(guarded.stderr()).toMatch(/stopped/);
  });
});
