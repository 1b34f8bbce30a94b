import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";

/** The records of a JSONL file (none when it does not exist). */
export async function readJsonl<T = Record<string, unknown>>(path: string): Promise<T[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

/**
 * The lines of a JSONL file, sorted: runs whose parallel items finished in another order compare equal, and a
 * resumed run must match an uninterrupted one line for line.
 */
export async function sortedLines(path: string): Promise<string[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, "utf8")).split("\n").filter(Boolean).sort();
}
