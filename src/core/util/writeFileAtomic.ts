import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AppError } from "../errors.js";

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one, never a part:
 * the bytes go to a temp file in the same directory (same filesystem, so the rename is atomic), are
 * fsynced, and the temp file is renamed over `path`. On failure (read-only or full disk, …) the temp file is
 * removed, an existing file at `path` is left untouched, and the error is `io/writeFailed` naming the path.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeFailed(path, err);
  }
}

/** A coded error for a failed write, keeping the OS reason (ENOSPC, EROFS, EACCES, …). */
export function writeFailed(path: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as NodeJS.ErrnoException;
  const why =
    e.code === "ENOSPC"
      ? "the disk is full"
      : e.code === "EROFS"
        ? "the file system is read-only"
        : e.code === "EACCES" || e.code === "EPERM"
          ? "permission denied"
          : e.message;
  return new AppError("io/writeFailed", `Cannot write ${path}: ${why}.`, { errno: e.code }, { cause: err });
}
