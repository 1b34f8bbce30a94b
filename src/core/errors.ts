/**
 * The core's error vocabulary. The class and codes live in `protocol/` because every process (host, engine,
 * webview) throws and reads them; this module is the core's single import point for them.
 */
export { AppError, abortError, isCancellation, toWireError } from "../protocol/errors.js";
export type { ErrorCode, WireError } from "../protocol/errors.js";
