import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Moves the finished directory `tmp` to `dest` (a sibling on the same filesystem). A directory already at `dest` is
 * set aside first and put back if the move fails, so `dest` holds either the old tree or the new one, complete; the
 * old one is deleted only once the new one is in place.
 */
export async function replaceDirectory(tmp: string, dest: string): Promise<void> {
  const old = join(dirname(dest), `.${basename(dest)}.old-${process.pid}`);
  const hadOld = existsSync(dest);
  if (hadOld) await rename(dest, old);
  try {
    await rename(tmp, dest);
  } catch (err) {
    if (hadOld) await rename(old, dest).catch(() => undefined); // put the previous tree back
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}
