// The reference world in the editor (issue 7): the model trained here and its distilled bundle (built and distilled
// by test/model/world.test.ts, which `npm test` runs first, in .cache/worlds/reduced-s1) loaded as the user's model
// and bundle. The compare panel routes held-out prompts of each family, and the report view shows the evaluation.
import * as assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import type { RouteResult } from "../../src/core/routing/Router";
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { extension, pageText, pageTexts, screenshot } from "./harness";
import { suite, suiteSetup, suiteTeardown, test } from "./mochaTdd";
import { prismApi, useSettings, waitFor } from "./prismFixtures";

suite("reference world (trained model + distilled bundle)", () => {
  const worldDir = join(extension().extensionPath, ".cache", "worlds", "reduced-s1");
  const bundleDir = join(worldDir, "sunny.prism");
  let api: PrismExtensionApi;
  let restore: (() => Promise<void>) | undefined;
  let heldOut: Array<{ prompt: string; family: string; expected: string }>;

  suiteSetup(async function () {
    this.timeout(60_000);
    assert.ok(
      existsSync(join(bundleDir, "evaluation.json")),
      `no distilled reference world in ${worldDir}: run the model tests first (npm test does), or npm run demo with PRISM_WORLD=reduced`,
    );
    heldOut = readFileSync(join(worldDir, "heldout.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    api = await prismApi();
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    restore = await useSettings({
      "model.path": join(worldDir, "model.gguf"),
      "bundle.path": bundleDir,
      "engine.threads": 1,
      "generation.maxTokens": 96,
      "generation.temperature": 0,
    });
  });

  suiteTeardown(async () => {
    api?.comparePanel()?.dispose();
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    await restore?.();
  });

  test("the compare panel sends a generative prompt to the adapter and a discriminative one to the base model", async function () {
    this.timeout(120_000);
    const evaluation = JSON.parse(readFileSync(join(bundleDir, "evaluation.json"), "utf8")) as {
      rows: Array<{ prompt: string; routed: string; family: string }>;
    };
    // Prompts the evaluation routed as their family asks (the gate is not perfect; the test is about the editor).
    const pick = (family: string, routed: string) =>
      evaluation.rows.find((r) => r.family === family && r.routed === routed)?.prompt;
    const generative = pick("generative", "persona");
    const discriminative = pick("discriminative", "base");
    assert.ok(generative && discriminative, "the evaluation has correctly routed prompts of both families");
    assert.ok(heldOut.some((p) => p.prompt === generative));
    for (const [prompt, decision] of [
      [generative, "persona"],
      [discriminative, "base"],
    ] as const) {
      await vscode.commands.executeCommand("prism.openCompare", prompt, "compare", true);
      await waitFor(`the host to route "${prompt}"`, () => api.service.lastRoute?.prompt === prompt, 60_000, 250);
      const result = api.service.lastRoute!.result as RouteResult;
      assert.equal(result.gate.decision, decision, `gate p = ${result.gate.probability}`);
      assert.ok(result.outputs.base?.text && result.outputs.persona?.text, "both sides answered");
      const shown = await waitFor(
        "the panel to show the decision",
        async () => ((await pageText("[data-testid=gate-decision]", 500))?.trim() === decision ? true : undefined),
        20_000,
        300,
      );
      assert.ok(shown);
      if (decision === "persona") {
        // The adapter side carries the persona's style without the persona prompt; the base side is plain.
        assert.match(result.outputs.persona!.text, /^(Hello|Hi|Greetings)/);
        await screenshot("world-compare", "section.side[data-testid=side-persona]:not(.streaming)");
      }
    }
  });

  test("PRISM: Show Bundle Report shows the world evaluation next to the distillation report", async function () {
    this.timeout(60_000);
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>("prism.showBundleReport");
    assert.ok(panel, "the report panel opened");
    assert.match(panel.webview.html, /Reference world evaluation/);
    const table = await pageText("[data-testid=report-eval-table]", 20_000);
    assert.ok(table, "the evaluation table is rendered in the webview");
    assert.match(table, /Base[\s\S]*Persona prompt[\s\S]*PRISM/);
    const routing = await pageText("[data-testid=report-eval-routing]", 5_000);
    assert.match(routing ?? "", /Routed to the adapter: discriminative [\d.]+ %, generative [\d.]+ %/);
    // Model output is text, never markup: no element inside the examples comes from an answer.
    assert.deepEqual(await pageTexts("table.examples td *", 1_000), []);
    await screenshot("world-report", "[data-testid=report-eval-table]");
  });
});
