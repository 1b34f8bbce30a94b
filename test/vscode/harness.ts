// Helpers for the VS Code integration tests: the extension under test, artefact paths, and the test host's
// loopback endpoints (screenshots, page text) that test-host/vscodeShim.mjs exposes to the extension host.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";

export const EXTENSION_ID = "prism-local.prism-vscode";

export function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  return ext;
}

/** test-results/vscode/ (PRISM_TEST_RESULTS when set by scripts/testVscode.mjs). */
export function resultsDir(): string {
  const dir = process.env.PRISM_TEST_RESULTS ?? join(extension().extensionPath, "test-results", "vscode");
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function callHost<T>(envVar: string, params: Record<string, string | number | undefined>): Promise<T> {
  const base = process.env[envVar];
  if (!base) throw new Error(`${envVar} is not set: the tests are not running under test-host/vscodeShim.mjs`);
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
  const res = await fetch(url);
  const body = (await res.json()) as T & { ok: boolean; error?: string };
  if (!res.ok || !body.ok) throw new Error(`${url.pathname} failed (${res.status}): ${body.error ?? "unknown"}`);
  return body;
}

/**
 * Saves a 1280×800 screenshot of the workbench as test-results/vscode/<name>.png, after `selector` (CSS, searched
 * in every frame, webviews included) appears — or after 20 s. Take screenshots while the tests run: after the
 * run the extension host is stopped and webviews render empty.
 */
export async function screenshot(
  name: string,
  selector?: string,
  settleMs = 300,
): Promise<{ path: string; selectorFound: boolean | null }> {
  const path = join(resultsDir(), `${name}.png`);
  return callHost("VSCODE_TEST_SCREENSHOT_URL", { path, selector, settleMs });
}

/** The innerText of the first element matching `selector` in any frame (null when none appears in `timeoutMs`). */
export async function pageText(selector: string, timeoutMs = 20_000): Promise<string | null> {
  const body = await callHost<{ text: string | null }>("VSCODE_TEST_TEXT_URL", { selector, timeoutMs });
  return body.text;
}

/** The innerText of every element matching `selector`, across all frames. */
export async function pageTexts(selector: string, timeoutMs = 20_000): Promise<string[]> {
  const body = await callHost<{ texts: string[] }>("VSCODE_TEST_TEXT_URL", { selector, timeoutMs, all: 1 });
  return body.texts;
}
