import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { AppError } from "../../../src/core/errors.js";
import { RoutingLog } from "../../../src/core/routing/RoutingLog.js";
import { createServeApp, type ServeAppOptions } from "../../../src/core/serve/createServeApp.js";
import { FakeBackend, FakeGate, parseSse } from "./serveFakes.js";

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

function serve(options: Partial<ServeAppOptions> = {}) {
  const gate = (options.gate as FakeGate | undefined) ?? new FakeGate({ "talk like a pirate": 0.83 });
  const backend = (options.backend as FakeBackend | undefined) ?? new FakeBackend();
  const app = createServeApp({ ...options, gate, backend });
  apps.push(app);
  return { app, gate, backend };
}

const user = (content: string) => ({ role: "user", content });
const post = (app: FastifyInstance, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: "POST", url: "/v1/chat/completions", payload: payload as object, headers });

describe("createServeApp", () => {
  it("lists the three models", async () => {
    const { app } = serve();
    const r = await app.inject({ method: "GET", url: "/v1/models" });
    expect(r.statusCode).toBe(200);
    expect(r.json<{ data: Array<{ id: string }> }>().data.map((m) => m.id)).toEqual([
      "prism",
      "prism-base",
      "prism-persona",
    ]);
    expect((await app.inject({ method: "GET", url: "/v1/models/prism-base" })).json()).toMatchObject({
      id: "prism-base",
      object: "model",
    });
  });

  it("answers a routed request with the decision in a header, the prism field and usage", async () => {
    const { app, backend } = serve();
    const r = await post(app, {
      model: "prism",
      messages: [{ role: "developer", content: "be brief" }, user("talk like a pirate")],
      max_completion_tokens: 100,
      max_tokens: 5,
      temperature: 0.7,
      top_p: 0.9,
      seed: 42,
      stop: "zzz",
      user: "ignored",
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers["x-prism-route"]).toBe("persona; p=0.8300; threshold=0.5; served=persona");
    const body = r.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      object: "chat.completion",
      model: "prism",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: FakeBackend.answer("talk like a pirate", 1) },
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: 7, completion_tokens: 41, total_tokens: 48 },
      prism: { decision: "persona", probability: 0.83, threshold: 0.5, served: "persona", scale: 1, featureMs: 3 },
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    const request = backend.requests[0]!;
    expect(request).toMatchObject({
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "talk like a pirate" },
      ],
      adapterScale: 1,
      maxTokens: 100, // max_completion_tokens wins over the deprecated max_tokens
      temperature: 0.7,
      topP: 0.9,
      seed: 42,
      stop: ["zzz"],
    });
  });

  it("applies server defaults, max_tokens and stop strings; text parts are joined", async () => {
    const { app, backend } = serve({ maxTokens: 9, temperature: 0.25 });
    const r = await post(app, {
      model: "prism",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "hello " },
            { type: "text", text: "there" },
          ],
        },
      ],
    });
    expect(r.json()).toMatchObject({ choices: [{ message: { content: "answer to" }, finish_reason: "length" }] });
    expect(backend.requests[0]).toMatchObject({ maxTokens: 9, temperature: 0.25, adapterScale: 0, stop: [] });
    expect(backend.requests[0]!.messages).toEqual([user("hello there")]);
    const stopped = await post(app, { model: "prism", messages: [user("x")], max_tokens: 50, stop: ["scale", '"'] });
    expect(stopped.json()).toMatchObject({ choices: [{ message: { content: "answer to " }, finish_reason: "stop" }] });
  });

  it("lets the first user turn decide, once per conversation", async () => {
    const { app, gate, backend } = serve();
    const conversation = [user("talk like a pirate"), { role: "assistant", content: "arr" }, user("and now?")];
    for (const messages of [[user("talk like a pirate")], conversation]) {
      const r = await post(app, { model: "prism", messages });
      expect(r.headers["x-prism-route"]).toContain("served=persona");
    }
    expect(gate.prompts).toEqual(["talk like a pirate"]);
    expect(backend.requests.map((r) => r.adapterScale)).toEqual([1, 1]);
    expect(backend.requests[1]!.messages).toHaveLength(3);
  });

  it("forces a side with prism-base and prism-persona, and scales the adapter by p in soft mode", async () => {
    const { app, backend } = serve();
    const base = await post(app, { model: "prism-base", messages: [user("talk like a pirate")] });
    expect(base.json()).toMatchObject({ prism: { decision: "persona", served: "base", scale: 0 } });
    const persona = await post(app, { model: "prism-persona", messages: [user("plain")] });
    expect(persona.json()).toMatchObject({ prism: { decision: "base", served: "persona", scale: 1 } });
    expect(backend.requests.map((r) => r.adapterScale)).toEqual([0, 1]);

    const soft = serve({ mode: "soft" });
    const r = await post(soft.app, { model: "prism", messages: [user("plain")] });
    expect(r.json()).toMatchObject({ prism: { decision: "base", served: "persona", scale: 0.2 } });
    expect(soft.backend.requests[0]!.adapterScale).toBe(0.2);
  });

  it("streams server-sent events: role and prism first, the text, the finish reason, usage, [DONE]", async () => {
    const { app } = serve();
    const r = await post(app, {
      model: "prism",
      messages: [user("talk like a pirate")],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/event-stream/);
    expect(r.headers["x-prism-route"]).toBe("persona; p=0.8300; threshold=0.5; served=persona");
    const events = parseSse(r.body) as Array<Record<string, unknown> & { choices: Array<Record<string, unknown>> }>;
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1);
    const id = chunks[0]!.id;
    for (const c of chunks) expect(c).toMatchObject({ id, object: "chat.completion.chunk", model: "prism" });
    expect(chunks[0]).toMatchObject({
      choices: [{ delta: { role: "assistant", content: "" }, finish_reason: null }],
      prism: { decision: "persona", served: "persona", probability: 0.83 },
    });
    const text = chunks
      .slice(1)
      .map((c) => (c.choices[0]?.delta as { content?: string } | undefined)?.content ?? "")
      .join("");
    expect(text).toBe(FakeBackend.answer("talk like a pirate", 1));
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === "stop")).toHaveLength(1);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: text.length } });
    expect(chunks.slice(1).every((c) => !("prism" in c))).toBe(true);
  });

  it("answers every bad request with an OpenAI error object and keeps serving", async () => {
    const { app, backend } = serve({ maxBodyBytes: 10_000 });
    const cases: Array<[unknown, number, string, string | null, Record<string, string>?]> = [
      [{ model: "gpt-4", messages: [user("hi")] }, 404, "serve/unknownModel", "model"],
      [{ model: "prism", messages: [] }, 400, "serve/invalidRequest", "messages"],
      [{ model: "prism" }, 400, "serve/invalidRequest", "messages"],
      [{ model: 5, messages: [user("hi")] }, 400, "serve/invalidRequest", "model"],
      [{ model: "prism", messages: [user("hi")], temperature: "hot" }, 400, "serve/invalidRequest", "temperature"],
      [{ model: "prism", messages: [user("hi")], max_tokens: 0 }, 400, "serve/invalidRequest", "max_tokens"],
      [{ model: "prism", messages: [user("hi")], stop: [""] }, 400, "serve/invalidRequest", "stop.0"],
      [{ model: "prism", messages: [user("hi")], n: 2 }, 400, "serve/invalidRequest", "n"],
      [{ model: "prism", messages: [{ role: "tool", content: "x" }] }, 400, "serve/invalidRequest", "messages.0.role"],
      [
        { model: "prism", messages: [user("hi"), { role: "assistant", content: "yo" }] },
        400,
        "serve/invalidRequest",
        "messages",
      ],
      [{ model: "prism", messages: [user("  ")] }, 400, "serve/invalidRequest", "messages"],
      [{ model: "prism", messages: [user("x".repeat(20_000))] }, 413, "serve/bodyTooLarge", null],
    ];
    for (const [payload, status, code, param] of cases) {
      const r = await post(app, payload);
      expect(r.statusCode, JSON.stringify(payload).slice(0, 100)).toBe(status);
      const { error } = r.json<{ error: Record<string, unknown> }>();
      expect(error).toMatchObject({ code, param });
      expect(typeof error.message).toBe("string");
      expect(typeof error.type).toBe("string");
    }
    const raw = [
      [{ "content-type": "application/json" }, "{not json", 400, "serve/invalidRequest"],
      [{ "content-type": "text/plain" }, "hello", 415, "serve/unsupportedMediaType"],
    ] as const;
    for (const [headers, payload, status, code] of raw) {
      const r = await app.inject({ method: "POST", url: "/v1/chat/completions", headers, payload });
      expect(r.statusCode).toBe(status);
      expect(r.json()).toMatchObject({ error: { code } });
    }
    const unknownRoute = await app.inject({ method: "GET", url: "/v1/embeddings" });
    expect(unknownRoute.statusCode).toBe(404);
    expect(unknownRoute.json()).toMatchObject({ error: { code: "serve/notFound", type: "not_found_error" } });
    expect(backend.requests).toHaveLength(0);
    expect((await post(app, { model: "prism", messages: [user("hi")] })).statusCode).toBe(200);
  });

  it("answers an oversized upload over a real socket with 413 once the client has sent it", async () => {
    const { app } = serve({ maxBodyBytes: 10_000 });
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${address}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "prism", messages: [user("x".repeat(4_000_000))] }),
      });
      expect(r.status).toBe(413);
      expect(await r.json()).toMatchObject({ error: { code: "serve/bodyTooLarge" } });
    }
  });

  it("needs the API key on every endpoint when one is set", async () => {
    const { app } = serve({ apiKey: "s3cret" });
    const ok = { authorization: "Bearer s3cret" };
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "s3cret" },
    ];
    for (const headers of attempts) {
      const r = await post(app, { model: "prism", messages: [user("hi")] }, headers);
      expect(r.statusCode).toBe(401);
      expect(r.json()).toMatchObject({ error: { code: "serve/unauthorized", type: "authentication_error" } });
      expect((await app.inject({ method: "GET", url: "/v1/models", headers })).statusCode).toBe(401);
    }
    expect((await app.inject({ method: "GET", url: "/v1/models", headers: ok })).statusCode).toBe(200);
    expect((await post(app, { model: "prism", messages: [user("hi")] }, ok)).statusCode).toBe(200);
  });

  it("maps backend failures to statuses, in a stream as an error event", async () => {
    const tooLong = serve({ backend: new FakeBackend({ error: new AppError("engine/promptTooLong", "too long") }) });
    const r = await post(tooLong.app, { model: "prism", messages: [user("hi")] });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: "engine/promptTooLong", message: "too long" } });

    const errors: unknown[] = [];
    const crashed = serve({
      backend: new FakeBackend({ error: new AppError("engine/crashed", "the engine died") }),
      onError: (err) => errors.push(err),
    });
    const c = await post(crashed.app, { model: "prism", messages: [user("hi")] });
    expect(c.statusCode).toBe(500);
    expect(c.json()).toMatchObject({ error: { code: "engine/crashed", type: "server_error" } });
    const s = await post(crashed.app, { model: "prism", messages: [user("hi")], stream: true });
    const events = parseSse(s.body);
    expect(events.at(-1)).toMatchObject({ error: { code: "engine/crashed", message: "the engine died" } });
    expect(errors).toHaveLength(2);
  });

  it("writes each answered request to the routing log before the answer is complete", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prism-serve-"));
    try {
      const log = new RoutingLog(join(dir, "routing.jsonl"));
      const routed: unknown[] = [];
      const { app } = serve({ log, onRoute: (r) => routed.push(r) });
      await post(app, { model: "prism", messages: [user("talk like a pirate")] });
      await post(app, { model: "prism-base", messages: [user("plain")], stream: true });
      const records = await log.recent();
      expect(records).toMatchObject([
        { prompt: "talk like a pirate", decision: "persona", served: "persona", mode: "hard", probability: 0.83 },
        { prompt: "plain", decision: "base", served: "base", mode: "base" },
      ]);
      expect(records[0]!.sides.persona).toMatchObject({ generatedTokens: 41 });
      expect(routed).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps concurrent answers apart", async () => {
    const { app } = serve({ backend: new FakeBackend({ pieceDelayMs: 2 }) });
    const prompts = Array.from({ length: 8 }, (_, i) => `prompt number ${i}`);
    const answers = await Promise.all(
      prompts.map((p, i) => post(app, { model: "prism", messages: [user(p)], stream: i % 2 === 0 })),
    );
    answers.forEach((r, i) => {
      const expected = FakeBackend.answer(prompts[i]!, 0);
      if (i % 2 === 1) return expect(r.json()).toMatchObject({ choices: [{ message: { content: expected } }] });
      const text = (parseSse(r.body).slice(1, -1) as Array<{ choices: Array<{ delta: { content?: string } }> }>)
        .map((c) => c.choices[0]?.delta.content ?? "")
        .join("");
      return expect(text).toBe(expected);
    });
  });

  it("aborts the generation when the client disconnects, and keeps serving", async () => {
    const backend = new FakeBackend({ pieceDelayMs: 20 });
    const { app } = serve({ backend });
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    const client = new AbortController();
    const response = await fetch(`${address}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "prism", messages: [user("a long answer please")], stream: true }),
      signal: client.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    client.abort();
    await expect.poll(() => backend.aborted.length).toBe(1);

    const next = await fetch(`${address}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "prism", messages: [user("next")] }),
    });
    expect(await next.json()).toMatchObject({ choices: [{ message: { content: FakeBackend.answer("next", 0) } }] });
    expect(backend.aborted).toHaveLength(1);
  });
});
