import * as z from "zod";
import { ERROR_CODES } from "./errors.js";

/** The wire shape of an error; see {@link import("./errors.js").WireError}. */
export const wireErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  detail: z.unknown().optional(),
});

const id = z.number().int().nonnegative();
const method = z.string().min(1).max(100);

/**
 * Every message on a PRISM channel (host↔engine, host↔webview) is one of these four envelopes.
 * A request gets exactly one response with the same `id`; a `cancel` asks the receiver to abort request `id`;
 * notifications carry stream chunks and state snapshots, tagged with `requestId` when they belong to a request.
 */
export const envelopeSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("request"), id, method, params: z.unknown() }),
  z.object({
    kind: z.literal("response"),
    id,
    method,
    result: z.unknown().optional(),
    error: wireErrorSchema.optional(),
  }),
  z.object({ kind: z.literal("notify"), method, params: z.unknown(), requestId: id.optional() }),
  z.object({ kind: z.literal("cancel"), id }),
]);

/** One message on a PRISM channel. */
export type Envelope = z.infer<typeof envelopeSchema>;

/** The params and result schemas of one request method. */
export interface RequestSpec {
  params: z.ZodType;
  result: z.ZodType;
}

/** A request type map: method name → its params and result schemas. */
export type RequestSpecs = Record<string, RequestSpec>;

/** A notification type map: method name → its params schema. */
export type NotificationSpecs = Record<string, z.ZodType>;

/** The params type of request `M` of map `R` (the input side: defaults may be omitted). */
export type ParamsOf<R extends RequestSpecs, M extends keyof R> = z.input<R[M]["params"]>;

/** The result type of request `M` of map `R`. */
export type ResultOf<R extends RequestSpecs, M extends keyof R> = z.output<R[M]["result"]>;

/** The params type of notification `M` of map `N`. */
export type NotificationOf<N extends NotificationSpecs, M extends keyof N> = z.output<N[M]>;

/**
 * The largest message either side accepts, in UTF-16 code units of its JSON form. A bigger message is
 * dropped with `protocol/invalidMessage`, so a runaway payload cannot exhaust the receiver's memory.
 */
export const MAX_MESSAGE_CHARS = 16 * 1024 * 1024;
