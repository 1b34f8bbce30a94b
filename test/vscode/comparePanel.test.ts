// The compare panel in a real workbench: webview → host → engine → webview round trips on a generated model and
// bundle, read back from the rendered DOM of the webview (through the shim's text endpoint), a screenshot, and the
// re-render from the host's snapshot after the panel was hidden (no retainContextWhenHidden).
//
// Not covered here: restoring the panel through its WebviewPanelSerializer after a window reload (the test run
// cannot reload its own window and keep running).
import * as assert from "node:assert/strict";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import type { RouteResult } from "../../src/core/routing/Router";
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { pageText, pageTexts, screenshot } from "./harness";
import { suite, suiteSetup, suiteTeardown, test } from "./mochaTdd";
import { FatalWait, fixturesRoot, prismApi, useTinyModel, waitFor } from "./prismFixtures";

const PROMPT_COMMAND = "Write a haiku about rain.";
const PROMPT_A = "Explain what a lighthouse does.";
const PROMPT_B = "Name three colours of the sea.";

/** The answer area of one side, matched only once the side has finished streaming. */
const doneOutput = (side: "base" | "persona"): string =>
  `section.side[data-testid=side-${side}]:not(.streaming) [data-testid=side-output]`;

interface Rendered {
  base: string;
  persona: string;
  probability: string;
  decision: string;
  servedBadge: string;
  historyCount: string;
  historyItems: string[];
}

/** Reads what the panel shows (across all frames); empty strings for what is not rendered. */
async function rendered(timeoutMs = 1_000): Promise<Rendered> {
  const [base, persona, probability, decision, historyCount] = await Promise.all([
    pageText(doneOutput("base"), timeoutMs),
    pageText(doneOutput("persona"), timeoutMs),
    pageText("[data-testid=gate-probability]", timeoutMs),
    pageText("[data-testid=gate-decision]", timeoutMs),
    pageText("[data-testid=history-count]", timeoutMs),
  ]);
  const served = await pageTexts('section.side[data-served="true"] [data-testid=served-badge]', timeoutMs);
  const historyItems = await pageTexts("[data-testid=history-item]", timeoutMs);
  return {
    base: base?.trim() ?? "",
    persona: persona?.trim() ?? "",
    probability: probability?.trim() ?? "",
    decision: decision?.trim() ?? "",
    servedBadge: served.join("|"),
    historyCount: historyCount?.trim() ?? "",
    historyItems,
  };
}

/** Waits until the panel shows a finished run of `prompt`, with `historyLength` history entries. */
async function waitForRun(api: PrismExtensionApi, prompt: string, historyLength: number): Promise<Rendered> {
  let failure: string | null = null;
  const last = await waitFor(
    `the host to finish routing "${prompt}"`,
    async () => {
      if (api.service.lastRoute?.prompt === prompt) return api.service.lastRoute.result;
      // A failed run ends the wait at once, with the panel's error line.
      failure = await pageText("[data-testid=run-state][data-state=error]", 100);
      if (failure) throw new FatalWait(`the run failed in the panel: ${failure}`);
      return undefined;
    },
    60_000,
    250,
    () => `last routed prompt: ${JSON.stringify(api.service.lastRoute?.prompt)}`,
  );
  let seen: Rendered | undefined;
  return waitFor(
    `the panel to render the run of "${prompt}"`,
    async () => {
      seen = await rendered(500);
      const ok =
        seen.base !== "" &&
        seen.persona !== "" &&
        seen.probability === last.gate.probability.toFixed(2) &&
        seen.decision === last.gate.decision &&
        seen.servedBadge !== "" &&
        seen.historyCount === String(historyLength) &&
        seen.historyItems.length === historyLength;
      return ok && seen;
    },
    20_000,
    300,
    () => JSON.stringify(seen),
  );
}

