import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/**
 * Where scratch directories go: memory (`/dev/shm`) where the system has it, since job logs fsync every finished
 * item and on a shared disk that costs more than the fake work itself; the system's temp directory elsewhere.
 */
const ROOT = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

/**
 * For one test file: a function making fresh scratch directories (`<prefix>XXXXXX`), all removed when the file's
 * tests are done, so nothing accumulates in memory between runs. Call it at the top level of the test file.
 */
export function scratchDirs(prefix: string): () => Promise<string> {
  const made: string[] = [];
  afterAll(async () => {
    await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(join(ROOT, prefix));
    made.push(dir);
    return dir;
  };
}
