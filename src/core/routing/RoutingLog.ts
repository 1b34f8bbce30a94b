import { createHash } from "node:crypto";
import { appendFile, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { routingRecordSchema, type RoutingRecord } from "../../protocol/routingRecord.js";

export { routingRecordSchema, type RoutingRecord };

/** Options of {@link RoutingLog}. */
export interface RoutingLogOptions {
  /** Keep prompt text (`full`) or only its hash (`hash`). Defaults to `full`. */
  prompts?: "full" | "hash";
  /** Rotate when the file exceeds this many bytes. Defaults to 5 MiB. */
  maxBytes?: number;
  /** Rotated files kept (`log.1` … `log.N`). Defaults to 3. */
  keep?: number;
}

/** The routing history: a JSONL file, appended per routed prompt, rotated by size. */
export class RoutingLog {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly options: RoutingLogOptions = {},
  ) {}

  /** Hash of a prompt as stored in records. */
  static hash(prompt: string): string {
    return createHash("sha256").update(prompt).digest("hex");
  }

  /** Appends a record (prompt dropped per settings). Appends are serialised so rotation never races a write. */
  append(record: RoutingRecord): Promise<void> {
    const stored = this.options.prompts === "hash" ? { ...record, prompt: undefined } : record;
    const next = this.queue.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await this.rotateIfNeeded();
      await appendFile(this.path, `${JSON.stringify(stored)}\n`);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The newest `limit` records, newest last, from the current and rotated files; damaged lines are skipped. */
  async recent(limit = 200): Promise<RoutingRecord[]> {
    const keep = this.options.keep ?? 3;
    const out: RoutingRecord[] = [];
    for (let i = 0; i <= keep && out.length < limit; i++) {
      const file = i === 0 ? this.path : `${this.path}.${i}`;
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch {
        continue;
      }
      const records: RoutingRecord[] = [];
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        try {
          const parsed = routingRecordSchema.safeParse(JSON.parse(line));
          if (parsed.success) records.push(parsed.data);
        } catch {
          // A torn last line from a crash: the rest of the history is still good.
        }
      }
      out.unshift(...records.slice(-(limit - out.length)));
    }
    return out.slice(-limit);
  }

  private async rotateIfNeeded(): Promise<void> {
    const size = await stat(this.path).then(
      (s) => s.size,
      () => 0,
    );
    if (size < (this.options.maxBytes ?? 5 * 1024 * 1024)) return;
    const keep = this.options.keep ?? 3;
    await rm(`${this.path}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--)
      await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => undefined);
    await rename(this.path, `${this.path}.1`);
  }
}
