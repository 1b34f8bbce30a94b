import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AppError } from "../errors.js";
import { tryPidLock } from "./pidLock.mjs";

/** A held job lock; release it when the job ends (also on failure). */
export interface JobLock {
  release(): Promise<void>;
}

/**
 * Makes sure only one process runs a job directory at a time (two windows, two CLI runs). The lock is a file
 * created with O_EXCL (`pidLock.mjs`, shared with the trainer build); a lock left by a process that no longer exists
 * on this host is taken over, so a crash never blocks a resume. Errors: `job/locked` naming the holder.
 */
export async function acquireJobLock(dir: string): Promise<JobLock> {
  const path = join(dir, "job.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    const lock = await tryPidLock(path);
    if (lock.acquired) return { release: lock.release };
    const { holder } = lock;
    if (holder) {
      throw new AppError(
        "job/locked",
        `The job in ${dir} is already running (process ${holder.pid} on ${holder.host} since ${holder.startedAt}). Wait for it or cancel it first.`,
      );
    }
    // Created but not yet written by its owner, or damaged: give a starting owner a moment.
    if (attempt < 2) await sleep(100);
  }
  throw new AppError(
    "job/locked",
    `The job in ${dir} is already running (another process). Wait for it or cancel it first, or delete ${path} if no PRISM process uses it.`,
  );
}
