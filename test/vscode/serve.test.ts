// PRISM: Start Server / Stop Server in a real extension host: the active generated model and bundle served on
// loopback through the window's engine, answered over HTTP, then stopped.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { suite, suiteSetup, suiteTeardown, test } from "./mochaTdd";
import { prismApi, useSettings, useTinyModel } from "./prismFixtures";

suite("PRISM: Start Server", () => {
  let api: PrismExtensionApi;
  let restore: (() => Promise<void>)[] = [];

  suiteSetup(async function () {
    this.timeout(120_000);
    api = await prismApi();
    restore = [(await useTinyModel({ maxTokens: 8 })).restore, await useSettings({ "serve.port": 0 })];
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand("prism.stopServer");
    for (const r of restore.reverse()) await r();
  });

  test("serves the active bundle as prism, with the routing decision, until stopped", async function () {
    this.timeout(120_000);
    const url = await vscode.commands.executeCommand<string | undefined>("prism.startServer");
    assert.ok(url && /^http:\/\/127\.0\.0\.1:\d+\/v1$/.test(url), `base URL: ${String(url)}`);
    assert.equal(api.server.baseUrl, url);

    const models = (await (await fetch(`${url}/models`)).json()) as { data: Array<{ id: string }> };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ["prism", "prism-base", "prism-persona"],
    );
    const r = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "prism", messages: [{ role: "user", content: "Hello" }], max_tokens: 4 }),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("x-prism-route") ?? "", /^(base|persona); p=[\d.]+; threshold=[\d.]+; served=/);
    const body = (await r.json()) as { choices: Array<{ message: { content: string } }>; prism: { served: string } };
    assert.equal(typeof body.choices[0]?.message.content, "string");
    assert.ok(["base", "persona"].includes(body.prism.served));

    await vscode.commands.executeCommand("prism.stopServer");
    assert.equal(api.server.baseUrl, undefined);
    await assert.rejects(fetch(`${url}/models`));
  });
});
