import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../util/writeFileAtomic.js";

/**
 * A stage's finished result (`gate-result.json`, `training.json`), or undefined when the stage still has work to
 * do: the result file and every file it stands for (`requires`: the gate, the adapter) must exist. Result files are
 * written last and atomically ({@link writeStageResult}), so one that exists is complete.
 */
export async function readStageResult<T>(path: string, requires: readonly string[] = []): Promise<T | undefined> {
  if (!existsSync(path) || !requires.every((p) => existsSync(p))) return undefined;
  return JSON.parse(await readFile(path, "utf8")) as T;
}

/** Writes a stage's result file atomically, after everything it stands for: its existence means "stage done". */
export async function writeStageResult(path: string, result: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(result, null, 2));
}
