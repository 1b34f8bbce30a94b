import * as z from "zod";
import { AppError, abortError } from "../errors.js";
import type { ChatBackend, ChatBackendRequest, ChatBackendResult } from "./ChatBackend.js";

/** Options of {@link LlamaServerBackend}. */
export interface LlamaServerBackendOptions {
  /** Where llama-server listens, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is accepted). */
  url: string;
  /**
   * Which of the server's adapters (`GET /lora-adapters`) is the bundle's: the `--lora` file it was started with,
   * compared by path or file name. Defaults to the server's only adapter; a server with several needs it.
   */
  adapterPath?: string;
  /** Sent as a bearer token (llama-server's `--api-key`). Defaults to none. */
  apiKey?: string;
  /**
   * Whether llama-server may reuse the KV cache of an earlier request's prompt (`cache_prompt`). Off, every
   * request is evaluated from scratch like the local engine's, so an answer does not depend on what was asked
   * before (batch shapes change float rounding). Defaults to false.
   */
  reusePromptCache?: boolean;
  /** Per-request limit. Defaults to 300 000 ms. */
  timeoutMs?: number;
  /** The fetch implementation (tests). Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** One entry of llama-server's `GET /lora-adapters`. */
const adapterListSchema = z.array(z.object({ id: z.number().int().nonnegative(), path: z.string() }).loose());

/** One streamed `chat.completion.chunk`; the last carries llama-server's `timings` and (asked for) `usage`. */
const chunkSchema = z
  .object({
    choices: z.array(
      z
        .object({
          delta: z.object({ content: z.string().nullish() }).loose(),
          finish_reason: z.string().nullish(),
        })
        .loose(),
    ),
    usage: z
      .object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() })
      .loose()
      .nullish(),
    timings: z
      .object({
        prompt_n: z.number(),
        prompt_ms: z.number(),
        predicted_n: z.number(),
        predicted_per_second: z.number(),
      })
      .partial()
      .loose()
      .nullish(),
  })
  .loose();

/** An error object as llama-server (and OpenAI) send it, in a body or as a stream event. */
const errorSchema = z.object({ error: z.object({ message: z.string() }).loose() }).loose();

/**
 * Generates with llama.cpp's `llama-server`, started with the bundle's adapter loaded but not applied
 * (`--lora <adapter.gguf> --lora-init-without-apply`): each request states the adapter's scale in its `lora`
 * field, so one server answers base (0), adapter (1) and soft-routed (p) requests side by side
 * (docs/llama-server.md). Requests stream from `/v1/chat/completions`; a failure is a coded error naming the URL:
 * `serve/backendUnreachable` (nothing listens), `serve/backendFailed` (an HTTP or in-stream error),
 * `serve/backendInvalidResponse` (not a chat completion stream), `serve/backendNoAdapter` (a scale above 0 and no
 * adapter to apply it to). Cancelling a request closes its connection, which stops llama-server's generation.
 */
export class LlamaServerBackend implements ChatBackend {
  private readonly base: string;
  private adapters?: Promise<{ ids: number[]; bundleId: number | undefined }>;

  constructor(private readonly options: LlamaServerBackendOptions) {
    this.base = options.url.replace(/\/+$/, "").replace(/\/v1$/, "");
  }

  get description(): string {
    return `llama-server at ${this.base}`;
  }

  async generate(request: ChatBackendRequest): Promise<ChatBackendResult> {
    const { signal } = request;
    signal?.throwIfAborted();
    const adapters = await this.adapterIds(signal);
    if (request.adapterScale > 0 && adapters.bundleId === undefined) {
      throw new AppError(
        "serve/backendNoAdapter",
        `llama-server at ${this.base} has no LoRA adapter loaded, so adapter scale ${request.adapterScale} cannot be applied; start it with --lora <bundle>/adapter.gguf --lora-init-without-apply.`,
      );
    }
    const url = `${this.base}/v1/chat/completions`;
    const started = performance.now();
    const response = await this.post(url, this.body(request, adapters), signal);
    let text = "";
    let finish: string | null | undefined;
    let firstTokenAt: number | undefined;
    let usage: z.infer<typeof chunkSchema>["usage"];
    let timings: z.infer<typeof chunkSchema>["timings"];
    let chunks = 0;
    let done = false;
    try {
      for await (const data of serverSentData(response, url)) {
        // Events already received when the caller cancelled are not delivered.
        signal?.throwIfAborted();
        if (data === "[DONE]") {
          done = true;
          break;
        }
        const json = parseJson(data, url);
        const error = errorSchema.safeParse(json);
        if (error.success) {
          throw new AppError("serve/backendFailed", `${url} failed mid-answer: ${error.data.error.message}`);
        }
        const chunk = chunkSchema.safeParse(json);
        if (!chunk.success) throw invalidResponse(url, `a stream event is not a chat completion chunk: ${data}`);
        usage = chunk.data.usage ?? usage;
        timings = chunk.data.timings ?? timings;
        const choice = chunk.data.choices[0];
        if (!choice) continue;
        const content = choice.delta.content;
        if (content) {
          firstTokenAt ??= performance.now();
          text += content;
          chunks++;
          request.onChunk?.(content);
        }
        finish = choice.finish_reason ?? finish;
      }
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      throw err;
    }
    if (!done && finish == null) throw invalidResponse(url, "the stream ended before the answer was finished");
    const end = performance.now();
    const generated = usage?.completion_tokens ?? timings?.predicted_n ?? chunks;
    const decodeMs = firstTokenAt === undefined ? 0 : end - firstTokenAt;
    return {
      text,
      finishReason: finish === "length" ? "length" : "stop",
      timings: {
        promptTokens: usage?.prompt_tokens ?? timings?.prompt_n ?? 0,
        promptMs: (firstTokenAt ?? end) - started,
        timeToFirstTokenMs: (firstTokenAt ?? end) - started,
        generatedTokens: generated,
        tokensPerSecond:
          timings?.predicted_per_second ?? (generated > 1 && decodeMs > 0 ? ((generated - 1) * 1000) / decodeMs : 0),
        totalMs: end - started,
      },
    };
  }

