// The compare panel on a model with a real vendor vocabulary and chat template (the Qwen3 real-shape fixture:
// 151,669 tokens, Qwen3's template with thinking; random weights), with a bundle made for it: both answers stream
// into the webview and the gate decides, exactly as on the tiny byte-vocabulary model.
import * as assert from "node:assert/strict";
import { join } from "node:path";
import * as vscode from "vscode";
import type { RouteResult } from "../../src/core/routing/Router";
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { readGguf } from "../../src/core/gguf/readGguf";
import { makeBundle } from "../../testkit/makeBundle";
import { waitForRun } from "./compareView";
import { screenshot } from "./harness";
import { suite, suiteSetup, suiteTeardown, test } from "./mochaTdd";
import { fixturesRoot, prismApi, useSettings } from "./prismFixtures";

suite("compare panel on a real-vocabulary model (Qwen3 shape)", () => {
  let api: PrismExtensionApi;
  let restore: (() => Promise<void>) | undefined;

  suiteSetup(async function () {
    this.timeout(180_000);
    const model = process.env.PRISM_TEST_REAL_MODEL;
    assert.ok(model, "PRISM_TEST_REAL_MODEL is set by scripts/testVscode.mjs");
    const gguf = await readGguf(model);
    const width = Number(gguf.kvs.find((kv) => kv.key === "qwen3.embedding_length")?.value.value);
    const bundle = join(fixturesRoot(), "qwen3.prism");
    await makeBundle(bundle, model, { width });
    api = await prismApi();
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    restore = await useSettings({
      "model.path": model,
      "bundle.path": bundle,
      "engine.threads": 1,
      "generation.maxTokens": 16,
      "generation.temperature": 0,
    });
  });

  suiteTeardown(async () => {
    api?.comparePanel()?.dispose();
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    await restore?.();
  });

  test("routes a prompt and renders both answers with the gate's decision", async function () {
    this.timeout(180_000);
    const prompt = "Explain what a mutex is, in two sentences.";
    const before = (await api.service.routingLog.recent(500)).length;
    await vscode.commands.executeCommand("prism.openCompare", prompt, "compare", true);
    const shown = await waitForRun(api, prompt, before + 1);
    const last = api.service.lastRoute!.result as RouteResult;
    assert.equal(last.mode, "compare");
    assert.ok(last.outputs.base?.timings.promptTokens, "the base side evaluated a prompt");
    // The persona side has the adapter; its prompt is the same student prompt, so equally long.
    assert.equal(last.outputs.persona?.timings.promptTokens, last.outputs.base?.timings.promptTokens);
    assert.equal(shown.probability, last.gate.probability.toFixed(2));
    assert.equal(shown.decision, last.gate.decision);
    assert.ok(shown.base.length > 0 && shown.persona.length > 0, "both answers are rendered");
    const info = await api.service.loadModel();
    assert.equal(info.vocabSize, 151_669);
    assert.equal(info.architecture, "qwen3");
    await screenshot("real-model-compare", "[data-testid=side-output]", 800);
  });
});
