// The README's test command (after `npm ci`): type-check, lint, build, then every vitest project.
// Ends with one plain summary line, "N passed, N failed", that CI logs can be read by.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";

const steps = [
  ["type-check", "npm", ["run", "-s", "check-types"]],
  ["lint", "npm", ["run", "-s", "lint"]],
  ["build", process.execPath, ["esbuild.mjs"]],
];

for (const [name, cmd, args] of steps) {
  console.log(`\n== ${name}`);
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) {
    console.log(`\n0 passed, 1 failed: ${name} failed`);
    process.exit(r.status ?? 1);
  }
}

mkdirSync("test-results", { recursive: true });
const report = "test-results/vitest.json";
console.log("\n== tests (vitest: unit, webview, model)");
const extra = process.argv.slice(2);
const run = spawnSync(
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...extra],
  { stdio: "inherit" },
);
let passed = 0;
let failed = 0;
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, "utf8"));
  passed = json.numPassedTests ?? 0;
  failed = (json.numFailedTests ?? 0) + (json.numRuntimeErrorTestSuites ?? 0);
}
if (run.status !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(run.status ?? 1);
