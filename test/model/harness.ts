import { resolve } from "node:path";
import { inject } from "vitest";
import { EngineProcess } from "../../src/core/engine/EngineProcess.js";

/** The fixtures written by globalSetup. */
export const fixtures = inject("fixtures");

/** A real engine process from the built dist/engine.mjs. Tests use one thread (docs/engine.md §4). */
export function startEngine(): EngineProcess {
  return new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
}

/** Loads a model with the test settings (CPU, 1 thread). */
export function loadModel(engine: EngineProcess, modelPath: string) {
  return engine.request("engine/loadModel", { modelPath, gpu: "false", threads: 1 });
}

/** Collects the rejection of a promise (fails the test if it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<{ code?: string; message: string; detail?: unknown }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; message: string; detail?: unknown };
  }
  throw new Error("expected a rejection, but the promise resolved");
}

export const user = (content: string) => [{ role: "user" as const, content }];

/** ‖a − b‖ / ‖b‖: how far a hidden state read one way is from the same state read another. */
export function relativeError(a: number[], b: number[]): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  return Math.sqrt(diff / norm);
}
