import { spawnSync } from "node:child_process";
import { copyFile, cp, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBundle } from "../../src/core/bundle/readBundle.js";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { writeSyntheticAdapter } from "../../src/core/gguf/syntheticModel.js";
import { modelIdentity } from "../../src/core/model/modelIdentity.js";
import { AppError, toWireError } from "../../src/protocol/errors.js";
import { Messenger } from "../../src/protocol/Messenger.js";
import { webviewRequests } from "../../src/protocol/webviewProtocol.js";
import { makeBundle } from "../../testkit/makeBundle.js";
import { RawEngine } from "./RawEngine.js";
import { fixtures, loadModel, rejection, startEngine, user } from "./harness.js";

/**
 * The bad-input table (issue 6): every row is an input a user, a file or a peer process can produce, with the
 * error code it must produce. None may crash a process other than the engine, and none may hang (each row has
 * a time limit). Rows run against the real engine process, bundle reader, CLI and message validators.
 */
let engine: EngineProcess;
let raw: RawEngine;
let dir: string;
let modelId: string;
let contextId: string;
let goodBundle: string;

const u8 = (n: number) => Buffer.alloc(8).fill(0).subarray(0, n);
const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const le64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};
const gstr = (s: string) => Buffer.concat([le64(BigInt(Buffer.byteLength(s))), Buffer.from(s)]);

async function file(name: string, content: Buffer | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}
async function cut(name: string, src: string, length: number): Promise<string> {
  const path = join(dir, name);
  await copyFile(src, path);
  await truncate(path, length);
  return path;
}
async function bundleVariant(name: string, change: (d: string) => Promise<unknown>): Promise<string> {
  const d = join(dir, `${name}.prism`);
  await cp(goodBundle, d, { recursive: true });
  await change(d);
  return d;
}
async function editJson(path: string, f: (v: Record<string, unknown>) => void): Promise<void> {
  const v = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  f(v);
  await writeFile(path, JSON.stringify(v));
}
const loadAt = async (path: string | Promise<string>) => loadModel(engine, await path);
const adapterAt = async (path: string | Promise<string>) =>
  engine.request("engine/createContext", { modelId, contextSize: 256, adapters: [{ path: await path, scale: 1 }] });
const generate = (content: string) =>
  engine.request("engine/generate", { contextId, messages: user(content), maxTokens: 4 });
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join("dist", "cli.mjs"), ...args], { encoding: "utf8", timeout: 30_000 });
  if (r.status === 0) throw new Error("the CLI accepted bad input");
  const code = /error \[([\w/]+)\]/.exec(r.stderr)?.[1];
  throw new AppError((code ?? "internal/unexpected") as "cli/usage", `exit ${r.status}: ${r.stderr}`, {
    exit: r.status,
  });
};
/** The webview side: what the host does with a message the panel sent. */
function webviewHost() {
  const dropped: string[] = [];
  const answers: unknown[] = [];
  const m = new Messenger({
    incoming: webviewRequests,
    outgoing: {},
    incomingNotifications: {},
    send: (x) => answers.push(x),
    toWire: toWireError,
    fromWire: (w) => AppError.fromWire(w),
    onInvalidMessage: (e) => dropped.push(e.message),
  });
  m.setHandlers({ "compare/run": async () => Promise.reject(new Error("must not run")) });
  return { m, dropped, answers };
}
async function webviewRow(message: unknown): Promise<never> {
  const { m, dropped, answers } = webviewHost();
  m.receive(message);
  await new Promise((r) => setTimeout(r, 20));
  const answer = answers[0] as { error?: { code: string } } | undefined;
  if (answer?.error) throw new AppError(answer.error.code as "protocol/invalidMessage", "answered with an error");
  if (dropped.length) throw new AppError("protocol/invalidMessage", dropped[0]!);
  throw new Error("the message was accepted");
}

