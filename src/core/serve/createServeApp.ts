import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { fastify, type FastifyInstance, type FastifyReply } from "fastify";
import { isCancellation } from "../errors.js";
import { FirstTurnDecisions } from "../routing/FirstTurnDecisions.js";
import type { GateDecision, RouteMode, Side } from "../routing/Router.js";
import { RoutingLog, type RoutingRecord } from "../routing/RoutingLog.js";
import type { ChatBackend, ChatBackendRequest, ChatBackendResult } from "./ChatBackend.js";
import { ServeRequestError, toOpenAiError } from "./openAiErrors.js";
import {
  chunkBody,
  completionBody,
  routeHeader,
  routeInfo,
  sseEvent,
  SSE_DONE,
  usageChunkBody,
  type CompletionIdentity,
  type PrismRouteInfo,
} from "./openAiResponses.js";
import {
  chatCompletionRequestSchema,
  isServeModel,
  SERVE_MODELS,
  stopStrings,
  toChatMessages,
  type ChatCompletionRequest,
  type ServeModel,
} from "./openAiSchemas.js";

/** The gate as the server needs it: `Router.decide`, or a fake in tests. */
export interface ServeGate {
  decide(prompt: string, signal?: AbortSignal): Promise<GateDecision>;
}

/** Options of {@link createServeApp}. */
export interface ServeAppOptions {
  gate: ServeGate;
  backend: ChatBackend;
  /** How model `prism` routes: `hard` (adapter iff p ≥ threshold) or `soft` (adapter scale = p). Defaults to `hard`. */
  mode?: "hard" | "soft";
  /** Where each answered request is recorded, as `prism route` records. Defaults to no log. */
  log?: RoutingLog;
  /** When set, every request needs `Authorization: Bearer <apiKey>`. Defaults to none (loopback only). */
  apiKey?: string;
  /** Largest request body accepted; a larger one is answered 413. Defaults to 8 MiB. */
  maxBodyBytes?: number;
  /** `max_tokens` when a request names none. Defaults to 512. */
  maxTokens?: number;
  /** `temperature` when a request names none. Defaults to 0 (greedy). */
  temperature?: number;
  /** Called with every routed request (after its answer), e.g. for a status bar. Defaults to nothing. */
  onRoute?(record: RoutingRecord): void;
  /** Called with errors the client cannot see: a failed log append, a server-side failure. Defaults to nothing. */
  onError?(err: unknown): void;
}

/**
 * The OpenAI-compatible routed endpoint as a fastify instance (not listening yet, so tests can `inject`):
 * `GET /v1/models` and `POST /v1/chat/completions`, streaming or not. The conversation's first user turn goes
 * through the gate (once per conversation, docs/method.md §4), the decision picks the adapter scale, and the
 * answer comes from `backend`. Every failure is an OpenAI-style error object (`openAiErrors.ts`); a client that
 * disconnects aborts its generation. docs/serve.md describes the contract.
 */
