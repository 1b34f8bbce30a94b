import { describe, expect, it } from "vitest";
import type * as vscode from "vscode";
import { withAbortSignal } from "../../../src/vscode/withAbortSignal.js";

/** A CancellationToken like VS Code's: listeners registered until disposed, fired once on cancel. */
function fakeToken(cancelled = false) {
  const listeners = new Set<() => void>();
  const token = {
    get isCancellationRequested() {
      return cancelled;
    },
    onCancellationRequested: (listener: () => void) => {
      listeners.add(listener);
      return { dispose: () => listeners.delete(listener) };
    },
  } as unknown as vscode.CancellationToken;
  const cancel = (): void => {
    cancelled = true;
    for (const listener of [...listeners]) listener();
  };
  return { token, listeners, cancel };
}

describe("withAbortSignal", () => {
  it("aborts the signal when the token is cancelled during the work, then drops its listener", async () => {
    const t = fakeToken();
    let seen: AbortSignal | undefined;
    await withAbortSignal(t.token, async (signal) => {
      seen = signal;
      expect(signal.aborted).toBe(false);
      expect(t.listeners.size).toBe(1);
      t.cancel();
      expect(signal.aborted).toBe(true);
    });
    expect(seen?.aborted).toBe(true);
    expect(t.listeners.size).toBe(0);
  });

  it("drops its listener when the work finishes or fails without a cancellation", async () => {
    const t = fakeToken();
    await expect(withAbortSignal(t.token, async () => 42)).resolves.toBe(42);
    expect(t.listeners.size).toBe(0);
    await expect(
      withAbortSignal(t.token, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(t.listeners.size).toBe(0);
  });

  it("passes an aborted signal when the token was cancelled before the work started", async () => {
    const t = fakeToken(true);
    const aborted = await withAbortSignal(t.token, async (signal) => signal.aborted);
    expect(aborted).toBe(true);
    expect(t.listeners.size).toBe(0);
  });
});
