import * as z from "zod";
import type { NotificationSpecs, RequestSpecs } from "./envelope.js";
import { routingRecordSchema } from "./routingRecord.js";

/**
 * Host ↔ compare-panel messages. Bump on every breaking change: the host answers a `webview/ready` of another
 * version with `protocol/versionMismatch` and the panel asks for a reload.
 */
export const WEBVIEW_PROTOCOL_VERSION = 1;

/** The routing modes the panel offers (see core `Router`). */
export const routeModeSchema = z.enum(["hard", "soft", "base", "persona", "compare"]);
export type RouteModeWire = z.infer<typeof routeModeSchema>;

const sideSchema = z.enum(["base", "persona"]);

/** The gate's decision, as shown on the gate card. */
export const gateDecisionSchema = z.object({
  probability: z.number().min(0).max(1),
  threshold: z.number().min(0).max(1),
  decision: sideSchema,
  featureMs: z.number().nonnegative(),
  gateMs: z.number().nonnegative(),
});
export type GateDecisionWire = z.infer<typeof gateDecisionSchema>;

/** One side's answer so far. `text` is raw model output: the webview renders it as sanitised Markdown. */
export const sideSnapshotSchema = z.object({
  text: z.string().max(1_000_000),
  done: z.boolean(),
  /** Adapter scale this side runs with (0 = base). */
  scale: z.number(),
  timeToFirstTokenMs: z.number().nonnegative().optional(),
  tokensPerSecond: z.number().nonnegative().optional(),
  generatedTokens: z.number().int().nonnegative().optional(),
});
export type SideSnapshot = z.infer<typeof sideSnapshotSchema>;

/** The current (or last) comparison run: a complete snapshot, so a re-shown panel is always consistent. */
export const runSnapshotSchema = z.object({
  runId: z.number().int().nonnegative(),
  prompt: z.string().max(200_000),
  mode: routeModeSchema,
  state: z.enum(["running", "done", "cancelled", "error"]),
  gate: gateDecisionSchema.optional(),
  /** The side PRISM serves (known once the gate has decided). */
  served: sideSchema.optional(),
  sides: z.object({ base: sideSnapshotSchema.optional(), persona: sideSnapshotSchema.optional() }),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type RunSnapshot = z.infer<typeof runSnapshotSchema>;

/** What the panel shows besides runs: engine, model and bundle state. */
export const panelStatusSchema = z.object({
  engine: z.enum(["idle", "starting", "ready", "crashed", "disposed"]),
  /** The configured model's file name, or none. */
  model: z.string().optional(),
  /** The active bundle, or none (then only `base` mode works). */
  bundle: z
    .object({ name: z.string(), threshold: z.number(), featureSpec: z.string(), personas: z.array(z.string()) })
    .optional(),
  /** Why runs cannot start right now, e.g. "No model configured". */
  blocked: z.string().optional(),
});
export type PanelStatus = z.infer<typeof panelStatusSchema>;

/** Everything the panel needs to render from scratch; sent in answer to `webview/ready`. */
export const panelBootstrapSchema = z.object({
  protocolVersion: z.number().int(),
  status: panelStatusSchema,
  run: runSnapshotSchema.optional(),
  history: z.array(routingRecordSchema).max(1000),
});
export type PanelBootstrap = z.infer<typeof panelBootstrapSchema>;

const prompt = z.string().trim().min(1, "the prompt is empty").max(200_000);

/** Webview → host requests; handled by `ComparePanel` in the extension host. */
export const webviewRequests = {
  /** Handshake: the host answers with the bootstrap snapshot and posts nothing before it. */
  "webview/ready": {
    params: z.object({ protocolVersion: z.number().int() }),
    result: panelBootstrapSchema,
  },
  /** Starts a run (stopping any running one); progress arrives as `compare/didUpdate`. Resolves when it ends. */
  "compare/run": {
    params: z.object({ prompt, mode: routeModeSchema }),
    result: runSnapshotSchema,
  },
  /** Stops the running run, if any. */
  "compare/stop": { params: z.object({}), result: z.object({ stopped: z.boolean() }) },
  /** The active editor's selection (empty string when none). */
  "editor/getSelection": { params: z.object({}), result: z.object({ text: z.string().max(200_000) }) },
  /** Saves the routing history with a save dialog. */
  "history/export": {
    params: z.object({ format: z.enum(["jsonl", "csv"]) }),
    result: z.object({ saved: z.boolean(), path: z.string().optional() }),
  },
} satisfies RequestSpecs;
export type WebviewRequests = typeof webviewRequests;

/** Host → webview notifications. */
export const hostNotifications = {
  /** The run changed (throttled while streaming). */
  "compare/didUpdate": z.object({ run: runSnapshotSchema }),
  /** Engine, model or bundle changed. */
  "panel/didChangeStatus": z.object({ status: panelStatusSchema }),
  /** The routing history changed (complete list, newest last). */
  "history/didChange": z.object({ history: z.array(routingRecordSchema).max(1000) }),
  /** Fill the prompt box (e.g. "Compare on Selection") and optionally run. */
  "compare/didRequestPrompt": z.object({
    prompt: z.string().max(200_000),
    mode: routeModeSchema.optional(),
    run: z.boolean(),
  }),
} satisfies NotificationSpecs;
export type HostNotifications = typeof hostNotifications;
