/**
 * Runs `worker` over `items` with at most `concurrency` in flight, in item order. The first failure aborts
 * the rest (through the signal passed to workers) and is rethrown once all in-flight work has settled, so no
 * item is left half-written.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, signal: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && !controller.signal.aborted && next < items.length) {
      const item = items[next++]!;
      try {
        await worker(item, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (failure) throw failure.error;
  signal?.throwIfAborted();
}