  /**
   * Asks the server for its adapters now, so that a wrong URL or a server without the bundle's adapter fails when
   * `prism serve` starts rather than at the first request.
   */
  async prepare(signal?: AbortSignal): Promise<void> {
    if ((await this.adapterIds(signal)).bundleId === undefined) {
      throw new AppError(
        "serve/backendNoAdapter",
        `llama-server at ${this.base} has no LoRA adapter loaded; start it with --lora <bundle>/adapter.gguf --lora-init-without-apply.`,
      );
    }
  }

  /** Nothing to release: the server belongs to whoever started it. */
  async dispose(): Promise<void> {}

  /** The request body: OpenAI's fields plus llama-server's `lora` (every adapter listed, so none keeps a global scale). */
  private body(request: ChatBackendRequest, adapters: { ids: number[]; bundleId: number | undefined }) {
    return {
      model: "prism",
      messages: request.messages,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: request.maxTokens,
      temperature: request.temperature,
      ...(request.topP === undefined ? {} : { top_p: request.topP }),
      ...(request.seed === undefined ? {} : { seed: request.seed }),
      ...(request.stop?.length ? { stop: request.stop } : {}),
      cache_prompt: this.options.reusePromptCache ?? false,
      lora: adapters.ids.map((id) => ({ id, scale: id === adapters.bundleId ? request.adapterScale : 0 })),
    };
  }

  /** The server's adapters, asked once; a failed lookup is asked again by the next request. */
  private adapterIds(signal: AbortSignal | undefined): Promise<{ ids: number[]; bundleId: number | undefined }> {
    this.adapters ??= this.fetchAdapters(signal).catch((err: unknown) => {
      this.adapters = undefined;
      throw err;
    });
    return this.adapters;
  }

  private async fetchAdapters(
    signal: AbortSignal | undefined,
  ): Promise<{ ids: number[]; bundleId: number | undefined }> {
    const url = `${this.base}/lora-adapters`;
    const response = await this.send(url, { method: "GET" }, signal);
    const list = adapterListSchema.safeParse(await response.json().catch(() => undefined));
    if (!list.success) throw invalidResponse(url, "not a list of LoRA adapters (is this llama-server?)");
    const ids = list.data.map((a) => a.id);
    const wanted = this.options.adapterPath;
    if (wanted === undefined) {
      if (list.data.length > 1) {
        throw new AppError(
          "serve/backendNoAdapter",
          `llama-server at ${this.base} has ${list.data.length} LoRA adapters (${list.data.map((a) => a.path).join(", ")}); say which is the bundle's.`,
        );
      }
      return { ids, bundleId: list.data[0]?.id };
    }
    const match =
      list.data.find((a) => a.path === wanted) ?? list.data.find((a) => baseName(a.path) === baseName(wanted));
    if (!match) {
      throw new AppError(
        "serve/backendNoAdapter",
        `llama-server at ${this.base} has no LoRA adapter ${wanted} (it has: ${list.data.map((a) => a.path).join(", ") || "none"}).`,
      );
    }
    return { ids, bundleId: match.id };
  }

  private post(url: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
    return this.send(
      url,
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
      signal,
    );
  }

  /** One HTTP exchange; a refused connection and an error status become coded errors. */
  private async send(url: string, init: RequestInit, signal: AbortSignal | undefined): Promise<Response> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 300_000);
    const headers = {
      ...(init.headers as Record<string, string> | undefined),
      ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
    };
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(url, {
        ...init,
        headers,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new AppError(
        "serve/backendUnreachable",
        `Cannot reach llama-server at ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}.`,
        undefined,
        { cause: err },
      );
    }
    if (!response.ok) {
      const body = await response.text().catch(() => "");
      const parsed = errorSchema.safeParse(parseJsonOrUndefined(body));
      const message = parsed.success ? parsed.data.error.message : body.slice(0, 300);
      throw new AppError("serve/backendFailed", `${url} answered HTTP ${response.status}: ${message}`, {
        status: response.status,
      });
    }
    return response;
  }
}

/** The `data:` payloads of a server-sent event stream, in order (comments and other fields skipped). */
async function* serverSentData(response: Response, url: string): AsyncGenerator<string> {
  if (!response.body) throw invalidResponse(url, "no response body");
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("text/event-stream")) throw invalidResponse(url, `content type ${type || "none"}, not a stream`);
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (line === "") {
        // A blank line ends an event (the SSE rule); its data lines join with newlines.
        if (data.length) yield data.join("\n");
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
    }
  }
  if (data.length) yield data.join("\n");
}

function parseJson(data: string, url: string): unknown {
  const json = parseJsonOrUndefined(data);
  if (json === undefined) throw invalidResponse(url, `a stream event is not JSON: ${data.slice(0, 200)}`);
  return json;
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function invalidResponse(url: string, why: string): AppError {
  return new AppError("serve/backendInvalidResponse", `${url} sent an invalid response: ${why.slice(0, 300)}.`);
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}
