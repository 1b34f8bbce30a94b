// The extension's own activation time (measured inside `activate`, src/extension.ts, and returned with its API),
// written to test-results/vscode/activation.json for the benchmark report. The 50 ms goal is a benchmark figure,
// not an assertion. (Reading it back from the PRISM log file proved unreliable: VS Code flushes that file late.)
import * as assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { resultsDir } from "./harness";
import { suite, test } from "./mochaTdd";
import { prismApi } from "./prismFixtures";

suite("activation time", () => {
  test("activate() reports its own duration; it is saved to activation.json", async () => {
    const api = await prismApi();
    const activationMs = api.activationMs;
    assert.ok(
      typeof activationMs === "number" && Number.isFinite(activationMs) && activationMs > 0,
      `activation time ${activationMs}`,
    );
    const out = join(resultsDir(), "activation.json");
    writeFileSync(out, JSON.stringify({ activationMs, measuredAt: new Date().toISOString() }, null, 2) + "\n");
    console.log(`    activation: ${activationMs.toFixed(1)} ms (${out})`);
  });
});
