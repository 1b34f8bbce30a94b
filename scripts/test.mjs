// The README's test command (after `npm ci`): type-check, lint, format check (prettier), build (extension, engine, CLI, webview, and the
// native LoRA trainer when missing or stale), every vitest project (unit, webview, model), then the VS Code
// integration suites in a real extension host (code-server; set up on first run, apt packages as root), then the
// same user-facing suites against the packaged linux-x64 VSIX installed into a clean profile.
// Ends with one plain summary line, "N passed, N failed", that CI logs can be read by.
// `npm test -- --no-vscode` skips the VS Code suites (quick local runs); extra args go to vitest.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";

const args = process.argv.slice(2);
const skipVscode = args.includes("--no-vscode");
const vitestArgs = args.filter((a) => a !== "--no-vscode");
let passed = 0;
let failed = 0;

function finish(code, why) {
  if (why) console.log(`\n${why}`);
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(code);
}

// npm and npx are .cmd scripts on Windows (the release workflow's win32-x64 runner), which spawn only via a shell.
const shell = process.platform === "win32";

function step(name, cmd, argv) {
  console.log(`\n== ${name}`);
  const r = spawnSync(cmd, argv, { stdio: "inherit", shell });
  if (r.status !== 0) {
    failed++;
    finish(r.status ?? 1, `${name} failed`);
  }
}

step("type-check", "npm", ["run", "-s", "check-types"]);
step("lint", "npm", ["run", "-s", "lint"]);
step("format", "npx", ["prettier", "--check", "."]);
step("build", process.execPath, ["esbuild.mjs"]);
if (existsSync("scripts/buildTrainer.mjs"))
  step("build the LoRA trainer (cached)", process.execPath, ["scripts/buildTrainer.mjs"]);

mkdirSync("test-results", { recursive: true });
const report = "test-results/vitest.json";
console.log("\n== tests (vitest: unit, webview, model)");
const vitest = spawnSync(
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...vitestArgs],
  { stdio: "inherit", shell },
);
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, "utf8"));
  passed += json.numPassedTests ?? 0;
  failed += (json.numFailedTests ?? 0) + (json.numRuntimeErrorTestSuites ?? 0);
}
if (vitest.status !== 0 && failed === 0) failed = 1;

/** Runs scripts/testVscode.mjs with `argv` and adds its mocha counts. */
async function vscodeSuites(name, argv) {
  console.log(`\n== ${name}`);
  // Streamed through so progress shows; the runner's last line carries the mocha counts.
  const child = spawn(process.execPath, ["scripts/testVscode.mjs", ...argv], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => {
    process.stdout.write(d);
    out = (out + d.toString()).slice(-4000);
  });
  const code = await new Promise((resolve) => child.on("close", resolve));
  const m = /vscode: (\d+) passing, (\d+) failing/.exec(out);
  passed += m ? Number(m[1]) : 0;
  failed += m ? Number(m[2]) : 0;
  if (code !== 0 && (!m || Number(m[2]) === 0)) failed++;
}

if (!skipVscode) {
  await vscodeSuites("tests (VS Code extension host)", []);
  // The VSIX a user installs (docs/test-host.md §11): packaged for linux-x64 (allow-list, size budget), installed
  // into a fresh code-server profile, the user-facing suites run against it. ~3 min; only where that VSIX is the
  // machine's own target (the trainer and binaries are native).
  if (process.platform === "linux" && process.arch === "x64") {
    step("package the linux-x64 VSIX", process.execPath, [
      "scripts/package.mjs",
      "--target",
      "linux-x64",
      "--skip-checks",
    ]);
    await vscodeSuites("tests (the installed VSIX)", [
      "--installed",
      "dist-vsix/prism-vscode-linux-x64.vsix",
      "--skip-setup",
      "--skip-build",
    ]);
  }
}

finish(failed > 0 || vitest.status !== 0 ? 1 : 0);
