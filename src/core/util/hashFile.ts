import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** SHA-256 of a file's content as hex, streamed in 4 MiB chunks (models are large); cancellable. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const stream = createReadStream(path, { highWaterMark: 4 * 1024 * 1024, signal });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