export function createServeApp(options: ServeAppOptions): FastifyInstance {
  const app = fastify({
    logger: false,
    bodyLimit: options.maxBodyBytes ?? 8 * 1024 * 1024,
    // Streams are long-lived: closing the server must not wait for idle keep-alive sockets of finished ones.
    forceCloseConnections: true,
  });
  // JSON only: a web page may POST text/plain cross-origin without a preflight, so accepting it would let any site
  // the user visits spend this machine's model.
  app.removeContentTypeParser("text/plain");
  const decisions = new FirstTurnDecisions();
  const inFlight = new Set<AbortController>();
  const created = Math.floor(Date.now() / 1000);
  const keyHash = options.apiKey === undefined ? undefined : sha256(options.apiKey);

  app.addHook("onRequest", async (request) => {
    if (!keyHash) return;
    const header = request.headers.authorization ?? "";
    const match = /^Bearer (.+)$/i.exec(header);
    // Hashes have equal length, so the comparison takes the same time whatever the client sent.
    if (!match || !timingSafeEqual(sha256(match[1]!.trim()), keyHash)) {
      throw new ServeRequestError(
        "serve/unauthorized",
        match ? "The API key is not valid." : "This server needs an API key: send Authorization: Bearer <key>.",
      );
    }
  });
  app.addHook("preClose", async () => {
    for (const controller of inFlight) controller.abort();
  });
  app.setNotFoundHandler(async (request) => {
    throw new ServeRequestError("serve/notFound", `No endpoint ${request.method} ${request.url.split("?")[0]}.`);
  });
  app.setErrorHandler(async (err, request, reply) => {
    const mapped = fromFastifyError(err);
    // Answering before the client has sent its whole body makes it see a reset connection, not the 413.
    if (mapped instanceof ServeRequestError && mapped.code === "serve/bodyTooLarge") await drain(request.raw);
    const { status, body } = toOpenAiError(mapped);
    if (status >= 500 && !isCancellation(err)) options.onError?.(err);
    return reply.code(status).send(body);
  });

  app.get("/v1/models", async () => ({
    object: "list",
    data: Object.keys(SERVE_MODELS).map((id) => ({ id, object: "model", created, owned_by: "prism" })),
  }));
  app.get<{ Params: { model: string } }>("/v1/models/:model", async (request) => {
    const { model } = request.params;
    if (!isServeModel(model)) throw unknownModel(model);
    return { id: model, object: "model", created, owned_by: "prism" };
  });

  app.post("/v1/chat/completions", async (request, reply) => {
    const body = parseRequest(request.body);
    const messages = toChatMessages(body);
    if (typeof messages === "string") throw new ServeRequestError("serve/invalidRequest", messages, "messages");
    const controller = new AbortController();
    inFlight.add(controller);
    // A client that goes away before its answer is complete takes its generation with it.
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    try {
      const { signal } = controller;
      const model = body.model as ServeModel;
      const gate = await decisions.decide(messages, "hard", (first) => options.gate.decide(first, signal));
      // toChatMessages guarantees a user turn, so a decision always exists.
      const { served, scale, mode } = pickSide(model, gate!, options.mode ?? "hard");
      const route = routeInfo(gate!, served, scale);
      const completion: CompletionIdentity = {
        id: `chatcmpl-${randomUUID()}`,
        created: Math.floor(Date.now() / 1000),
        model,
      };
      const generation: ChatBackendRequest = {
        messages,
        adapterScale: scale,
        maxTokens: body.max_completion_tokens ?? body.max_tokens ?? options.maxTokens ?? 512,
        temperature: body.temperature ?? options.temperature ?? 0,
        topP: body.top_p ?? undefined,
        seed: body.seed ?? undefined,
        stop: stopStrings(body),
        signal,
      };
      // The record is on disk before the answer is complete, so a client that has its answer finds it in the log
      // (as `prism route` does); a failed append is reported but does not fail the answer.
      const record = async (result: ChatBackendResult): Promise<void> => {
        const entry = toRecord(messages[messages.length - 1]!.content, gate!, mode, served, result);
        options.onRoute?.(entry);
        await options.log?.append(entry).catch((err: unknown) => options.onError?.(err));
      };
      if (body.stream) {
        await stream(reply, completion, route, generation, body, record);
        return reply;
      }
      const result = await options.backend.generate(generation);
      await record(result);
      return reply.header("x-prism-route", routeHeader(route)).send(completionBody(completion, result, route));
    } finally {
      inFlight.delete(controller);
    }
  });

  /**
   * Streams the answer as server-sent events: a first chunk with the role and the `prism` field, one per text
   * chunk, the finish reason, the usage chunk when asked for, then `[DONE]`. Headers go out once the gate has
   * decided, so gate failures still get a proper status; a failure after that is an `error` event.
   */
  async function stream(
    reply: FastifyReply,
    completion: CompletionIdentity,
    route: PrismRouteInfo,
    generation: ChatBackendRequest,
    body: ChatCompletionRequest,
    record: (result: ChatBackendResult) => Promise<void>,
  ): Promise<void> {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-prism-route": routeHeader(route),
    });
    raw.write(sseEvent(chunkBody(completion, { role: "assistant", content: "" }, null, { prism: route })));
    try {
      const result = await options.backend.generate({
        ...generation,
        onChunk: (text) => {
          if (text && !raw.destroyed) raw.write(sseEvent(chunkBody(completion, { content: text }, null)));
        },
      });
      await record(result);
      raw.write(sseEvent(chunkBody(completion, {}, result.finishReason)));
      if (body.stream_options?.include_usage) raw.write(sseEvent(usageChunkBody(completion, result)));
      raw.end(SSE_DONE);
    } catch (err) {
      if (raw.destroyed || generation.signal?.aborted) return;
      const { status, body: errorBody } = toOpenAiError(err);
      if (status >= 500) options.onError?.(err);
      raw.end(sseEvent(errorBody));
    }
  }

  return app;
}

