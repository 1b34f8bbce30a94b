import { mkdtemp, readFile, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tryPidLock } from "../../../src/core/jobs/pidLock.mjs";

const lockPath = async () => join(await mkdtemp(join(tmpdir(), "prism-pidlock-")), "x.lock");

// The lock of jobs (JobLock, tested with the job directory in jobs.test.ts) and of trainer builds
// (scripts/buildTrainer.mjs): what the two policies rely on.
describe("tryPidLock", () => {
  it("records the holder and reports it to the next process; release frees it", async () => {
    const path = await lockPath();
    const first = await tryPidLock(path);
    expect(first.acquired).toBe(true);
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(await tryPidLock(path)).toEqual({
      acquired: false,
      holder: expect.objectContaining({ pid: process.pid, host: hostname() }),
    });
    if (first.acquired) await first.release();
    const again = await tryPidLock(path);
    expect(again.acquired).toBe(true);
    if (again.acquired) await again.release();
  });

  it("leaves another host's lock alone: its process cannot be checked from here", async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: 2 ** 22 + 1, host: `not-${hostname()}`, startedAt: "x" }));
    expect(await tryPidLock(path)).toMatchObject({ acquired: false, holder: { host: `not-${hostname()}` } });
  });

  it("takes over an unreadable lock only once it is older than staleUnreadableMs", async () => {
    const path = await lockPath();
    await writeFile(path, ""); // created, never written: its owner died in between (or is writing it right now)
    expect(await tryPidLock(path, { staleUnreadableMs: 30_000 })).toEqual({ acquired: false, holder: undefined });
    expect(await tryPidLock(path)).toEqual({ acquired: false, holder: undefined }); // default: never
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const taken = await tryPidLock(path, { staleUnreadableMs: 30_000 });
    expect(taken.acquired).toBe(true);
    if (taken.acquired) await taken.release();
  });
});
