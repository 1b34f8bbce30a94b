// PRISM in VS Code's chat: the `prism` language-model provider through the public vscode.lm API, and the `@prism`
// participant (plain, /compare, /why) driven through the Chat view (workbench.action.chat.open with
// blockOnResponse), on a generated model and bundle.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { GateDecision } from "../../src/core/routing/Router";
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { pageTexts, screenshot } from "./harness";
import { suite, suiteSetup, suiteTeardown, test } from "./mochaTdd";
import { prismApi, useTinyModel, waitFor } from "./prismFixtures";

/** What `workbench.action.chat.open` resolves with when blockOnResponse is set: the handler's ChatResult. */
interface ChatResultLike {
  metadata?: { gate?: GateDecision; served?: string };
  errorDetails?: { message: string };
}

async function ask(query: string): Promise<ChatResultLike | undefined> {
  return vscode.commands.executeCommand<ChatResultLike | undefined>("workbench.action.chat.open", {
    query,
    isPartialQuery: false,
    blockOnResponse: true,
  });
}

/** The rendered text of the Chat view's newest response, once `accept` is true for it. */
async function lastResponse(accept: (text: string) => boolean): Promise<string> {
  let seen: string[] = [];
  return waitFor(
    "the rendered chat reply",
    async () => {
      seen = await pageTexts(".interactive-item-container.interactive-response .value", 1_000);
      const last = seen.at(-1);
      return last !== undefined && accept(last) && last;
    },
    20_000,
    300,
    () => `responses shown: ${JSON.stringify(seen)}`,
  );
}

