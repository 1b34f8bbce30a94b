import type { z } from "zod";
import {
  envelopeSchema,
  MAX_MESSAGE_CHARS,
  type Envelope,
  type NotificationSpecs,
  type ParamsOf,
  type RequestSpecs,
  type ResultOf,
} from "./envelope.js";
import { abortError, type ErrorCode, type WireError } from "./errors.js";

/** What a request handler gets besides its params. */
export interface HandlerContext<NOut extends NotificationSpecs> {
  /** Aborted when the peer sends `cancel` for this request or the messenger is disposed. */
  signal: AbortSignal;
  requestId: number;
  /** Sends a notification tagged with this request's id (stream chunks). */
  notify<M extends keyof NOut & string>(method: M, params: z.input<NOut[M]>): void;
}

/** Handlers for the requests a side receives. Params arrive validated, with defaults applied. */
export type RequestHandlers<In extends RequestSpecs, NOut extends NotificationSpecs> = {
  [M in keyof In]: (params: z.output<In[M]["params"]>, ctx: HandlerContext<NOut>) => Promise<z.input<In[M]["result"]>>;
};

/** Options of {@link Messenger}. */
export interface MessengerOptions<In extends RequestSpecs, Out extends RequestSpecs, NIn extends NotificationSpecs> {
  /** Requests this side handles; their params are validated against these schemas. */
  incoming: In;
  /** Requests this side sends; their results are validated against these schemas. */
  outgoing: Out;
  /** Notifications this side accepts. */
  incomingNotifications: NIn;
  /** Posts one envelope to the peer. */
  send(message: Envelope): void;
  /** Turns a thrown value into wire data (the core's `toWireError`). */
  toWire(err: unknown): WireError;
  /** Turns wire data back into a throwable error (the core's `AppError.fromWire`). */
  fromWire(err: WireError): Error;
  /** The code for request params that fail validation. Defaults to `protocol/invalidMessage`. */
  invalidParamsCode?: ErrorCode;
  /** Told about every dropped message: malformed, oversized, unknown or unmatched. */
  onInvalidMessage?(error: WireError, raw: unknown): void;
}

/** Per-call options of {@link Messenger.request}. */
export interface RequestOptions {
  /** Aborting rejects the call at once with the signal's reason and sends `cancel` to the peer. */
  signal?: AbortSignal;
  /** Receives the notifications the peer tags with this request's id. */
  onNotification?(method: string, params: unknown): void;
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  onNotification?: (method: string, params: unknown) => void;
  cleanup(): void;
}

/**
 * Typed request / response / notification / cancel over any postMessage-like channel, the same class on both
 * ends. Everything received is validated (envelope, params, results, notifications) before it reaches code;
 * invalid messages are dropped and reported, and a request with invalid params is answered with an error.
 */
export class Messenger<
  In extends RequestSpecs,
  Out extends RequestSpecs,
  NIn extends NotificationSpecs,
  NOut extends NotificationSpecs,
> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly running = new Map<number, AbortController>();
  private handlers?: Partial<RequestHandlers<In, NOut>>;
  private readonly listeners = new Set<(method: string, params: unknown) => void>();

  constructor(private readonly options: MessengerOptions<In, Out, NIn>) {}

  /** Installs the handlers for incoming requests. */
  setHandlers(handlers: Partial<RequestHandlers<In, NOut>>): void {
    this.handlers = handlers;
  }

  /** Listens to notifications that are not tagged with a pending request. Returns an unsubscribe function. */
  onNotification(listener: (method: string, params: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends a request and resolves with its validated result. */
  request<M extends keyof Out & string>(
    method: M,
    params: ParamsOf<Out, M>,
    options: RequestOptions = {},
  ): Promise<ResultOf<Out, M>> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.nextId++;
    return new Promise<ResultOf<Out, M>>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(id);
        this.safeSend({ kind: "cancel", id });
        reject(abortError(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        method,
        resolve: resolve as (value: unknown) => void,
        reject,
        onNotification: options.onNotification,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      });
      try {
        this.options.send({ kind: "request", id, method, params });
      } catch (err) {
        this.settle(id)?.reject(err);
      }
    });
  }

  /** Sends a notification, optionally tagged with the request it belongs to. */
  notify<M extends keyof NOut & string>(method: M, params: z.input<NOut[M]>, requestId?: number): void {
    this.safeSend(
      requestId === undefined ? { kind: "notify", method, params } : { kind: "notify", method, params, requestId },
    );
  }

  /** Number of requests sent and not yet answered. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Rejects every pending request with `err` (the peer died) and aborts every running handler. */
  rejectAll(err: unknown): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
    for (const controller of this.running.values()) controller.abort();
    this.running.clear();
  }

  /** Feeds one message received from the peer. Never throws. */
  receive(raw: unknown): void {
    const size = approximateSize(raw);
    if (size > MAX_MESSAGE_CHARS) {
      this.invalid(`message of ${size} characters exceeds the limit of ${MAX_MESSAGE_CHARS}`, raw);
      return;
    }
    const parsed = envelopeSchema.safeParse(raw);
    if (!parsed.success) {
      this.invalid(`malformed envelope: ${parsed.error.issues[0]?.message ?? "invalid"}`, raw);
      return;
    }
    const message = parsed.data;
    switch (message.kind) {
      case "request":
        void this.handleRequest(message.id, message.method, message.params);
        return;
      case "response":
        this.handleResponse(message, raw);
        return;
      case "notify":
        this.handleNotification(message.method, message.params, message.requestId, raw);
        return;
      case "cancel":
        this.running.get(message.id)?.abort();
        return;
    }
  }

  private async handleRequest(id: number, method: string, params: unknown): Promise<void> {
    const spec = Object.hasOwn(this.options.incoming, method) ? this.options.incoming[method] : undefined;
    const handler = spec && this.handlers?.[method as keyof In];
    if (!spec || !handler) {
      this.respondError(id, method, { code: "protocol/unknownMethod", message: `Unknown method "${method}".` });
      return;
    }
    const parsed = spec.params.safeParse(params);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
      this.respondError(id, method, {
        code: this.options.invalidParamsCode ?? "protocol/invalidMessage",
        message: `Invalid parameters for ${method}${where}: ${issue?.message ?? "invalid"}.`,
      });
      return;
    }
    const controller = new AbortController();
    this.running.set(id, controller);
    const ctx: HandlerContext<NOut> = {
      signal: controller.signal,
      requestId: id,
      notify: (m, p) => this.notify(m, p, id),
    };
    try {
      // The params were validated against this method's own schema just above.
      const result = await (handler as (p: unknown, c: HandlerContext<NOut>) => Promise<unknown>)(parsed.data, ctx);
      this.safeSend({ kind: "response", id, method, result });
    } catch (err) {
      this.respondError(id, method, this.options.toWire(err));
    } finally {
      this.running.delete(id);
    }
  }

  private handleResponse(message: Extract<Envelope, { kind: "response" }>, raw: unknown): void {
    const pending = this.pending.get(message.id);
    if (!pending) return; // answered after a local cancel: expected, not an error
    const entry = this.settle(message.id)!;
    if (message.error) {
      entry.reject(this.options.fromWire(message.error));
      return;
    }
    const spec = this.options.outgoing[pending.method];
    const parsed = spec ? spec.result.safeParse(message.result) : undefined;
    if (!parsed?.success) {
      const wire: WireError = {
        code: "protocol/invalidMessage",
        message: `Invalid result for ${pending.method}: ${parsed?.error.issues[0]?.message ?? "unknown method"}.`,
      };
      this.options.onInvalidMessage?.(wire, raw);
      entry.reject(this.options.fromWire(wire));
      return;
    }
    entry.resolve(parsed.data);
  }

  private handleNotification(method: string, params: unknown, requestId: number | undefined, raw: unknown): void {
    const schema = Object.hasOwn(this.options.incomingNotifications, method)
      ? this.options.incomingNotifications[method]
      : undefined;
    if (!schema) {
      this.invalid(`unknown notification "${method}"`, raw);
      return;
    }
    const parsed = schema.safeParse(params);
    if (!parsed.success) {
      this.invalid(`invalid ${method}: ${parsed.error.issues[0]?.message ?? "invalid"}`, raw);
      return;
    }
    if (requestId !== undefined) {
      // Chunks of a request cancelled locally arrive late; dropping them silently is correct.
      this.pending.get(requestId)?.onNotification?.(method, parsed.data);
      return;
    }
    for (const listener of this.listeners) {
      try {
        listener(method, parsed.data);
      } catch (err) {
        this.options.onInvalidMessage?.(this.options.toWire(err), raw);
      }
    }
  }

  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    entry.cleanup();
    return entry;
  }

  private respondError(id: number, method: string, error: WireError): void {
    this.safeSend({ kind: "response", id, method, error });
  }

  private invalid(message: string, raw: unknown): void {
    this.options.onInvalidMessage?.(
      { code: "protocol/invalidMessage", message: `Dropped a message: ${message}.` },
      raw,
    );
  }

  private safeSend(message: Envelope): void {
    try {
      this.options.send(message);
    } catch {
      // The channel is gone (peer exited); pending requests are rejected by the owner's exit handling.
    }
  }
}

/** Cheap size estimate: strings dominate every large message, so only they are measured exactly. */
function approximateSize(value: unknown, depth = 0): number {
  if (typeof value === "string") return value.length;
  if (depth > 6 || value === null || typeof value !== "object") return 8;
  let total = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      total += approximateSize(item, depth + 1);
      if (total > MAX_MESSAGE_CHARS) return total;
    }
    return total;
  }
  for (const [key, item] of Object.entries(value)) {
    total += key.length + approximateSize(item, depth + 1);
    if (total > MAX_MESSAGE_CHARS) return total;
  }
  return total;
}
