import type { RoutingRecord } from "../../protocol/routingRecord.js";

const COLUMNS = [
  "time",
  "decision",
  "served",
  "mode",
  "probability",
  "threshold",
  "featureMs",
  "gateMs",
  "prompt",
  "promptHash",
] as const;

/** The routing history as RFC 4180 CSV (quoted fields, doubled quotes), one row per routed prompt. */
export function historyToCsv(records: readonly RoutingRecord[]): string {
  const cell = (v: unknown): string => {
    const s = v === undefined ? "" : String(v);
    // A leading = + - @ would make spreadsheets evaluate the cell: prefix it so prompts stay text.
    const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const rows = records.map((r) => COLUMNS.map((c) => cell(r[c])).join(","));
  return [COLUMNS.join(","), ...rows].join("\r\n") + "\r\n";
}
