/**
 * Error codes and the wire shape of errors. Errors cross process and webview boundaries as plain data
 * ({@link WireError}), never as class instances; each side turns them back into its own error type.
 */

/** Every stable error code of PRISM, `area/camelCase`. Tests and users match on these, so never rename one. */
export const ERROR_CODES = [
  // engine process lifecycle
  "engine/crashed",
  "engine/hung",
  "engine/stopped",
  "engine/startFailed",
  // model and adapter loading
  "engine/modelNotFound",
  "engine/notGguf",
  "engine/truncatedGguf",
  "engine/corruptGguf",
  "engine/unsupportedArchitecture",
  "engine/modelLoadFailed",
  "engine/adapterNotFound",
  "engine/notAnAdapter",
  "engine/adapterArchMismatch",
  "engine/adapterShapeMismatch",
  "engine/adapterLoadFailed",
  "engine/gpuUnavailable",
  "engine/gpuMismatch",
  "engine/downloadFailed",
  // requests against loaded state
  "engine/unknownModel",
  "engine/unknownContext",
  "engine/promptTooLong",
  "engine/emptyPrompt",
  "engine/invalidOptions",
  "engine/generationFailed",
  "engine/notFeatureHead",
  "engine/cancelled",
  // protocol
  "protocol/invalidMessage",
  "protocol/unknownMethod",
  "protocol/versionMismatch",
  // GGUF files read or written by our own code
  "gguf/notFound",
  "gguf/notGguf",
  "gguf/unsupportedVersion",
  "gguf/truncated",
  "gguf/invalid",
  "gguf/writeFailed",
  // bundles
  "bundle/notFound",
  "bundle/invalidManifest",
  "bundle/unsupportedSchema",
  "bundle/modelMismatch",
  "bundle/missingFile",
  "bundle/invalidAdapter",
  "bundle/adapterTouchesGateLayers",
  // jobs and distillation
  "job/locked",
  "job/corrupt",
  "job/settingsChanged",
  "job/invalidName",
  "distill/invalidPersonas",
  "distill/invalidPrompts",
  "distill/emptyDataset",
  "distill/backendFailed",
  "distill/invalidBackend",
  "trainer/failed",
  "trainer/notBuilt",
  "trainer/cpuUnsupported",
  // routing
  "routing/invalidMode",
  // the reference world (issue 7)
  "world/notFound",
  "world/invalid",
  "world/modelMismatch",
  // gate training, evaluation and gate files
  "gate/insufficientData",
  "gate/invalidFeatures",
  "gate/invalidOptions",
  "gate/wrongWidth",
  "gate/notFound",
  "gate/invalid",
  "gate/unsupportedSchema",
  "gate/modelMismatch",
  "gate/writeFailed",
  // files we write
  "io/writeFailed",
  // PEFT interop: safetensors files and adapter_config.json read and written by our own code (docs/peft.md)
  "peft/notFound",
  "peft/notSafetensors",
  "peft/truncated",
  "peft/invalid",
  "peft/unsupportedDtype",
  "peft/invalidConfig",
  "peft/unsupportedConfig",
  "peft/unsupportedArchitecture",
  "peft/unknownTensor",
  "peft/shapeMismatch",
  "peft/missingGate",
  // the OpenAI-compatible endpoint, `prism serve` (docs/serve.md)
  "serve/invalidRequest",
  "serve/unknownModel",
  "serve/notFound",
  "serve/unauthorized",
  "serve/bodyTooLarge",
  "serve/unsupportedMediaType",
  "serve/apiKeyRequired",
  "serve/listenFailed",
  "serve/noBundle",
  "serve/untrustedWorkspace",
  // an existing server as the backend of `prism serve` (llama.cpp's llama-server; docs/llama-server.md)
  "serve/backendUnreachable",
  "serve/backendFailed",
  "serve/backendInvalidResponse",
  "serve/backendNoAdapter",
  "serve/llamaServerNotBuilt",
  "serve/llamaServerStartFailed",
  // CLI
  "cli/usage",
  // VS Code commands run without what they act on
  "vscode/noSelection",
  "vscode/noJob",
  // anything we did not anticipate
  "internal/unexpected",
] as const;

/** A stable error code, `area/camelCase`. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error as it crosses a boundary: plain, serialisable data. */
export interface WireError {
  /** The stable code. */
  code: ErrorCode;
  /** A human-readable message that names the file or value concerned and the reason. */
  message: string;
  /** Extra data, for example llama.cpp's log lines for a native failure. */
  detail?: unknown;
}

/** True if `code` is one of {@link ERROR_CODES}. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);
}

/** The error an aborted signal stands for: its reason if that is an Error, else an Error named AbortError. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === "string" ? reason : "The operation was cancelled.");
  err.name = "AbortError";
  return err;
}

/** The one error class of PRISM: a stable {@link ErrorCode}, a message that names what is wrong, and detail. */
export class AppError extends Error {
  override readonly name = "AppError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Rebuilds an error that crossed a boundary as data. */
  static fromWire(wire: WireError): AppError {
    return new AppError(wire.code, wire.message, wire.detail);
  }
}

/**
 * True for a cancellation from any source. Recognised by name, not `instanceof`, so AbortError from Node,
 * DOMException from a webview and `vscode.CancellationError` all count.
 */
export function isCancellation(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const name = (err as { name?: unknown }).name;
  if (name === "AbortError" || name === "CancellationError" || name === "Canceled") return true;
  return err instanceof AppError && err.code === "engine/cancelled";
}

/** Turns anything thrown into a {@link WireError}. Unknown errors become `internal/unexpected`. */
export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) {
    return err.detail === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, detail: err.detail };
  }
  if (isCancellation(err)) return { code: "engine/cancelled", message: "The request was cancelled." };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "internal/unexpected", message };
}
