/**
 * llama.cpp's own llama-server as PRISM's backend (issue #13 item 2, docs/llama-server.md): built from the trainer's
 * llama.cpp tree, started on 127.0.0.1 with the bundle's adapter loaded but not applied, driven through
 * LlamaServerBackend (the per-request `lora` field) and through the distillation's OpenAI-compatible generator and
 * judge. One thread everywhere (docs/engine.md §4).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import type { ChatBackendRequest } from "../../src/core/serve/ChatBackend.js";
import { LlamaServerBackend } from "../../src/core/serve/LlamaServerBackend.js";
import { LlamaServerProcess } from "../../src/core/serve/LlamaServerProcess.js";
import { readGguf } from "../../src/core/gguf/readGguf.js";
import { llamaServerBinary } from "../../src/core/serve/llamaServerBinary.js";
import { isCancellation } from "../../src/protocol/errors.js";
import { makeBundle } from "../../testkit/makeBundle.js";
import { ROOT, trainerBinary } from "../../testkit/trainerKit.js";
import { fixtures, loadModel, rejection, startEngine, user } from "./harness.js";

const PROMPTS = ["Tell me about the sea.", "What is 2 + 2?", "Write a haiku about autumn."];
const CONTEXT = 4096;

let dir: string;
/** The distillation fixture, answering in printable ASCII only (see {@link asciiModel}). */
let model: string;
let adapterPath: string;
let serverBinary: string;
/** Started with the bundle's adapter (`--lora … --lora-init-without-apply`). */
let withAdapter: LlamaServerProcess;
/** The same model without any adapter. */
let plain: LlamaServerProcess;

function ask(
  backend: LlamaServerBackend,
  adapterScale: number,
  prompt: string,
  extra: Partial<ChatBackendRequest> = {},
) {
  return backend.generate({ messages: user(prompt), adapterScale, maxTokens: 24, temperature: 0, seed: 1, ...extra });
}

/**
 * A copy of `source` whose output layer can only pick printable ASCII: the rows of `output.weight` of every other
 * token are zero, so their logits are 0 while some ASCII logit is positive (95 random rows). Random byte-level models
 * otherwise answer with bytes that are not valid UTF-8, which llama-server's chat parser refuses (HTTP 500, "does
 * not match the expected … format") where node-llama-cpp passes them through; real models answer in UTF-8.
 */
async function asciiModel(source: string, target: string): Promise<string> {
  await copyFile(source, target);
  const gguf = await readGguf(target);
  const output = gguf.tensors.find((t) => t.name === "output.weight")!;
  const [width, vocab] = output.dims as [number, number];
  expect(output.type).toBe(0); // F32
  const file = await open(target, "r+");
  try {
    const zeros = Buffer.alloc(width * 4);
    for (let token = 0; token < vocab; token++) {
      // gpt2-bytes: token b is byte b; keep the printable ones (a space up to a tilde)
      if (token >= 0x20 && token <= 0x7e) continue;
      await file.write(zeros, 0, zeros.length, gguf.dataOffset + output.offset + token * width * 4);
    }
  } finally {
    await file.close();
  }
  return target;
}

beforeAll(async () => {
  trainerBinary(); // builds llama.cpp once for the trainer and llama-server (minutes on a cold cache)
  serverBinary = llamaServerBinary(ROOT);
  dir = await mkdtemp(join(tmpdir(), "prism-llama-server-"));
  model = await asciiModel(fixtures.distill, join(dir, "ascii.gguf"));
  const bundle = join(dir, "b.prism");
  await makeBundle(bundle, model);
  adapterPath = join(bundle, "adapter.gguf");
  const common = { binary: serverBinary, modelPath: model, threads: 1, contextSize: CONTEXT };
  [withAdapter, plain] = await Promise.all([
    LlamaServerProcess.start({ ...common, adapterPath }),
    LlamaServerProcess.start({ ...common, extraArgs: ["--metrics"] }),
  ]);
}, 30 * 60_000);

