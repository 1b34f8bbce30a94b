import { hostname } from "node:os";
import { join } from "node:path";
import { open, readFile, rm } from "node:fs/promises";
import { AppError } from "../errors.js";

/** A held job lock; release it when the job ends (also on failure). */
export interface JobLock {
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

/**
 * Makes sure only one process runs a job directory at a time (two windows, two CLI runs). The lock is a file
 * created with O_EXCL; a lock left by a process that no longer exists on this host is taken over, so a crash
 * never blocks a resume. Errors: `job/locked` naming the holder.
 */
export async function acquireJobLock(dir: string): Promise<JobLock> {
  const path = join(dir, "job.lock");
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(JSON.stringify(mine));
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = await readLock(path);
    if (holder && holder.host === mine.host && !isAlive(holder.pid)) {
      await rm(path, { force: true });
      continue;
    }
    if (!holder) {
      // Created but not yet written by its owner, or damaged: give a starting owner a moment.
      await new Promise((r) => setTimeout(r, 100));
      if (attempt < 2) continue;
    }
    const who = holder ? `process ${holder.pid} on ${holder.host} since ${holder.startedAt}` : "another process";
    throw new AppError("job/locked", `The job in ${dir} is already running (${who}). Wait for it or cancel it first.`);
  }
  throw new AppError("job/locked", `The job in ${dir} is locked (${path}).`);
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as LockInfo;
    return typeof value.pid === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
