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
import { doneOutput, rendered, waitForRun, type Rendered } from "./compareView";
import { pageText, pageTexts, screenshot } from "./harness";
import { suite, suiteSetup, suiteTeardown, test } from "./mochaTdd";
import { fixturesRoot, prismApi, useTinyModel, waitFor } from "./prismFixtures";

const PROMPT_COMMAND = "Write a haiku about rain.";
const PROMPT_A = "Explain what a lighthouse does.";
const PROMPT_B = "Name three colours of the sea.";

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
