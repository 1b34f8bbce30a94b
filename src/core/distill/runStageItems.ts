import { join } from "node:path";
import type { z } from "zod";
import { JsonlLog } from "../jobs/JsonlLog.js";
import type { StageContext } from "./DistillStage.js";
import { runPool } from "./runPool.js";

/** Options of {@link runStageItems}. */
export interface StageItemsOptions<Item, Schema extends z.ZodType> {
  /** The stage number for progress (1–5). */
  stage: number;
  /** The progress message while the items run, e.g. `answering`. */
  message: string;
  /** The stage's log in the job directory, e.g. `answers.jsonl`: one record per finished item. */
  log: string;
  /** Every line of the log is validated with it (a damaged log is `job/corrupt`, never skipped). */
  schema: Schema;
  /** All of the stage's work, finished or not, in the order it should run. */
  items: readonly Item[];
  /** An item's key; an item is finished when a record with the same {@link recordKey} is in the log. */
  itemKey(item: Item): string;
  recordKey(record: z.output<Schema>): string;
  /**
   * The item that must run after `item` now that its record is known, or none (stage 3's second pass, needed only
   * where the first chose the persona). It runs in the same lane right after its item; one level only (a follow-up
   * has no follow-up). Until an item's record is known the stage's total counts it as followed, so the total only
   * ever shrinks.
   */
  followUp?(record: z.output<Schema>, item: Item): Item | undefined;
  /** Items in flight at once (the generator's or judge's parallel sequences). */
  concurrency: number;
  /**
   * Does one item and returns its record. The signal aborts when the job is cancelled or another item failed; a
   * record is appended only when `work` resolves, so an interrupted item is simply done again on resume.
   */
  work(item: Item, signal: AbortSignal): Promise<z.output<Schema>>;
}

/**
 * The skeleton every item-by-item stage shares (docs/architecture.md §8): open the stage's JSONL log, skip the
 * items it already holds (a resumed job repeats nothing), run the others `concurrency` at a time, append each
 * record durably the moment its item finishes, and report progress as `done/total` of this stage. Returns every
 * record of the log, in file order; the first failure (or the job's cancellation) is rethrown once the items in
 * flight have settled.
 */
export async function runStageItems<Item, Schema extends z.ZodType>(
  ctx: Pick<StageContext, "jobDir" | "progress" | "signal">,
  o: StageItemsOptions<Item, Schema>,
): Promise<ReadonlyArray<z.output<Schema>>> {
  const log = await JsonlLog.open(join(ctx.jobDir, o.log), o.schema);
  try {
    const records = new Map(log.items.map((r) => [o.recordKey(r), r] as const));
    const recordOf = (item: Item): z.output<Schema> | undefined => records.get(o.itemKey(item));
    /** The item's follow-up; `null` while the item's record is unknown (it may have one). */
    const followUpOf = (item: Item): Item | undefined | null => {
      if (!o.followUp) return undefined;
      const record = recordOf(item);
      return record === undefined ? null : o.followUp(record, item);
    };
    let total = 0;
    let finished = 0;
    const pending: Item[] = [];
    for (const item of o.items) {
      const next = followUpOf(item);
      const done = Number(recordOf(item) !== undefined) + Number(next != null && recordOf(next) !== undefined);
      total += next === undefined ? 1 : 2;
      finished += done;
      if (done < (next === undefined ? 1 : 2)) pending.push(item);
    }
    ctx.progress.stage(o.stage, finished, total, o.message);
    const run = async (item: Item, signal: AbortSignal): Promise<void> => {
      const record = await o.work(item, signal);
      await log.append(record);
      records.set(o.itemKey(item), record);
      ++finished;
    };
    await runPool(
      pending,
      o.concurrency,
      async (item, signal) => {
        if (recordOf(item) === undefined) {
          await run(item, signal);
          if (o.followUp && followUpOf(item) === undefined) total--;
          ctx.progress.update(finished, undefined, total);
        }
        const next = followUpOf(item);
        if (next && recordOf(next) === undefined) {
          await run(next, signal);
          ctx.progress.update(finished, undefined, total);
        }
      },
      ctx.signal,
    );
    return log.items;
  } finally {
    await log.close();
  }
}
