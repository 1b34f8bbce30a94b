/**
 * Entry of the engine process (`dist/engine.mjs`), forked by the host. It owns node-llama-cpp, so a native
 * abort (GGML_ASSERT → exit 134) takes down only this process; the host sees the exit and reports
 * `engine/crashed`. All traffic is the typed protocol over the fork IPC channel.
 */
import {
  engineRequests,
  ENGINE_PROTOCOL_VERSION,
  type EngineNotifications,
  type EngineRequests,
} from "../protocol/engineProtocol.js";
import type { Envelope } from "../protocol/envelope.js";
import { AppError, toWireError } from "../protocol/errors.js";
import { Messenger } from "../protocol/Messenger.js";
import { downloadModel } from "./downloadModel.js";
import { LlamaEngine } from "./LlamaEngine.js";

if (!process.send) {
  process.stderr.write("prism engine: must be started by the PRISM host with an IPC channel (child_process.fork).\n");
  process.exit(2);
}

const send = (message: Envelope): void => {
  if (process.connected) process.send!(message);
};

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the engine sends no requests and accepts no notifications
const messenger = new Messenger<EngineRequests, {}, {}, EngineNotifications>({
  incoming: engineRequests,
  outgoing: {},
  incomingNotifications: {},
  send,
  toWire: toWireError,
  fromWire: (wire) => AppError.fromWire(wire),
  invalidParamsCode: "engine/invalidOptions",
  // Dropped messages are reported to the host's log (the sender may be a bug or a compromised peer).
  onInvalidMessage: (error) => {
    engine.logs.push("warn", error.message);
    messenger.notify("engine/didLog", { level: "warn", text: error.message });
  },
});

const engine = new LlamaEngine({
  log: (level, text) => messenger.notify("engine/didLog", { level, text: text.slice(0, 16_384) }),
});

let shuttingDown = false;
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await engine.dispose().catch(() => undefined);
  process.exit(code);
}

messenger.setHandlers({
  "engine/status": async () => engine.status(),
  "engine/loadModel": (p) => engine.loadModel(p),
  "engine/unloadModel": async (p) => {
    await engine.unloadModel(p.modelId);
    return {};
  },
  "engine/createContext": (p) => engine.createContext(p),
  "engine/disposeContext": async (p) => {
    await engine.disposeContext(p.contextId);
    return {};
  },
  "engine/generate": (p, ctx) => engine.generate(p, ctx.signal, (text) => ctx.notify("engine/didChunk", { text })),
  "engine/embed": (p) => engine.embed(p),
  "engine/featureHead": (p, ctx) => engine.featureHead(p, ctx.signal),
  "engine/logLikelihood": (p, ctx) => engine.logLikelihood(p, ctx.signal),
  "engine/formatPrompt": async (p) => engine.formatPrompt(p.modelId, p.messages, p.answer),
  "engine/scoreTopK": (p, ctx) => engine.scoreTopK(p, ctx.signal),
  "engine/countTokens": async (p) => ({ tokens: engine.countTokens(p.modelId, p.text) }),
  "engine/download": (p, ctx) =>
    downloadModel(p.uri, p.dir, ctx.signal, (downloadedBytes, totalBytes) =>
      ctx.notify("engine/didDownloadProgress", { downloadedBytes, totalBytes }),
    ),
  "engine/shutdown": async () => {
    // Answer first, then exit: the host waits for the response before it stops watching the process.
    setImmediate(() => void shutdown(0));
    return {};
  },
});

process.on("message", (raw) => messenger.receive(raw));
// The host is gone (closed the channel or died): nobody can use our results, so free the memory now.
process.on("disconnect", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(143));
process.on("unhandledRejection", (reason) => {
  engine.logs.push("error", `unhandled rejection: ${String(reason)}`);
});

messenger.notify("engine/didStart", { pid: process.pid, protocolVersion: ENGINE_PROTOCOL_VERSION });
