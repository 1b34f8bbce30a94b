import { AppError, type ErrorCode } from "../protocol/errors.js";
import type { LogLine } from "./LogBuffer.js";

interface Rule {
  pattern: RegExp;
  code: ErrorCode;
  reason: string;
}

/** llama.cpp log lines that name the cause of a model load failure (v0.4.0 wording). */
const MODEL_RULES: Rule[] = [
  {
    pattern: /unknown model architecture/i,
    code: "engine/unsupportedArchitecture",
    reason: "unsupported architecture",
  },
  { pattern: /invalid magic|not a gguf/i, code: "engine/notGguf", reason: "not a GGUF file" },
  {
    pattern: /not within the file bounds|failed to read|unexpected(ly)? end|file is truncated|data is not within/i,
    code: "engine/truncatedGguf",
    reason: "truncated or corrupt GGUF",
  },
];

/** llama.cpp log lines that name the cause of an adapter load failure (docs/engine.md §6). */
const ADAPTER_RULES: Rule[] = [
  { pattern: /arch mismatch/i, code: "engine/adapterArchMismatch", reason: "adapter is for another architecture" },
  { pattern: /expect general\.type to be 'adapter'/i, code: "engine/notAnAdapter", reason: "file is not an adapter" },
  {
    pattern: /does not exist in base model|incorrect shape|maybe wrong base model/i,
    code: "engine/adapterShapeMismatch",
    reason: "adapter does not match the model's shapes",
  },
  {
    pattern: /invalid magic|failed to read|not within the file bounds/i,
    code: "engine/adapterLoadFailed",
    reason: "corrupt adapter file",
  },
];

/** Log lines worth showing: errors and warnings, or anything mentioning failure. */
function relevant(lines: LogLine[]): LogLine[] {
  return lines.filter((l) => l.level === "error" || l.level === "warn" || /fail|error|invalid|mismatch/i.test(l.text));
}

function explain(
  what: "model" | "adapter",
  path: string,
  fallbackCode: ErrorCode,
  rules: Rule[],
  jsMessage: string,
  lines: LogLine[],
): AppError {
  const interesting = relevant(lines);
  for (const rule of rules) {
    const hit = interesting.find((l) => rule.pattern.test(l.text)) ?? lines.find((l) => rule.pattern.test(l.text));
    if (hit) {
      return new AppError(rule.code, `Cannot load ${what} "${path}": ${rule.reason} (llama.cpp: ${hit.text.trim()})`, {
        log: lines.map((l) => l.text),
      });
    }
  }
  const last = interesting.at(-1)?.text.trim();
  const because = last ? `llama.cpp: ${last}` : jsMessage;
  return new AppError(fallbackCode, `Cannot load ${what} "${path}": ${because}`, { log: lines.map((l) => l.text) });
}

/** Maps a failed `loadModel` and the log lines it produced to a coded error that names the file and the reason. */
export function explainModelFailure(path: string, err: unknown, lines: LogLine[]): AppError {
  if (err instanceof AppError) return err;
  return explain("model", path, "engine/modelLoadFailed", MODEL_RULES, String((err as Error)?.message ?? err), lines);
}

/** Maps a failed adapter load (context creation) and its log lines to a coded error. */
export function explainAdapterFailure(path: string, err: unknown, lines: LogLine[]): AppError {
  if (err instanceof AppError) return err;
  return explain(
    "adapter",
    path,
    "engine/adapterLoadFailed",
    ADAPTER_RULES,
    String((err as Error)?.message ?? err),
    lines,
  );
}
