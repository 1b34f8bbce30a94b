import { lookup } from "node:dns/promises";
import { stat } from "node:fs/promises";
import { createModelDownloader } from "node-llama-cpp";
import { AppError } from "../protocol/errors.js";

/**
 * Downloads a model the user asked for (the only network access PRISM ever makes). The temp file is kept on
 * cancel, so a second attempt resumes; an existing complete file is not downloaded again.
 */
export async function downloadModel(
  uri: string,
  dir: string,
  signal: AbortSignal,
  onProgress: (downloadedBytes: number, totalBytes: number) => void,
): Promise<{ path: string; bytes: number }> {
  let lastSent = 0;
  await assertReachable(uri);
  try {
    const downloader = await createModelDownloader({
      modelUri: uri,
      dirPath: dir,
      skipExisting: true,
      deleteTempFileOnCancel: false,
      showCliProgress: false,
      onProgress: ({ downloadedSize, totalSize }) => {
        const now = Date.now();
        if (now - lastSent < 200 && downloadedSize < totalSize) return;
        lastSent = now;
        onProgress(downloadedSize, totalSize);
      },
    });
    const path = await downloader.download({ signal });
    return { path, bytes: (await stat(path)).size };
  } catch (err) {
    if (signal.aborted)
      throw new AppError("engine/cancelled", "The download was cancelled; starting it again resumes it.");
    const message = (err as Error)?.message ?? String(err);
    const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|fetch failed|getaddrinfo/i.test(message);
    throw new AppError(
      "engine/downloadFailed",
      offline
        ? `Cannot download ${uri}: the network is not reachable (offline?). Pick a local GGUF file instead.`
        : `Cannot download ${uri}: ${message}`,
    );
  }
}

/**
 * node-llama-cpp's downloader retries with back-off for minutes when the network is down; a DNS lookup of the
 * host answers "offline" in milliseconds, so the user gets the clear error at once.
 */
async function assertReachable(uri: string): Promise<void> {
  let host: string;
  try {
    host = uri.startsWith("hf:")
      ? new URL(process.env.HF_ENDPOINT ?? "https://huggingface.co").hostname
      : new URL(uri).hostname;
  } catch {
    throw new AppError("engine/downloadFailed", `Cannot download "${uri}": not an hf: URI or a URL.`);
  }
  try {
    await lookup(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    throw new AppError(
      "engine/downloadFailed",
      `Cannot download ${uri}: ${host} cannot be reached (${code || "DNS lookup failed"}; offline?). Pick a local GGUF file instead.`,
    );
  }
}
