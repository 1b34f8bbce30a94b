// @ts-check
// Plain JavaScript with no dependencies so that scripts/buildTrainer.mjs (run by plain `node`, before any build)
// and the job lock of the core (JobLock.ts) share one implementation of the lock file.
import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import process from "node:process";

/**
 * Who holds a lock: written into the lock file as JSON.
 * @typedef {{ pid: number, host: string, startedAt: string }} PidLockHolder
 */

/**
 * The outcome of one {@link tryPidLock}: `acquired` with `release()` (removes the file), or the current holder
 * (`undefined` when the file exists but cannot be read: its owner is still writing it, or it is damaged).
 * @typedef {{ acquired: true, release: () => Promise<void> } | { acquired: false, holder: PidLockHolder | undefined }} PidLockAttempt
 */

/**
 * Options of {@link tryPidLock}.
 * @typedef {object} PidLockOptions
 * @property {number} [staleUnreadableMs] An unreadable lock file last modified longer ago than this is taken over
 *   (an owner killed between creating and writing it). Defaults to never.
 */

/**
 * Tries once to take the lock file `path`, created with O_EXCL so that exactly one process wins. A lock whose
 * holder is a process that no longer exists on this host is taken over, so a crash never blocks the next run;
 * waiting and giving up are the caller's policy.
 * @param {string} path
 * @param {PidLockOptions} [options]
 * @returns {Promise<PidLockAttempt>}
 */
export async function tryPidLock(path, options = {}) {
  const staleUnreadableMs = options.staleUnreadableMs ?? Infinity;
  /** @type {PidLockHolder} */
  const mine = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(JSON.stringify(mine));
      } catch (err) {
        await handle.close();
        await rm(path, { force: true }); // an empty lock (full disk) would look like a live owner's
        throw err;
      }
      await handle.close();
      return { acquired: true, release: () => rm(path, { force: true }) };
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
    }
    const holder = await readPidLock(path);
    const stale = holder
      ? holder.host === mine.host && !isProcessAlive(holder.pid)
      : await modifiedLongerAgo(path, staleUnreadableMs);
    // Two takeovers in a row mean another process keeps re-creating it: report it as held.
    if (!stale || attempt >= 2) return { acquired: false, holder };
    await rm(path, { force: true, recursive: true });
  }
}

/**
 * The holder recorded in the lock file `path`, or `undefined` when it is missing, partly written or not a lock.
 * @param {string} path
 * @returns {Promise<PidLockHolder | undefined>}
 */
export async function readPidLock(path) {
  try {
    const value = JSON.parse(await readFile(path, "utf8"));
    return typeof value?.pid === "number" && typeof value.host === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether process `pid` exists on this host (signal 0 only checks; EPERM means it exists under another user).
 * @param {number} pid
 * @returns {boolean}
 */
export function isProcessAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === "EPERM";
  }
}

/**
 * @param {string} path
 * @param {number} ms
 * @returns {Promise<boolean>}
 */
async function modifiedLongerAgo(path, ms) {
  if (ms === Infinity) return false;
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch {
    return true; // gone meanwhile: nothing to wait for
  }
}