afterAll(async () => {
  await Promise.all([withAdapter?.dispose(), plain?.dispose()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("llama-server from the trainer's llama.cpp build", () => {
  it("is cached next to prism-trainer and built from the bundled llama.cpp commit", () => {
    const trainer = execFileSync(process.execPath, [join(ROOT, "scripts/buildTrainer.mjs"), "--print-path"], {
      encoding: "utf8",
    }).trim();
    expect(dirname(serverBinary)).toBe(dirname(trainer));
    const commit = execFileSync(
      "git",
      ["bundle", "list-heads", join(ROOT, "node_modules/node-llama-cpp/llama/gitRelease.bundle")],
      {
        encoding: "utf8",
      },
    ).slice(0, 7);
    expect(spawnSyncText(serverBinary, ["--version"])).toContain(commit);
  });

  it("lists the bundle's adapter; a request without a lora field gets it at its load scale", async () => {
    const list = (await (await fetch(`${withAdapter.url}/lora-adapters`)).json()) as Array<{
      id: number;
      path: string;
    }>;
    expect(list).toEqual([expect.objectContaining({ id: 0, path: adapterPath })]);
    expect(await (await fetch(`${plain.url}/lora-adapters`)).json()).toEqual([]);
    // --lora-init-without-apply only keeps the adapter out of the context at load time: a request without `lora`
    // runs with the listed scale (1 here), which is why LlamaServerBackend always states every adapter's scale.
    const r = await fetch(`${withAdapter.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: user(PROMPTS[0]!), max_tokens: 24, temperature: 0, cache_prompt: false }),
    });
    const body = (await r.json()) as { choices: Array<{ message: { content: string } }> };
    const backend = new LlamaServerBackend({ url: withAdapter.url });
    expect(body.choices[0]!.message.content).toBe((await ask(backend, 1, PROMPTS[0]!)).text);
  });
});

/** stdout + stderr of a short command (llama-server prints its version on stderr). */
function spawnSyncText(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout}${r.stderr}`;
}

describe("LlamaServerBackend", () => {
  it("scale 0 is the model without the adapter, scale 1 changes the greedy answers", async () => {
    const backend = new LlamaServerBackend({ url: withAdapter.url });
    const without = new LlamaServerBackend({ url: plain.url });
    for (const prompt of PROMPTS) {
      const base = await ask(backend, 0, prompt);
      const adapted = await ask(backend, 1, prompt);
      expect(base.text, prompt).toBe((await ask(without, 0, prompt)).text);
      expect(adapted.text, prompt).not.toBe(base.text);
      // greedy: the same answer again, whatever was asked in between
      expect((await ask(backend, 1, prompt)).text, prompt).toBe(adapted.text);
      expect(base.timings.generatedTokens).toBeGreaterThan(0);
    }
  });

  it("streams the answer in order, honours stop strings and max_tokens, and takes a /v1 URL", async () => {
    const backend = new LlamaServerBackend({ url: `${withAdapter.url}/v1` });
    const chunks: string[] = [];
    const full = await ask(backend, 1, PROMPTS[0]!, { maxTokens: 16, onChunk: (c) => chunks.push(c) });
    expect(chunks.join("")).toBe(full.text);
    expect(chunks.length).toBeGreaterThan(1);
    expect(full.finishReason).toBe("length");
    expect(full.timings.generatedTokens).toBe(16);
    // A stop string taken from the middle of the greedy answer ends it there, without the stop string.
    const stop = full.text.slice(6, 8);
    const cut = await ask(backend, 1, PROMPTS[0]!, { maxTokens: 16, stop: [stop] });
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    expect(cut.finishReason).toBe("stop");
  });

  it("cancels a request by closing its connection; the server goes on serving", async () => {
    const backend = new LlamaServerBackend({ url: withAdapter.url });
    const controller = new AbortController();
    let received = 0;
    const err = await rejection(
      ask(backend, 1, PROMPTS[1]!, {
        maxTokens: 2000,
        signal: controller.signal,
        onChunk: () => {
          if (++received === 3) controller.abort();
        },
      }),
    );
    expect(isCancellation(err)).toBe(true);
    expect(received).toBe(3);
    expect((await ask(backend, 1, PROMPTS[1]!)).text).toBe((await ask(backend, 1, PROMPTS[1]!)).text);
  });

  it("fails with coded errors: nothing listening, an HTTP error, no adapter to scale, not a stream", async () => {
    const closed = await LlamaServerProcess.start({
      binary: serverBinary,
      modelPath: model,
      threads: 1,
      contextSize: 256,
      extraArgs: ["--api-key", "secret"],
    });
    const url = closed.url;
    try {
      // wrong key: llama-server answers 401
      const denied = await rejection(ask(new LlamaServerBackend({ url, apiKey: "wrong" }), 0, "hi"));
      expect(denied).toMatchObject({ code: "serve/backendFailed" });
      expect(denied.message).toContain("HTTP 401");
      const allowed = await ask(new LlamaServerBackend({ url, apiKey: "secret" }), 0, PROMPTS[0]!);
      expect(allowed.text.length).toBeGreaterThan(0);
    } finally {
      await closed.dispose();
    }
    expect(await rejection(ask(new LlamaServerBackend({ url }), 0, "hi"))).toMatchObject({
      code: "serve/backendUnreachable",
    });

    const noAdapter = await rejection(ask(new LlamaServerBackend({ url: plain.url }), 1, "hi"));
    expect(noAdapter).toMatchObject({ code: "serve/backendNoAdapter" });
    const wrongAdapter = await rejection(
      ask(new LlamaServerBackend({ url: withAdapter.url, adapterPath: "/elsewhere/other.gguf" }), 0, "hi"),
    );
    expect(wrongAdapter).toMatchObject({ code: "serve/backendNoAdapter" });

    // A server that answers chat completions without streaming them (here: /health's JSON for every URL).
    const notAStream = (async (_url: string | URL | Request, init?: RequestInit) =>
      init?.method === "GET"
        ? new Response("[]", { headers: { "content-type": "application/json" } })
        : new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } })) as typeof fetch;
    expect(await rejection(ask(new LlamaServerBackend({ url: plain.url, fetch: notAStream }), 0, "hi"))).toMatchObject({
      code: "serve/backendInvalidResponse",
    });
    const garbled = (async (_url: string | URL | Request, init?: RequestInit) =>
      init?.method === "GET"
        ? new Response("[]")
        : new Response('data: {"choices": 3}\n\n', {
            headers: { "content-type": "text/event-stream" },
          })) as typeof fetch;
    expect(await rejection(ask(new LlamaServerBackend({ url: plain.url, fetch: garbled }), 0, "hi"))).toMatchObject({
      code: "serve/backendInvalidResponse",
    });
  });
});

describe("llama-server against the local engine (node-llama-cpp, same llama.cpp release)", () => {
  let engine: EngineProcess;
  beforeAll(() => {
    engine = startEngine();
  });
  afterAll(() => engine.dispose());

  it("gives the local engine's greedy answers for the base, the adapter and a soft scale", async () => {
    const { modelId } = await loadModel(engine, model);
    const backend = new LlamaServerBackend({ url: withAdapter.url });
    for (const scale of [0, 1, 0.5]) {
      const { contextId } = await engine.request("engine/createContext", {
        modelId,
        contextSize: CONTEXT,
        threads: 1,
        adapters: scale === 0 ? [] : [{ path: adapterPath, scale }],
      });
      for (const prompt of PROMPTS) {
        const local = await engine.request("engine/generate", { contextId, messages: user(prompt), maxTokens: 24 });
        const remote = await ask(backend, scale, prompt);
        expect(remote.text, `scale ${scale}: ${prompt}`).toBe(local.text);
      }
      await engine.request("engine/disposeContext", { contextId });
    }
  });
});

describe("prism distill --generator <llama-server> --judge <llama-server>", () => {
  /** A counter of llama-server's Prometheus metrics (`--metrics`). */
  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${plain.url}/metrics`)).text();
    const m = new RegExp(`^llamacpp:${name} (\\S+)$`, "m").exec(text);
    if (!m) throw new Error(`no metric ${name} in:\n${text}`);
    return Number(m[1]);
  }

  it("generates queries and answers and judges them on llama-server (stages 1-3)", async () => {
    const before = await metric("tokens_predicted_total");
    const out = join(dir, "distilled.prism");
    const url = `${plain.url}/v1`;
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          join(ROOT, "dist/cli.mjs"),
          "distill",
          ["--model", model, "--out", out, "--generator", url, "--judge", url],
          ["--persona-ids", "writing,math", "--queries-per-persona", "3", "--threads", "1", "--gpu", "false"],
          ["--max-query-tokens", "32", "--max-answer-tokens", "24", "--min-per-class", "2", "--min-distill", "2"],
          ["--epochs", "1", "--rank", "4", "--alpha", "8", "--window", "256", "--json"],
        ].flat(),
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    const job = `${out}.job`;
    const lines = async (file: string) =>
      (await readFile(join(job, file), "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const file of ["queries.jsonl", "answers.jsonl", "judgements.jsonl"])
      expect(existsSync(join(job, file)), `${file}\n${r.stderr}`).toBe(true);
    const queries = await lines("queries.jsonl");
    const answers = await lines("answers.jsonl");
    const judgements = await lines("judgements.jsonl");
    expect(queries.length, r.stderr).toBeGreaterThan(0);
    expect(answers.length).toBe(2 * queries.length);
    // every query's first pass, and a second exactly where the first chose the persona (B: A is the base answer)
    const firstB = judgements.filter((j) => j.pass === 1 && j.verdict === "B").map((j) => j.id);
    expect(judgements.filter((j) => j.pass === 1)).toHaveLength(queries.length);
    expect(
      judgements
        .filter((j) => j.pass === 2)
        .map((j) => j.id)
        .sort(),
    ).toEqual(firstB.sort());
    // The answers were generated by llama-server: it predicted at least their tokens (one per printable character in
    // the byte vocabulary).
    const answerTokens = answers.reduce((n, a) => n + String(a.text).length, 0);
    expect(answerTokens).toBeGreaterThan(0);
    expect((await metric("tokens_predicted_total")) - before).toBeGreaterThanOrEqual(answerTokens);
    const state = JSON.parse(await readFile(join(job, "state.json"), "utf8")) as {
      settings: { generator: string; judge: string };
    };
    expect(state.settings).toMatchObject({ generator: `openai:${url}#default`, judge: `model:openai:${url}#default` });
    expect(judgements.every((j) => typeof j.raw === "string" && j.raw.length > 0)).toBe(true);
    // The generated model's verdicts are noise (mostly TIE), so the run may stop after stage 3 for want of labels;
    // whatever happens after stage 3 is the labels' doing, never the backend's.
    if (r.code !== 0) expect(r.stderr).toMatch(/error \[(distill\/emptyDataset|gate\/insufficientData)\]/);
    else expect(existsSync(out)).toBe(true);
  });
});

describe("prism serve --backend <llama-server>", () => {
  /** Runs `prism serve` (the built CLI) on a free port; resolves with its base URL, or rejects with its stderr. */
  function serve(args: string[]): { child: ReturnType<typeof spawn>; url: Promise<string>; stderr: () => string } {
    const child = spawn(process.execPath, [
      join(ROOT, "dist/cli.mjs"),
      "serve",
      ...["--port", "0", "--threads", "1", "--gpu", "false", "--model", model],
      ...args,
    ]);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const url = new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const line = out.split("\n").find((l) => l.startsWith("http://"));
        if (line) resolve(line.trim());
      });
      child.on("exit", (code) => reject(new Error(`prism serve exited with ${code}: ${stderr}`)));
    });
    return { child, url, stderr: () => stderr };
  }

  async function stop(child: ReturnType<typeof spawn>): Promise<number | null> {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    child.kill("SIGINT");
    return exited;
  }

  it("routes here and generates on llama-server: each side answers with llama-server's text at that scale", async () => {
    const served = serve(["--bundle", join(dir, "b.prism"), "--backend", withAdapter.url]);
    try {
      const client = new OpenAI({ baseURL: await served.url, apiKey: "unused", maxRetries: 0 });
      expect(served.stderr()).toContain(`llama-server at ${withAdapter.url}`);
      const backend = new LlamaServerBackend({ url: withAdapter.url });
      for (const prompt of PROMPTS) {
        const expected = { base: (await ask(backend, 0, prompt)).text, persona: (await ask(backend, 1, prompt)).text };
        const messages = [{ role: "user" as const, content: prompt }];
        for (const side of ["base", "persona"] as const) {
          const r = await client.chat.completions.create({
            model: `prism-${side}`,
            messages,
            max_tokens: 24,
            temperature: 0,
          });
          expect(r.choices[0]!.message.content, `${side}: ${prompt}`).toBe(expected[side]);
        }
        const { data, response } = await client.chat.completions
          .create({ model: "prism", messages, max_tokens: 24, temperature: 0 })
          .withResponse();
        const served_ = (data as unknown as { prism: { served: "base" | "persona" } }).prism.served;
        expect(response.headers.get("x-prism-route")).toContain(`served=${served_}`);
        expect(data.choices[0]!.message.content).toBe(expected[served_]);
      }
      const stream = await client.chat.completions.create({
        model: "prism-persona",
        messages: [{ role: "user", content: PROMPTS[0]! }],
        max_tokens: 24,
        temperature: 0,
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      expect(text).toBe((await ask(backend, 1, PROMPTS[0]!)).text);
    } finally {
      expect(await stop(served.child)).toBe(0);
    }
  });

  it("refuses to start against a server without the bundle's adapter or where nothing listens", async () => {
    for (const [url, code] of [
      [plain.url, "serve/backendNoAdapter"],
      ["http://127.0.0.1:9", "serve/backendUnreachable"],
    ] as const) {
      const served = serve(["--bundle", join(dir, "b.prism"), "--backend", url]);
      await expect(served.url).rejects.toThrow(/exited with 1/);
      expect(served.stderr()).toContain(code);
    }
    const usage = serve(["--bundle", join(dir, "b.prism"), "--backend", "localhost:8080"]);
    await expect(usage.url).rejects.toThrow(/exited with 2/);
  });
});