type Row = [category: string, input: string, run: () => Promise<unknown>, code: string];
const rows: Row[] = [
  ["model", "missing file", () => loadAt(join(dir, "nope.gguf")), "engine/modelNotFound"],
  ["model", "empty file", () => loadAt(file("empty.gguf", "")), "engine/truncatedGguf"],
  ["model", "not a GGUF (text)", () => loadAt(fixtures.notGguf), "engine/notGguf"],
  ["model", "truncated at byte 2", () => loadAt(cut("cut2.gguf", fixtures.tiny, 2)), "engine/truncatedGguf"],
  ["model", "truncated at byte 200 (counts cannot fit)", () => loadAt(fixtures.truncatedHeader), "engine/corruptGguf"],
  [
    "model",
    "truncated in the tensor infos",
    () => loadAt(cut("cut-infos.gguf", fixtures.tiny, 5000)),
    "engine/truncatedGguf",
  ],
  ["model", "truncated in the tensor data", () => loadAt(fixtures.truncatedData), "engine/truncatedGguf"],
  [
    "model",
    "wrong magic",
    () => loadAt(file("magic.gguf", Buffer.concat([Buffer.from("GGUX"), le32(3), u8(8)]))),
    "engine/notGguf",
  ],
  [
    "model",
    "wrong version (99)",
    () => loadAt(file("v99.gguf", Buffer.concat([Buffer.from("GGUF"), le32(99), u8(8), u8(8)]))),
    "engine/notGguf",
  ],
  ["model", "duplicate vocabulary (llama.cpp aborts)", () => loadAt(fixtures.duplicateVocab), "engine/crashed"],
  [
    "model",
    "absurd string length in metadata",
    () =>
      loadAt(
        file(
          "abs-str.gguf",
          Buffer.concat([
            Buffer.from("GGUF"),
            le32(3),
            le64(0n),
            le64(1n),
            gstr("general.architecture"),
            le32(8),
            le64(2n ** 60n),
          ]),
        ),
      ),
    "engine/corruptGguf",
  ],
  [
    "model",
    "absurd tensor count",
    () => loadAt(file("abs-t.gguf", Buffer.concat([Buffer.from("GGUF"), le32(3), le64(2n ** 50n), le64(0n)]))),
    "engine/corruptGguf",
  ],
  [
    "model",
    "absurd array length in metadata",
    () =>
      loadAt(
        file(
          "abs-a.gguf",
          Buffer.concat([
            Buffer.from("GGUF"),
            le32(3),
            le64(0n),
            le64(1n),
            gstr("tokenizer.ggml.tokens"),
            le32(9),
            le32(8),
            le64(2n ** 55n),
          ]),
        ),
      ),
    "engine/corruptGguf",
  ],
  ["model", "unsupported architecture", () => loadAt(fixtures.unsupportedArch), "engine/unsupportedArchitecture"],
  ["adapter", "missing", () => adapterAt(join(dir, "nope-adapter.gguf")), "engine/adapterNotFound"],
  ["adapter", "other architecture", () => adapterAt(fixtures.adapterOtherArch), "engine/adapterArchMismatch"],
  ["adapter", "other shapes", () => adapterAt(fixtures.adapterWrongShape), "engine/adapterShapeMismatch"],
  ["adapter", "a model, not an adapter", () => adapterAt(fixtures.tiny), "engine/notAnAdapter"],
  [
    "adapter",
    "no general.type",
    () =>
      adapterAt(
        writeSyntheticAdapter(join(dir, "no-type.gguf"), { base: fixtures.tiny, omitGeneralType: true }).then(
          (a) => a.path,
        ),
      ),
    "engine/notAnAdapter",
  ],
  [
    "adapter",
    "truncated",
    () => adapterAt(cut("cut-adapter.gguf", fixtures.adapter, 20_000)),
    "engine/adapterLoadFailed",
  ],
  [
    "bundle",
    "manifest is not JSON",
    () => bundleVariant("b1", (d) => writeFile(join(d, "manifest.json"), "{nope")).then((d) => readBundle(d)),
    "bundle/invalidManifest",
  ],
  [
    "bundle",
    "unknown schema version",
    () =>
      bundleVariant("b2", (d) => editJson(join(d, "manifest.json"), (m) => (m.schemaVersion = 2))).then((d) =>
        readBundle(d),
      ),
    "bundle/unsupportedSchema",
  ],
  [
    "bundle",
    "made for another base model",
    async () => readBundle(goodBundle, { identity: await modelIdentity(fixtures.tinyF16), embeddingSize: 64 }),
    "bundle/modelMismatch",
  ],
  [
    "bundle",
    "gate missing",
    () => bundleVariant("b3", (d) => rm(join(d, "gate.json"))).then((d) => readBundle(d)),
    "bundle/missingFile",
  ],
  [
    "bundle",
    "gate of the wrong width",
    async () => readBundle(goodBundle, { identity: await modelIdentity(fixtures.tiny), embeddingSize: 96 }),
    "gate/wrongWidth",
  ],
  [
    "bundle",
    "NaN (null) gate weight",
    () =>
      bundleVariant("b4", (d) => editJson(join(d, "gate.json"), (g) => ((g.w1 as unknown[])[3] = null))).then((d) =>
        readBundle(d),
      ),
    "gate/invalid",
  ],
  [
    "bundle",
    "adapter touches the gate's block 0",
    () =>
      bundleVariant("b5", (d) =>
        writeSyntheticAdapter(join(d, "adapter.gguf"), { base: fixtures.tiny, firstBlock: 0 }),
      ).then((d) => readBundle(d)),
    "bundle/adapterTouchesGateLayers",
  ],
  ["prompt", "empty", () => generate(""), "engine/emptyPrompt"],
  ["prompt", "only whitespace", () => generate(" \n\t "), "engine/emptyPrompt"],
  ["prompt", "longer than the context", () => generate("x".repeat(1000)), "engine/promptTooLong"],
  ["prompt", "invalid UTF-16 (lone surrogate)", () => generate("hello \ud800 world"), "engine/invalidOptions"],
  [
    "settings",
    "negative threads",
    () => engine.request("engine/loadModel", { modelPath: fixtures.tiny, gpu: "false", threads: -1 }),
    "engine/invalidOptions",
  ],
  [
    "settings",
    "unknown GPU",
    () => engine.request("engine/loadModel", { modelPath: fixtures.tiny, gpu: "tpu" as "auto", threads: 1 }),
    "engine/invalidOptions",
  ],
  [
    "settings",
    "context size 0",
    () => engine.request("engine/createContext", { modelId, contextSize: 0 }),
    "engine/invalidOptions",
  ],
  [
    "settings",
    "temperature NaN",
    () => engine.request("engine/generate", { contextId, messages: user("hi"), temperature: NaN }),
    "engine/invalidOptions",
  ],
  ["cli", "--threads=-1", async () => cli("info", fixtures.tiny, "--threads=-1"), "cli/usage"],
  ["cli", "--gpu tpu", async () => cli("info", fixtures.tiny, "--gpu", "tpu"), "cli/usage"],
  ["cli", "unknown flag", async () => cli("chat", "--model", fixtures.tiny, "--bogus", "x"), "cli/usage"],
  [
    "cli",
    "route --mode sideways",
    async () => cli("route", "--bundle", goodBundle, "--mode", "sideways", "hi"),
    "cli/usage",
  ],
  [
    "cli",
    "distill --gate-features layer:x",
    async () => cli("distill", "--model", fixtures.tiny, "--out", join(dir, "x.prism"), "--gate-features", "layer:x"),
    "cli/usage",
  ],
  [
    "engine message",
    "unknown method",
    () => raw.call({ kind: "request", id: 1, method: "engine/selfDestruct", params: {} }),
    "protocol/unknownMethod",
  ],
  [
    "engine message",
    "wrong field types",
    () => raw.call({ kind: "request", id: 2, method: "engine/loadModel", params: { modelPath: 42, threads: "two" } }),
    "engine/invalidOptions",
  ],
  ["engine message", "unknown envelope kind", () => raw.call({ kind: "explode", id: 3 }), "protocol/invalidMessage"],
  [
    "engine message",
    "oversized payload (17 MB)",
    () =>
      raw.call({
        kind: "request",
        id: 4,
        method: "engine/embed",
        params: { modelId: "m1", input: { text: "x".repeat(17 * 2 ** 20) } },
      }),
    "protocol/invalidMessage",
  ],
  [
    "webview message",
    "unknown method",
    () => webviewRow({ kind: "request", id: 1, method: "fs/deleteAll", params: {} }),
    "protocol/unknownMethod",
  ],
  [
    "webview message",
    "wrong field types",
    () => webviewRow({ kind: "request", id: 2, method: "compare/run", params: { prompt: 7, mode: "sideways" } }),
    "protocol/invalidMessage",
  ],
  [
    "webview message",
    "oversized payload",
    () =>
      webviewRow({
        kind: "request",
        id: 3,
        method: "compare/run",
        params: { prompt: "x".repeat(17 * 2 ** 20), mode: "hard" },
      }),
    "protocol/invalidMessage",
  ],
  ["webview message", "not an envelope", () => webviewRow("<script>alert(1)</script>"), "protocol/invalidMessage"],
];

