import { randomBytes } from "node:crypto";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { writeFailed } from "./writeFileAtomic.js";

/**
 * `writeFileAtomic` for data produced piece by piece (a training file of hundreds of MB): pieces are appended to
 * a temp file beside `path`, and `commit` fsyncs it and renames it over `path`, so readers see the old file or the
 * complete new one. `abort` (or a failed write) removes the temp file and leaves `path` untouched. Errors:
 * `io/writeFailed` naming the path.
 */
export class AtomicWriter {
  private readonly tmp: string;
  private handle?: FileHandle;

  constructor(readonly path: string) {
    this.tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  }

  async write(data: string | Uint8Array): Promise<void> {
    try {
      this.handle ??= await open(this.tmp, "wx");
      // writeFile on a handle appends at its position and loops until every byte is written.
      await this.handle.writeFile(data);
    } catch (err) {
      await this.abort();
      throw writeFailed(this.path, err);
    }
  }

  async commit(): Promise<void> {
    try {
      this.handle ??= await open(this.tmp, "wx");
      await this.handle.sync();
      await this.handle.close();
      this.handle = undefined;
      await rename(this.tmp, this.path);
    } catch (err) {
      await this.abort();
      throw writeFailed(this.path, err);
    }
  }

  async abort(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await rm(this.tmp, { force: true }).catch(() => undefined);
  }
}
