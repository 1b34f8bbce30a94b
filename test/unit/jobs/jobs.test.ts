import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { runPool } from "../../../src/core/distill/runPool.js";
import { acquireJobLock } from "../../../src/core/jobs/JobLock.js";
import { JsonlLog } from "../../../src/core/jobs/JsonlLog.js";

const schema = z.object({ id: z.string(), n: z.number() });
const dir = () => mkdtemp(join(tmpdir(), "prism-jobs-"));

describe("JsonlLog", () => {
  it("persists appended items and reads them back", async () => {
    const path = join(await dir(), "x.jsonl");
    const log = await JsonlLog.open(path, schema);
    await log.append({ id: "a", n: 1 });
    await log.append({ id: "b", n: 2 });
    await log.close();
    const again = await JsonlLog.open(path, schema);
    expect(again.items).toEqual([
      { id: "a", n: 1 },
      { id: "b", n: 2 },
    ]);
    await again.close();
  });

  it("cuts off a line torn by a crash mid-write and keeps appending after it", async () => {
    const path = join(await dir(), "x.jsonl");
    await writeFile(path, '{"id":"a","n":1}\n{"id":"b","n"');
    const log = await JsonlLog.open(path, schema);
    expect(log.items).toEqual([{ id: "a", n: 1 }]);
    await log.append({ id: "c", n: 3 });
    await log.close();
    expect(await readFile(path, "utf8")).toBe('{"id":"a","n":1}\n{"id":"c","n":3}\n');
  });

  it("refuses a damaged complete line instead of skipping work", async () => {
    const path = join(await dir(), "x.jsonl");
    await writeFile(path, '{"id":"a","n":1}\nnot json\n{"id":"c","n":3}\n');
    await expect(JsonlLog.open(path, schema)).rejects.toMatchObject({
      code: "job/corrupt",
      message: expect.stringMatching(/line 2/),
    });
    await writeFile(path, '{"id":"a","n":"one"}\n');
    await expect(JsonlLog.open(path, schema)).rejects.toMatchObject({ code: "job/corrupt" });
  });
});

describe("JobLock", () => {
  it("lets one holder in and tells the second who holds it", async () => {
    const d = await dir();
    const lock = await acquireJobLock(d);
    await expect(acquireJobLock(d)).rejects.toMatchObject({
      code: "job/locked",
      message: expect.stringContaining(`process ${process.pid}`),
    });
    await lock.release();
    const again = await acquireJobLock(d);
    await again.release();
  });

  it("takes over a lock left by a dead process", async () => {
    const d = await dir();
    const child = spawn(process.execPath, ["-e", ""]);
    const pid = child.pid!;
    await new Promise((r) => child.on("exit", r));
    await writeFile(
      join(d, "job.lock"),
      JSON.stringify({ pid, host: (await import("node:os")).hostname(), startedAt: "x" }),
    );
    const lock = await acquireJobLock(d);
    await lock.release();
  });
});

describe("runPool", () => {
  it("runs at most `concurrency` at once and every item once", async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await runPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(n);
      running--;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("stops on the first failure, waits for in-flight work, and rethrows it", async () => {
    const finished: number[] = [];
    const err = await runPool([1, 2, 3, 4, 5, 6], 2, async (n, signal) => {
      if (n === 2) throw new Error("boom");
      await new Promise((r) => setTimeout(r, 10));
      if (!signal.aborted) finished.push(n);
      else finished.push(-n);
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe("boom");
    expect(finished.length).toBeLessThan(6);
  });

  it("rejects with the caller's abort reason", async () => {
    const controller = new AbortController();
    const p = runPool(
      [1, 2, 3],
      1,
      async (_n, signal) => {
        controller.abort();
        signal.throwIfAborted();
      },
      controller.signal,
    );
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
  });
});
