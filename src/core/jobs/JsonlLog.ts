import { open, readFile, truncate, type FileHandle } from "node:fs/promises";
import type { z } from "zod";
import { AppError } from "../errors.js";
import { writeFailed } from "../util/writeFileAtomic.js";

/**
 * An append-only JSON-lines file of finished work items: each item is written (and fsynced) as soon as it is
 * done, so a job killed at any moment loses at most the item in flight. On open, a torn last line (the
 * process died inside a write) is cut off; any other unreadable line means the file was edited or damaged
 * and is reported as `job/corrupt`, never silently skipped (that would redo or lose work).
 */
export class JsonlLog<T> {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly entries: T[],
  ) {}

  /** Opens (creating if needed) and loads `path`, validating every line with `schema`. */
  static async open<S extends z.ZodType>(path: string, schema: S): Promise<JsonlLog<z.output<S>>> {
    let text = "";
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const entries: Array<z.output<S>> = [];
    const lines = text.split("\n");
    // The element after the last newline is either "" or a line torn by a crash mid-write.
    const complete = lines.slice(0, -1);
    const torn = text.endsWith("\n") || text.length === 0 ? undefined : lines.at(-1);
    complete.forEach((line, i) => {
      if (line.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new AppError(
          "job/corrupt",
          `${path}, line ${i + 1}: not valid JSON; remove the line or the job to start over.`,
        );
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        throw new AppError("job/corrupt", `${path}, line ${i + 1}: ${parsed.error.issues[0]?.message ?? "invalid"}.`);
      }
      entries.push(parsed.data);
    });
    if (torn !== undefined) await truncate(path, Buffer.byteLength(text) - Buffer.byteLength(torn));
    const handle = await open(path, "a").catch((err: unknown) => {
      throw writeFailed(path, err);
    });
    return new JsonlLog(path, handle, entries);
  }

  /** The items read at open plus those appended since, in file order. */
  get items(): readonly T[] {
    return this.entries;
  }

  /** Appends one item durably. */
  async append(item: T): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(item)}\n`);
    const { size } = await this.handle.stat();
    try {
      const { bytesWritten } = await this.handle.write(line);
      // A short write is how a full disk often shows up: no error, just fewer bytes.
      if (bytesWritten !== line.length) throw Object.assign(new Error("short write"), { code: "ENOSPC" });
      await this.handle.datasync();
    } catch (err) {
      // A partial line (disk full mid-write) would be read back as torn; cut it now so the file stays clean.
      await this.handle.truncate(size).catch(() => undefined);
      throw writeFailed(this.path, err);
    }
    this.entries.push(item);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
