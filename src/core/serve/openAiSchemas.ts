import * as z from "zod";
import type { ChatMessage } from "../../protocol/engineProtocol.js";

/** The model names `prism serve` answers to, and what each one serves (docs/serve.md §2). */
export const SERVE_MODELS = {
  /** Routed: the gate decides per conversation (first user turn). */
  prism: "routed",
  /** Always the base model (the gate still runs and is logged). */
  "prism-base": "base",
  /** Always base + the PRISM adapter. */
  "prism-persona": "persona",
} as const;
/** A model name of {@link SERVE_MODELS}. */
export type ServeModel = keyof typeof SERVE_MODELS;

/** True if `name` is one of {@link SERVE_MODELS}. */
export function isServeModel(name: string): name is ServeModel {
  return Object.hasOwn(SERVE_MODELS, name);
}

/** The whole text of one message is bounded like the engine's (`engineProtocol.ts`). */
const text = z.string().max(4_000_000);

/** OpenAI's content parts: only text parts can reach a text-only model. */
const contentPart = z.object({ type: z.literal("text"), text });

const content = z.union([text, z.array(contentPart).max(1000)]);

/**
 * One message. `developer` is OpenAI's newer name for `system`; an assistant turn may have null content (a tool
 * call in the original conversation). Tool, function and image messages are refused: this model has none.
 */
const message = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: content.nullable().optional(),
  name: z.string().max(256).optional(),
});

/** A stop string: OpenAI allows up to 4; the engine up to 16 of at most 1,000 characters each. */
const stopString = z.string().min(1).max(1000);

/**
 * The fields of `POST /v1/chat/completions` that `prism serve` reads. Unknown fields are ignored (clients send
 * many: `user`, `logit_bias`, …), as OpenAI-compatible servers do; fields that would change the answer in a way
 * we cannot honour (`n` > 1, tools) are refused rather than silently dropped.
 */
export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1).max(256),
  messages: z.array(message).min(1, { message: "messages must not be empty" }).max(1000),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().nullable().optional() }).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  max_tokens: z.number().int().min(1).max(1_048_576).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).max(1_048_576).nullable().optional(),
  /** The engine's sampler takes a 32-bit unsigned seed. */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .nullable()
    .optional(),
  stop: z
    .union([stopString, z.array(stopString).max(16)])
    .nullable()
    .optional(),
  n: z.literal(1).nullable().optional(),
  tools: z.array(z.unknown()).max(0, { message: "tools are not supported by this server" }).nullable().optional(),
});
/** A validated chat-completion request. */
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/** The text of a message's content (text parts joined as OpenAI concatenates them). */
function contentText(c: z.infer<typeof content> | null | undefined): string {
  if (c === null || c === undefined) return "";
  return typeof c === "string" ? c : c.map((p) => p.text).join("");
}

/**
 * The request's messages as the engine takes them (`developer` → `system`), or the reason they cannot be
 * answered: the conversation must end with a user turn, the turn the model answers.
 */
export function toChatMessages(request: ChatCompletionRequest): ChatMessage[] | string {
  const messages: ChatMessage[] = request.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: contentText(m.content),
  }));
  const last = messages[messages.length - 1];
  if (last?.role !== "user") return "the last message must be a user message";
  if (!last.content.trim()) return "the last user message has no text";
  return messages;
}

/** The stop strings of a request as a list (OpenAI takes one string or several). */
export function stopStrings(request: ChatCompletionRequest): string[] {
  const { stop } = request;
  if (stop === null || stop === undefined) return [];
  return typeof stop === "string" ? [stop] : stop;
}