suite("chat (language-model provider and @prism participant)", () => {
  let api: PrismExtensionApi;
  let restore: (() => Promise<void>) | undefined;

  suiteSetup(async function () {
    this.timeout(120_000);
    api = await prismApi();
    ({ restore } = await useTinyModel({ maxTokens: 16 }));
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand("workbench.action.closeAuxiliaryBar").then(undefined, () => undefined);
    await restore?.();
  });

  test("the prism provider streams an answer through vscode.lm and counts tokens", async function () {
    this.timeout(90_000);
    const models = await vscode.lm.selectChatModels({ vendor: "prism" });
    assert.equal(models.length, 1, `models of vendor prism: ${models.map((m) => m.id).join(", ")}`);
    const [model] = models;
    assert.equal(model!.id, "prism-routed");
    assert.equal(model!.vendor, "prism");

    const prompt = "Say something about rivers.";
    const tokenSource = new vscode.CancellationTokenSource();
    const response = await model!.sendRequest([vscode.LanguageModelChatMessage.User(prompt)], {}, tokenSource.token);
    let text = "";
    let chunks = 0;
    for await (const chunk of response.text) {
      text += chunk;
      chunks++;
    }
    assert.ok(text.length > 0, "the streamed answer is not empty");
    assert.ok(chunks > 0);
    // It went through PRISM's router (with the bundle: a gate decision, hard mode by default).
    assert.equal(api.service.lastRoute?.prompt, prompt);
    const result = api.service.lastRoute!.result;
    assert.equal(result.mode, "hard");
    assert.equal(result.outputs[result.served]?.text, text, "the stream is the served side's answer");

    const count = await model!.countTokens("The quick brown fox jumps over the lazy dog.");
    assert.ok(Number.isInteger(count) && count > 0, `countTokens gave ${count}`);
    const messageCount = await model!.countTokens(vscode.LanguageModelChatMessage.User("Hello there"));
    assert.ok(messageCount > 0, `countTokens(message) gave ${messageCount}`);
  });

  let firstGate: GateDecision | undefined;

  test("@prism answers in the Chat view and returns its gate decision as ChatResult metadata", async function () {
    this.timeout(90_000);
    await vscode.commands.executeCommand("workbench.action.chat.newChat");
    const result = await ask("@prism hello");
    assert.ok(result, "workbench.action.chat.open resolved with the handler's ChatResult");
    assert.equal(result.errorDetails, undefined, JSON.stringify(result.errorDetails));
    const gate = result.metadata?.gate;
    assert.ok(gate, `metadata has a gate decision: ${JSON.stringify(result.metadata)}`);
    assert.ok(gate.probability >= 0 && gate.probability <= 1, `p = ${gate.probability}`);
    assert.ok(["base", "persona"].includes(gate.decision), `decision ${gate.decision}`);
    assert.equal(result.metadata?.served, gate.decision, "hard mode serves the gate's decision");
    // The handler routed the prompt without the participant mention.
    assert.equal(api.service.lastRoute?.prompt, "hello");
    assert.deepEqual(api.service.lastRoute?.result.gate, gate);
    firstGate = gate;

    const reply = await lastResponse((t) => t.includes("PRISM:"));
    assert.ok(reply.includes(`gate p = ${gate.probability.toFixed(3)}`), `rendered reply: ${reply}`);
    const served = gate.decision === "persona" ? "persona adapter (LoRA)" : "base model";
    assert.ok(reply.includes(`PRISM: ${served}`), `rendered reply: ${reply}`);
    const answer = api.service.lastRoute!.result.outputs[gate.decision]!.text;
    assert.ok(answer.trim().length > 0, "the model answered");
    await screenshot("chat", ".interactive-item-container.interactive-response", 500);
  });

  test("a follow-up turn reuses the first turn's gate decision", async function () {
    this.timeout(60_000);
    assert.ok(firstGate, "needs the previous test's session");
    const result = await ask("@prism and now something completely different about volcanoes");
    assert.equal(result?.errorDetails, undefined, JSON.stringify(result?.errorDetails));
    assert.deepEqual(result?.metadata?.gate, firstGate, "the gate did not run again");
    assert.equal(api.service.lastRoute?.prompt, "and now something completely different about volcanoes");
  });

  test("@prism /compare answers with both the base model and the persona adapter", async function () {
    this.timeout(90_000);
    await vscode.commands.executeCommand("workbench.action.chat.newChat");
    const prompt = "Describe a mountain.";
    const result = await ask(`@prism /compare ${prompt}`);
    assert.equal(result?.errorDetails, undefined, JSON.stringify(result?.errorDetails));
    assert.ok(result?.metadata?.gate, `metadata has a gate decision: ${JSON.stringify(result?.metadata)}`);
    const last = api.service.lastRoute;
    assert.equal(last?.prompt, prompt);
    assert.equal(last.result.mode, "compare");
    assert.ok(last.result.outputs.base?.text && last.result.outputs.persona?.text, "both sides generated");
    assert.deepEqual(result.metadata.gate, last.result.gate);

    const reply = await lastResponse((t) => t.includes("Base model") && t.includes("Persona adapter"));
    const servedTitle =
      last.result.served === "persona" ? "Persona adapter — served by PRISM" : "Base model — served by PRISM";
    assert.ok(reply.includes(servedTitle), `rendered reply: ${reply}`);
    assert.ok(reply.includes("compare mode"), `rendered reply: ${reply}`);
  });

  test("@prism /why explains the last routing decision", async function () {
    this.timeout(60_000);
    const last = api.service.lastRoute;
    assert.ok(last, "a prompt was routed before");
    const result = await ask("@prism /why");
    assert.equal(result?.errorDetails, undefined, JSON.stringify(result?.errorDetails));
    assert.equal(api.service.lastRoute, last, "/why routes nothing");
    const g = last.result.gate;
    const lines = [
      `“${last.prompt}”`,
      `Gate probability ${g.probability.toFixed(3)}, threshold ${g.threshold} → ${g.decision}`,
      `Served: ${last.result.served} (${last.result.mode} mode)`,
      "trained on 1 persona(s) (helpful)",
    ];
    // The reply renders in pieces: wait for all of it (a partial render once failed on the last line).
    const reply = await lastResponse((t) => t.includes("Last prompt") && lines.every((l) => t.includes(l)));
    for (const expected of lines) {
      assert.ok(reply.includes(expected), `"${expected}" is missing from the rendered reply: ${reply}`);
    }
    await screenshot("chat-why", ".interactive-item-container.interactive-response", 500);
  });
});
