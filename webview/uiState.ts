import * as z from "zod";
import type { RoutingRecord } from "../src/protocol/routingRecord.js";
import { routeModeSchema, type RouteModeWire, type RunSnapshot } from "../src/protocol/webviewProtocol.js";

/** Which history entries the list and the chart show. */
export const decisionFilterSchema = z.enum(["all", "base", "persona"]);
/** Which history entries the list and the chart show. */
export type DecisionFilter = z.infer<typeof decisionFilterSchema>;

/**
 * UI-only state persisted with `vscode.setState` so a hidden-then-shown panel (retainContextWhenHidden is off)
 * comes back as the user left it. Results are never stored here: the host re-sends them in the bootstrap.
 * Every field has a fallback (`catch`) because the stored value may come from an older build of the panel.
 */
export const uiStateSchema = z.object({
  /** The prompt box's text; undefined until the user types, so a bootstrap run's prompt can fill it. */
  draft: z.string().max(200_000).optional().catch(undefined),
  /** Defaults to `compare`. */
  mode: routeModeSchema.catch("compare"),
  /** Defaults to `all`. */
  historyDecision: decisionFilterSchema.catch("all"),
  /** Defaults to the empty string (no text filter). */
  historyText: z.string().max(1000).catch(""),
  /** The page's vertical scroll position. Defaults to 0. */
  scrollY: z.number().nonnegative().catch(0),
});
/** See {@link uiStateSchema}. */
export type UiState = z.infer<typeof uiStateSchema>;

/** The state of a panel opened for the first time. */
export const DEFAULT_UI_STATE: UiState = { mode: "compare", historyDecision: "all", historyText: "", scrollY: 0 };

/** Reads persisted state, keeping every valid field and defaulting the rest; never throws. */
export function parseUiState(raw: unknown): UiState {
  const parsed = uiStateSchema.safeParse(raw && typeof raw === "object" ? raw : {});
  return parsed.success ? parsed.data : { ...DEFAULT_UI_STATE };
}

/** History filtered by decision and text, newest first (the protocol sends it newest last). */
export function filterHistory(
  history: readonly RoutingRecord[],
  decision: DecisionFilter,
  text: string,
): RoutingRecord[] {
  const needle = text.trim().toLowerCase();
  const out: RoutingRecord[] = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const record = history[i]!;
    if (decision !== "all" && record.decision !== decision) continue;
    // Records without a kept prompt can still be found by their hash prefix.
    if (needle && !(record.prompt ?? "").toLowerCase().includes(needle) && !record.promptHash.startsWith(needle)) {
      continue;
    }
    out.push(record);
  }
  return out;
}

/** Counts of `values` in `bins` equal bins over [0, 1]; out-of-range values are clamped into the end bins. */
export function histogram(values: readonly number[], bins = 10): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const value of values) {
    if (!Number.isFinite(value)) continue;
    const index = Math.min(bins - 1, Math.max(0, Math.floor(value * bins)));
    counts[index]!++;
  }
  return counts;
}

/** A column of the comparison. */
export type Side = "base" | "persona";

/** What a column shows for a run: the side's answer, or a muted line saying why there is none. */
export type SideView =
  { kind: "answer"; snapshot: NonNullable<RunSnapshot["sides"]["base"]> } | { kind: "placeholder"; message: string };

/**
 * Whether `mode` generates `side`: compare runs both, base/persona one; hard and soft run the side the gate
 * picks, unknown (undefined) until it has decided.
 */
export function modeGenerates(mode: RouteModeWire, side: Side, served: Side | undefined): boolean | undefined {
  if (mode === "compare") return true;
  if (mode === "base" || mode === "persona") return mode === side;
  return served === undefined ? undefined : served === side;
}

/** The view of one column for `run` (or for no run yet). */
export function sideView(run: RunSnapshot | undefined, side: Side): SideView {
  if (!run) return { kind: "placeholder", message: "No run yet." };
  const snapshot = run.sides[side];
  if (snapshot) return { kind: "answer", snapshot };
  const generates = modeGenerates(run.mode, side, run.served);
  if (generates === false) return { kind: "placeholder", message: `not generated in ${run.mode} mode` };
  if (run.state === "running")
    return { kind: "placeholder", message: generates ? "Waiting…" : "Waiting for the gate…" };
  return { kind: "placeholder", message: `not generated (run ${run.state})` };
}