/** The request body, validated; the first problem becomes the error's message and `param`. */
function parseRequest(body: unknown): ChatCompletionRequest {
  const parsed = chatCompletionRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path.length ? issue.path.map(String).join(".") : null;
    throw new ServeRequestError("serve/invalidRequest", `${param ?? "body"}: ${issue.message}`, param);
  }
  if (!isServeModel(parsed.data.model)) throw unknownModel(parsed.data.model);
  return parsed.data;
}

function unknownModel(model: string): ServeRequestError {
  return new ServeRequestError(
    "serve/unknownModel",
    `The model "${model.slice(0, 256)}" does not exist: this server has ${Object.keys(SERVE_MODELS).join(", ")}.`,
    "model",
  );
}

/** Which side answers and at which adapter scale (Router.route's rules for hard, soft, base and persona). */
function pickSide(
  model: ServeModel,
  gate: GateDecision,
  mode: "hard" | "soft",
): { served: Side; scale: number; mode: RouteMode } {
  if (model === "prism-base") return { served: "base", scale: 0, mode: "base" };
  if (model === "prism-persona") return { served: "persona", scale: 1, mode: "persona" };
  if (mode === "soft") {
    // Soft mode is ours, not the paper's: the adapter at scale p, served as "persona" when p > 0.
    return gate.probability > 0
      ? { served: "persona", scale: gate.probability, mode }
      : { served: "base", scale: 0, mode };
  }
  return { served: gate.decision, scale: gate.decision === "persona" ? 1 : 0, mode };
}

function toRecord(prompt: string, gate: GateDecision, mode: RouteMode, served: Side, r: ChatBackendResult) {
  return {
    time: new Date().toISOString(),
    prompt,
    promptHash: RoutingLog.hash(prompt),
    probability: gate.probability,
    threshold: gate.threshold,
    decision: gate.decision,
    mode,
    served,
    featureMs: gate.featureMs,
    gateMs: gate.gateMs,
    sides: {
      [served]: {
        timeToFirstTokenMs: r.timings.timeToFirstTokenMs,
        tokensPerSecond: r.timings.tokensPerSecond,
        generatedTokens: r.timings.generatedTokens,
      },
    },
  } satisfies RoutingRecord;
}

/** fastify's own request errors (body parsing) as ours; anything else passes through. */
function fromFastifyError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  const status = (err as { statusCode?: unknown }).statusCode;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE") return new ServeRequestError("serve/bodyTooLarge", message);
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
    return new ServeRequestError("serve/unsupportedMediaType", `${message}: send application/json.`);
  if (
    typeof status === "number" &&
    status >= 400 &&
    status < 500 &&
    typeof code === "string" &&
    code.startsWith("FST_")
  )
    return new ServeRequestError("serve/invalidRequest", message);
  return err;
}

/**
 * Reads and discards the rest of a request body, up to 64 MiB and 10 s; beyond that the connection is closed (the
 * client then sees a connection error rather than the 413 it would never finish uploading for).
 */
function drain(raw: NodeJS.ReadableStream & { destroy(): void; readableEnded: boolean }): Promise<void> {
  if (raw.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    let bytes = 0;
    const finish = (): void => {
      clearTimeout(timer);
      raw.removeListener("data", onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > 64 * 1024 * 1024) {
        raw.destroy();
        finish();
      }
    };
    const timer = setTimeout(() => {
      raw.destroy();
      finish();
    }, 10_000);
    raw.on("data", onData);
    raw.once("end", finish);
    raw.once("close", finish);
    raw.resume();
  });
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
