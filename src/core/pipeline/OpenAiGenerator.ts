import * as z from "zod";
import type { ChatMessage } from "../../protocol/engineProtocol.js";
import { AppError } from "../errors.js";
import { withoutThoughts, type GenerateResult, type GenerateSettings, type TextGenerator } from "./TextGenerator.js";

/** Options of {@link OpenAiGenerator}. */
export interface OpenAiGeneratorOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  /** The `model` field of requests. Defaults to `default`. */
  model?: string;
  /** Concurrent requests. Defaults to 8. */
  concurrency?: number;
  /** Sent as a bearer token when set. Defaults to none. */
  apiKey?: string;
  /** Per-request timeout. Defaults to 300 000 ms. */
  timeoutMs?: number;
  /** The fetch implementation (tests). Defaults to the global fetch. */
  fetch?: typeof fetch;
}

const responseSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
});

/**
 * Generates through an OpenAI-compatible `/chat/completions` endpoint (llama-server, vLLM, …) with the same
 * decoding settings as the local engine. Used only when the user passes a URL: PRISM makes no network calls
 * otherwise. Failures are `distill/backendFailed` naming the URL and status.
 */
export class OpenAiGenerator implements TextGenerator {
  readonly concurrency: number;
  private readonly url: string;

  constructor(private readonly options: OpenAiGeneratorOptions) {
    this.concurrency = options.concurrency ?? 8;
    this.url = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  }

  get description(): string {
    return `openai:${this.options.baseUrl}#${this.options.model ?? "default"}`;
  }

  async generate(messages: ChatMessage[], settings: GenerateSettings): Promise<GenerateResult> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 300_000);
    const signal = settings.signal ? AbortSignal.any([settings.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(this.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
        },
        body: JSON.stringify({
          model: this.options.model ?? "default",
          messages,
          temperature: settings.temperature,
          max_tokens: settings.maxTokens,
          seed: settings.seed,
        }),
        signal,
      });
    } catch (err) {
      settings.signal?.throwIfAborted();
      throw new AppError("distill/backendFailed", `Cannot reach ${this.url}: ${(err as Error).message}`);
    }
    if (!response.ok) {
      const body = (await response.text().catch(() => "")).slice(0, 300);
      throw new AppError("distill/backendFailed", `${this.url} answered HTTP ${response.status}: ${body}`);
    }
    const parsed = responseSchema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success)
      throw new AppError("distill/backendFailed", `${this.url} sent a response that is not a chat completion.`);
    const choice = parsed.data.choices[0]!;
    // Servers that do not separate reasoning (`reasoning_content`) return it inline as `<think>…</think>`.
    const text = withoutThoughts(choice.message.content ?? "");
    const reason = choice.finish_reason;
    return { text, stop: reason === "stop" ? "eogToken" : reason === "length" ? "maxTokens" : "other" };
  }
}
