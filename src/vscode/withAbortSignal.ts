import type * as vscode from "vscode";

/**
 * Runs `work` with an AbortSignal that follows a VS Code CancellationToken (the core takes AbortSignals,
 * CONTRIBUTING.md §6). The token listener is disposed when `work` settles: tokens can outlive the operation (a chat
 * session's, a progress notification's), and each leftover listener would keep its AbortController alive.
 */
export async function withAbortSignal<T>(
  token: vscode.CancellationToken,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const listener = token.onCancellationRequested(() => controller.abort());
  if (token.isCancellationRequested) controller.abort();
  try {
    return await work(controller.signal);
  } finally {
    listener.dispose();
  }
}
