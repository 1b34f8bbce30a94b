/** The item-by-item stage skeleton: resume from the log, follow-up items (stage 3's second pass), progress totals. */
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { JobProgress, type JobSnapshot } from "../../../src/core/distill/JobProgress.js";
import { runStageItems } from "../../../src/core/distill/runStageItems.js";
import { readJsonl } from "../../../testkit/readJsonl.js";
import { scratchDirs } from "../../../testkit/scratchDirs.js";

const scratch = scratchDirs("prism-stage-items-");
const schema = z.object({ id: z.number(), step: z.number(), value: z.number() });
type Item = { id: number; step: 1 | 2 };

/** Items 0..n-1; an item's first step yields `id`, and even ids need a second step. */
async function run(dir: string, n: number, o: { stopAfter?: number } = {}) {
  const snapshots: JobSnapshot[] = [];
  const worked: string[] = [];
  const controller = new AbortController();
  const progress = new JobProgress(
    "t",
    (s) => snapshots.push(s),
    () => undefined,
    0,
  );
  const records = await runStageItems(
    { jobDir: dir, progress, signal: controller.signal },
    {
      stage: 3,
      message: "working",
      log: "items.jsonl",
      schema,
      items: Array.from({ length: n }, (_, id): Item => ({ id, step: 1 })),
      itemKey: (item) => `${item.id}:${item.step}`,
      recordKey: (r) => `${r.id}:${r.step}`,
      followUp: (r, item) => (item.step === 1 && r.value % 2 === 0 ? { id: item.id, step: 2 as const } : undefined),
      concurrency: 3,
      work: async (item, signal) => {
        await new Promise((r) => setTimeout(r, 1));
        signal.throwIfAborted();
        worked.push(`${item.id}:${item.step}`);
        if (o.stopAfter !== undefined && worked.length >= o.stopAfter) controller.abort();
        return { id: item.id, step: item.step, value: item.id };
      },
    },
  ).catch((e: unknown) => e);
  return { records, snapshots, worked };
}

describe("runStageItems", () => {
  it("runs an item's follow-up right after it, and the total shrinks by each follow-up not needed", async () => {
    const dir = await scratch();
    const { records, snapshots, worked } = await run(dir, 6);
    expect(new Set(worked)).toEqual(new Set(["0:1", "0:2", "1:1", "2:1", "2:2", "3:1", "4:1", "4:2", "5:1"]));
    for (const id of [0, 2, 4]) expect(worked.indexOf(`${id}:2`)).toBeGreaterThan(worked.indexOf(`${id}:1`));
    expect(records).toHaveLength(9);
    expect(snapshots[0]).toMatchObject({ done: 0, total: 12 });
    expect(snapshots.at(-1)).toMatchObject({ done: 9, total: 9 });
  });

  it("resumes mid-chain: a finished item whose follow-up is missing runs only the follow-up", async () => {
    const dir = await scratch();
    const first = await run(dir, 6, { stopAfter: 4 });
    expect(first.records).toMatchObject({ name: "AbortError" });
    const kept = await readJsonl<{ id: number; step: number }>(join(dir, "items.jsonl"));
    // Also a step-2 record of an item that needs none (a log from before follow-ups were skipped): ignored.
    await appendFile(join(dir, "items.jsonl"), `${JSON.stringify({ id: 5, step: 2, value: 5 })}\n`);
    const keys = new Set(kept.map((r) => `${r.id}:${r.step}`));
    expect(kept.some((r) => r.step === 1 && r.id % 2 === 0 && !keys.has(`${r.id}:2`))).toBe(true);

    const second = await run(dir, 6);
    const all = ["0:1", "0:2", "1:1", "2:1", "2:2", "3:1", "4:1", "4:2", "5:1"];
    expect(second.worked.sort()).toEqual(all.filter((k) => !keys.has(k)).sort());
    const counted = all.filter((k) => keys.has(k)).length;
    expect(second.snapshots[0]!.done).toBe(counted);
    expect(second.snapshots.at(-1)).toMatchObject({ done: 9, total: 9 });
  });
});
