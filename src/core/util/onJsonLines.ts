import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

/**
 * Calls `onValue` with every line of `input` that parses as JSON: the native tools (prism-trainer) write one JSON
 * event per stdout line, and anything else there is noise from a library, skipped.
 */
export function onJsonLines<T>(input: Readable, onValue: (value: T) => void): void {
  createInterface({ input }).on("line", (line) => {
    let value: T;
    try {
      value = JSON.parse(line) as T;
    } catch {
      return;
    }
    onValue(value);
  });
}