suite("compare panel (webview round trip)", () => {
  let api: PrismExtensionApi;
  let restore: (() => Promise<void>) | undefined;

  suiteSetup(async function () {
    this.timeout(120_000);
    api = await prismApi();
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    ({ restore } = await useTinyModel({ maxTokens: 24 }));
  });

  suiteTeardown(async () => {
    api?.comparePanel()?.dispose();
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    await restore?.();
  });

  test('prism.openCompare(prompt, "compare", true) has the webview run the prompt', async function () {
    this.timeout(90_000);
    const before = (await api.service.routingLog.recent(500)).length;
    const panel = await vscode.commands.executeCommand<unknown>("prism.openCompare", PROMPT_COMMAND, "compare", true);
    assert.ok(panel, "prism.openCompare returned the panel");
    assert.equal(api.comparePanel(), panel, "the API exposes the open panel");
    // The webview fills its prompt box from compare/didRequestPrompt and, asked to run, sends compare/run itself.
    await waitFor(
      "the webview to run the prompt (prism.openCompare must forward its 3rd argument, run, and a prompt " +
        "requested before a new webview's handshake must reach it)",
      () => api.service.lastRoute?.prompt === PROMPT_COMMAND,
      20_000,
    );
    const shown = await waitForRun(api, PROMPT_COMMAND, before + 1);
    assert.ok(shown.historyItems[0]?.includes(PROMPT_COMMAND), `newest history entry: ${shown.historyItems[0]}`);
  });

  test("a run sent by the webview renders both answers, the gate's probability and the served badge", async function () {
    this.timeout(90_000);
    const panel = api.comparePanel() ?? (await vscode.commands.executeCommand("prism.openCompare"));
    assert.ok(panel, "the compare panel is open");
    const before = (await api.service.routingLog.recent(500)).length;
    // requestPrompt(…, run=true) → compare/didRequestPrompt → the webview's own compare/run request.
    api.comparePanel()!.requestPrompt(PROMPT_A, "compare", true);
    const shown = await waitForRun(api, PROMPT_A, before + 1);

    const last = api.service.lastRoute!.result as RouteResult;
    assert.equal(last.mode, "compare");
    assert.ok(last.outputs.base?.text && last.outputs.persona?.text, "the engine generated both answers");
    const p = Number(shown.probability);
    assert.ok(Number.isFinite(p) && p >= 0 && p <= 1, `gate probability ${shown.probability} is in [0, 1]`);
    assert.ok(["base", "persona"].includes(shown.decision), `decision ${shown.decision}`);
    assert.match(shown.servedBadge, /served by PRISM/);
    // The badge sits on the side the host says it served.
    const servedSide = await pageText(
      `section.side[data-testid=side-${last.served}][data-served="true"] [data-testid=served-badge]`,
      2_000,
    );
    assert.match(servedSide ?? "", /served by PRISM/, `the badge is on the ${last.served} column`);
    assert.ok(shown.historyItems[0]?.includes(PROMPT_A), `newest history entry: ${shown.historyItems[0]}`);
  });

  test("a second prompt adds exactly one history entry; screenshot of the panel", async function () {
    this.timeout(90_000);
    const before = (await api.service.routingLog.recent(500)).length;
    const previous = await rendered(500);
    assert.equal(previous.historyItems.length, before, "the panel lists the whole history");
    api.comparePanel()!.requestPrompt(PROMPT_B, "compare", true);
    const shown = await waitForRun(api, PROMPT_B, before + 1);
    assert.equal(shown.historyItems.length, previous.historyItems.length + 1);
    assert.ok(shown.historyItems[0]?.includes(PROMPT_B), `newest history entry: ${shown.historyItems[0]}`);
    assert.ok(shown.historyItems[1]?.includes(PROMPT_A), `previous entry: ${shown.historyItems[1]}`);

    const shot = await screenshot("compare-panel", doneOutput("persona"), 800);
    assert.equal(shot.selectorFound, true);
    assert.ok(statSync(shot.path).size > 10_000, `${shot.path} is a real PNG`);
  });

  test("hidden and shown again, the panel re-renders the last run from the host's snapshot", async function () {
    this.timeout(60_000);
    const compare = api.comparePanel();
    assert.ok(compare, "the compare panel is open");
    const webviewPanel = compare.panel;
    assert.ok(!webviewPanel.options.retainContextWhenHidden, "retainContextWhenHidden is not set");
    const before = await rendered(500);
    assert.ok(before.base && before.persona, "the panel shows a finished run");

    // Another editor in the panel's group hides it; without retained context its webview document goes away.
    const other = join(fixturesRoot(), "another-editor.txt");
    writeFileSync(other, "another editor\n");
    const doc = await vscode.workspace.openTextDocument(other);
    await vscode.window.showTextDocument(doc, { viewColumn: webviewPanel.viewColumn, preview: false });
    await waitFor("the panel to be hidden", () => !webviewPanel.visible, 10_000);
    await waitFor(
      "the hidden panel's webview document to be discarded",
      async () => (await pageTexts("[data-testid=side-output]", 300)).every((t) => t.trim() === ""),
      10_000,
    );

    const routed = api.service.lastRoute;
    await vscode.commands.executeCommand("prism.openCompare");
    await waitFor("the panel to be visible again", () => webviewPanel.visible, 10_000);
    assert.equal(api.comparePanel(), compare, "the same panel was re-shown, not a new one");
    let after: Rendered | undefined;
    await waitFor(
      "the re-shown panel to render the previous run",
      async () => {
        after = await rendered(500);
        return after.base === before.base && after.persona === before.persona;
      },
      20_000,
      300,
      () => JSON.stringify({ before, after }),
    );
    assert.equal(after!.probability, before.probability);
    assert.equal(after!.decision, before.decision);
    assert.equal(after!.servedBadge, before.servedBadge);
    assert.deepEqual(after!.historyItems, before.historyItems);
    assert.equal(api.service.lastRoute, routed, "re-showing did not run anything again");
  });

  test("prism.compareSelection on a closed panel opens it and runs the editor's selection", async function () {
    this.timeout(60_000);
    api.comparePanel()?.dispose();
    assert.equal(api.comparePanel(), undefined, "the panel is closed");
    const file = join(fixturesRoot(), "selection.txt");
    const selected = "Summarise how tides work.";
    writeFileSync(file, `Some text before.\n${selected}\nSome text after.\n`);
    const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
    editor.selection = new vscode.Selection(1, 0, 1, selected.length);
    const before = (await api.service.routingLog.recent(500)).length;
    await vscode.commands.executeCommand("prism.compareSelection");
    assert.ok(api.comparePanel(), "the command opened the panel");
    // The fresh webview gets the prompt after its handshake and runs it (compare/didRequestPrompt → compare/run).
    await waitFor(
      "the new panel's webview to run the selection (a prompt requested before the webview's handshake)",
      () => api.service.lastRoute?.prompt === selected,
      20_000,
    );
    const shown = await waitForRun(api, selected, before + 1);
    assert.ok(shown.historyItems[0]?.includes(selected), `newest history entry: ${shown.historyItems[0]}`);
  });
});
