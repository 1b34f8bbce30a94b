/* global process, console, URL */
// Loads the production webview bundle in headless Chromium under the compare panel's exact CSP, with a fake
// host (fakeHost.js) that bootstraps hostile model output and a history, and fails on any CSP violation (eval,
// inline style or script), page error, executed payload or undrawn chart. Needs a production bundle
// (`node esbuild.mjs --production`) and a `chromium` binary (Debian: apt-get install chromium); without
// chromium it says so and exits 0. Usage: node test/webview/csp/cspSmoke.mjs [--screenshot out.png]
import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { promisify } from "node:util";

const here = new URL(".", import.meta.url);
const root = new URL("../../../", import.meta.url);
const chromium = ["chromium", "chromium-browser", "google-chrome"].find((b) => spawnSync("which", [b]).status === 0);
if (!chromium) {
  console.log("cspSmoke: no chromium found; skipped.");
  process.exit(0);
}

const NONCE = "smoke0123456789abcdef";
const files = {
  "/main.js": new URL("dist/webview/main.js", root),
  "/compare.css": new URL("media/compare.css", root),
  "/theme.css": new URL("theme.css", here),
  "/fakeHost.js": new URL("fakeHost.js", here),
};
const server = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  const origin = `http://127.0.0.1:${server.address().port}`;
  // The panel's CSP, with this server standing in for webview.cspSource.
  const csp = `default-src 'none'; style-src ${origin}; img-src ${origin} data:; font-src ${origin}; script-src 'nonce-${NONCE}'`;
  if (path === "/") {
    res.writeHead(200, { "content-type": "text/html", "content-security-policy": csp });
    res.end(`<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/theme.css"><link rel="stylesheet" href="/compare.css"></head>
<body class="vscode-dark"><div id="app" data-testid="app">Connecting…</div>
<script nonce="${NONCE}" src="/fakeHost.js"></script><script nonce="${NONCE}" src="/main.js"></script></body></html>`);
    return;
  }
  const file = files[path];
  if (!file) return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": path.endsWith(".js") ? "text/javascript" : "text/css" });
  res.end(readFileSync(file));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/`;
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=6000"];
const chrome = (args) =>
  promisify(execFile)(chromium, [...flags, ...args, url], { timeout: 90_000, maxBuffer: 64 << 20 });

try {
  const { stdout } = await chrome(["--dump-dom"]);
  const match = stdout.match(/<pre id="smoke-report">(.*?)<\/pre>/s);
  if (!match) throw new Error("the page wrote no report (did the bundle load?)");
  const report = JSON.parse(
    match[1]
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&"),
  );
  console.log("cspSmoke:", JSON.stringify(report));
  const problems = [
    ...report.violations.map((v) => `CSP violation: ${v}`),
    ...report.errors.map((e) => `page error: ${e}`),
    ...(report.pwned !== null ? [`payload ran: ${report.pwned}`] : []),
    ...(report.dangerous > 0 ? [`${report.dangerous} dangerous elements in model output`] : []),
    ...(!report.canvas || report.canvas.w === 0 ? ["the chart has no canvas size"] : []),
    ...(!report.sent.includes("webview/ready") ? ["no webview/ready sent"] : []),
  ];
  const shot = process.argv.indexOf("--screenshot");
  if (shot > 0) await chrome(["--window-size=1100,1100", `--screenshot=${process.argv[shot + 1]}`]);
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exitCode = 1;
  } else {
    console.log("cspSmoke: ok (no CSP violations, no errors, payloads inert, chart drawn)");
  }
} finally {
  server.close();
}
