// Shared set-up of the PRISM feature suites: the extension's API, a generated tiny model and bundle, settings that
// are restored afterwards, and polling with a deadline.
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as vscode from "vscode";
import { TINY_MODEL, writeSyntheticModel } from "../../src/core/gguf/syntheticModel";
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { makeBundle } from "../../testkit/makeBundle";
import { extension } from "./harness";

/** The extension's API (activating it first: onStartupFinished may not have fired yet). */
export async function prismApi(): Promise<PrismExtensionApi> {
  const api = (await extension().activate()) as PrismExtensionApi | undefined;
  if (!api?.service || !api.jobs) throw new Error("activate() did not return the PRISM API");
  return api;
}

let fixturesDir: string | undefined;
/** Where generated fixtures go: PRISM_TEST_FIXTURES (set by scripts/testVscode.mjs, removed after the run). */
export function fixturesRoot(): string {
  fixturesDir ??= process.env.PRISM_TEST_FIXTURES ?? mkdtempSync(join(tmpdir(), "prism-vscode-fixtures-"));
  mkdirSync(fixturesDir, { recursive: true });
  return fixturesDir;
}

const once = new Map<string, Promise<string>>();
const cached = (key: string, make: () => Promise<string>): Promise<string> => {
  let p = once.get(key);
  if (!p) {
    p = make();
    once.set(key, p);
    p.catch(() => once.delete(key));
  }
  return p;
};

/** The tiny synthetic llama model with a 4096-token context (long persona prompts fit); generated once per run. */
export function tinyModel(): Promise<string> {
  return cached("model", async () => {
    const path = join(fixturesRoot(), "tiny-ctx4096.gguf");
    if (!existsSync(path)) await writeSyntheticModel(path, { ...TINY_MODEL, seed: 4, contextLength: 4096 });
    return path;
  });
}

/** A valid `.prism` bundle (synthetic adapter + gate) for {@link tinyModel}; written once per run. */
export function tinyBundle(): Promise<string> {
  return cached("bundle", async () => {
    const model = await tinyModel();
    const dir = join(fixturesRoot(), "tiny.prism");
    if (!existsSync(join(dir, "manifest.json"))) await makeBundle(dir, model);
    return dir;
  });
}

/**
 * Sets `prism.*` settings globally (keys without the `prism.` prefix) and returns a function that restores the
 * previous global values.
 */
export async function useSettings(values: Record<string, unknown>): Promise<() => Promise<void>> {
  const config = vscode.workspace.getConfiguration("prism");
  const previous = Object.keys(values).map((key) => [key, config.inspect(key)?.globalValue] as const);
  for (const [key, value] of Object.entries(values)) {
    await config.update(key, value, vscode.ConfigurationTarget.Global);
  }
  return async () => {
    const c = vscode.workspace.getConfiguration("prism");
    for (const [key, value] of previous) await c.update(key, value, vscode.ConfigurationTarget.Global);
  };
}

/**
 * The settings every feature suite runs with: the tiny model, one engine thread (2-core CI), short greedy answers.
 * `prism.engine.gpu` stays as it is: the engine process keeps the backend it started with (changing it needs
 * prism.restartEngine, else requests fail with engine/gpuMismatch).
 */
export async function useTinyModel(options: { bundle?: boolean; maxTokens?: number } = {}): Promise<{
  model: string;
  bundle?: string;
  restore: () => Promise<void>;
}> {
  const model = await tinyModel();
  const bundle = options.bundle === false ? undefined : await tinyBundle();
  const restore = await useSettings({
    "model.path": model,
    "bundle.path": bundle ?? "",
    // Always 1: node-llama-cpp is pathologically slow with more threads than free cores.
    "engine.threads": 1,
    "generation.maxTokens": options.maxTokens ?? 24,
    "generation.temperature": 0,
  });
  return { model, bundle, restore };
}

/** Thrown by a {@link waitFor} probe to stop waiting at once (the awaited state can no longer come). */
export class FatalWait extends Error {}

/**
 * Polls `probe` until it returns something other than undefined/false/null, or fails after `timeoutMs` with
 * `what` and the last value seen (`describe`).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  intervalMs = 250,
  describe?: () => string | Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      if (err instanceof FatalWait) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = describe ? ` (${await describe()})` : lastError ? ` (last error: ${String(lastError)})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