describe("bad-input table", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "prism-bad-"));
    engine = startEngine();
    modelId = (await loadModel(engine, fixtures.tiny)).modelId;
    contextId = (await engine.request("engine/createContext", { modelId, contextSize: 256, threads: 1 })).contextId;
    goodBundle = join(dir, "good.prism");
    await makeBundle(goodBundle, fixtures.tiny);
    raw = await RawEngine.start();
  });
  afterAll(async () => {
    await engine.dispose();
    raw.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("has at least 30 rows", () => expect(rows.length).toBeGreaterThanOrEqual(30));

  it("names the file and llama.cpp's reason in load errors", async () => {
    const arch = await rejection(loadModel(engine, fixtures.unsupportedArch));
    expect(arch.message).toContain(fixtures.unsupportedArch);
    expect(arch.message).toMatch(/llama\.cpp: .*prism-unknown-arch/);
    expect(JSON.stringify(arch.detail)).toContain("unknown model architecture");
    const shape = await rejection(adapterAt(fixtures.adapterWrongShape));
    expect(shape.message).toContain(fixtures.adapterWrongShape);
    expect(shape.message).toMatch(/incorrect shape|wrong base model/);
  });

  it.each(rows)("%s: %s → %s", { timeout: 45_000 }, async (_category, _input, run, code) => {
    const err = await rejection(run());
    expect(err.code, err.message).toBe(code);
    // Whatever happened, this process is alive and the engine answers again (restarted after a crash).
    if ((await engine.request("engine/status", {})).models === 0) {
      const again = await loadModel(engine, fixtures.tiny);
      modelId = again.modelId;
      contextId = (await engine.request("engine/createContext", { modelId, contextSize: 256, threads: 1 })).contextId;
    }
    expect(raw.alive).toBe(true);
  });
});
