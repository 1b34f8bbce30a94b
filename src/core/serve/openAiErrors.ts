import { AppError, isCancellation, toWireError, type ErrorCode } from "../errors.js";

/** OpenAI's error object, as every failed request of `prism serve` answers (docs/serve.md §4). */
export interface OpenAiErrorBody {
  error: {
    message: string;
    /** OpenAI's category: `invalid_request_error`, `authentication_error`, `not_found_error`, `server_error`. */
    type: string;
    /** The request field at fault, when one is (`model`, `messages`, `stop`, …). */
    param: string | null;
    /** Our stable error code (`serve/unknownModel`, `engine/promptTooLong`, …). */
    code: ErrorCode;
  };
}

/** A failed request: the HTTP status and the body to answer it with. */
export interface OpenAiErrorReply {
  status: number;
  body: OpenAiErrorBody;
}

/** The status and OpenAI type of each code a client can cause; anything else is the server's fault (500). */
const CLIENT_ERRORS: Partial<Record<ErrorCode, { status: number; type: string }>> = {
  "serve/invalidRequest": { status: 400, type: "invalid_request_error" },
  "serve/unknownModel": { status: 404, type: "not_found_error" },
  "serve/notFound": { status: 404, type: "not_found_error" },
  "serve/unauthorized": { status: 401, type: "authentication_error" },
  "serve/bodyTooLarge": { status: 413, type: "invalid_request_error" },
  "serve/unsupportedMediaType": { status: 415, type: "invalid_request_error" },
  // The conversation does not fit the context: the client can shorten it.
  "engine/promptTooLong": { status: 400, type: "invalid_request_error" },
  "engine/emptyPrompt": { status: 400, type: "invalid_request_error" },
};

/** A request error of the server's own (validation, authentication, routing) with the field at fault. */
export class ServeRequestError extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly param: string | null = null,
  ) {
    super(code, message);
  }
}

/**
 * The OpenAI-style reply for any error thrown while serving a request: our request errors keep their status,
 * engine errors a client caused are 400, everything else (engine crash, failed generation) 500 with its code.
 * Cancellation has no reply: the client that caused it is gone.
 */
export function toOpenAiError(err: unknown): OpenAiErrorReply {
  const wire = isCancellation(err)
    ? { code: "engine/cancelled" as const, message: "The request was cancelled." }
    : toWireError(err);
  const known = CLIENT_ERRORS[wire.code];
  return {
    status: known?.status ?? 500,
    body: {
      error: {
        message: wire.message,
        type: known?.type ?? "server_error",
        param: err instanceof ServeRequestError ? err.param : null,
        code: wire.code,
      },
    },
  };
}
