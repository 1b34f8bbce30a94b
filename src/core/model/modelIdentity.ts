import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import * as z from "zod";
import { readGguf } from "../gguf/readGguf.js";
import { hashFile } from "../util/hashFile.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";

/** What binds a bundle (adapter + gate) to one base model. */
export const modelIdentitySchema = z.object({
  architecture: z.string(),
  /** sha256 over every tensor's name, type and dims: equal for the same model whatever its KVs say. */
  tensorShapesDigest: z.string(),
  fileSize: z.number().int().nonnegative(),
  /** sha256 of the whole file. */
  contentHash: z.string(),
});
/** What binds a bundle (adapter + gate) to one base model. */
export type ModelIdentity = z.infer<typeof modelIdentitySchema>;

/** Options of {@link modelIdentity}. */
export interface ModelIdentityOptions {
  /**
   * A JSON file caching content hashes by absolute path + size + mtime: hashing a multi-GB model takes
   * seconds, and a model file does not change in place. Defaults to no cache.
   */
  cacheFile?: string;
  signal?: AbortSignal;
}

const cacheSchema = z.record(
  z.string(),
  z.object({ size: z.number(), mtimeMs: z.number(), identity: modelIdentitySchema }),
);

/**
 * Reads a GGUF's identity: architecture, a digest of its tensor shapes, its size and its content hash (computed
 * once and cached). Errors: `gguf/*` from reading the header.
 */
export async function modelIdentity(path: string, options: ModelIdentityOptions = {}): Promise<ModelIdentity> {
  const absolute = resolve(path);
  const info = await stat(absolute);
  const cache = options.cacheFile ? await readCache(options.cacheFile) : {};
  const hit = cache[absolute];
  if (hit && hit.size === info.size && hit.mtimeMs === info.mtimeMs) return hit.identity;

  const gguf = await readGguf(absolute, { signal: options.signal });
  const shapes = createHash("sha256");
  for (const t of gguf.tensors) shapes.update(`${t.name}\0${t.type}\0${t.dims.join(",")}\n`);
  const arch = gguf.kvs.find((kv) => kv.key === "general.architecture");
  const identity: ModelIdentity = {
    architecture: arch && typeof arch.value.value === "string" ? arch.value.value : "unknown",
    tensorShapesDigest: shapes.digest("hex"),
    fileSize: info.size,
    contentHash: await hashFile(absolute, options.signal),
  };
  if (options.cacheFile) {
    // Re-read right before writing so that concurrent processes lose at most their own entry.
    const fresh = await readCache(options.cacheFile);
    fresh[absolute] = { size: info.size, mtimeMs: info.mtimeMs, identity };
    await mkdir(dirname(options.cacheFile), { recursive: true });
    await writeFileAtomic(options.cacheFile, JSON.stringify(fresh, null, 1));
  }
  return identity;
}

/** The short form shown to users and stored with gates: `sha256:` + the first 16 hex digits of the content hash. */
export function modelFingerprint(identity: ModelIdentity): string {
  return `sha256:${identity.contentHash.slice(0, 16)}`;
}

async function readCache(file: string): Promise<z.infer<typeof cacheSchema>> {
  try {
    const parsed = cacheSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
    return parsed.success ? parsed.data : {};
  } catch {
    return {}; // a missing or damaged cache only costs a re-hash
  }
}
