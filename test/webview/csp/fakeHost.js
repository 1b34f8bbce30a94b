/* global window, document, console, setTimeout */
// Fake extension host for cspSmoke.mjs: stands in for acquireVsCodeApi, answers webview/ready with hostile
// model output and a history, records CSP violations and errors, and writes a JSON report into the page.
(() => {
  const report = { violations: [], errors: [], sent: [] };
  window.__smoke = report;
  document.addEventListener("securitypolicyviolation", (e) =>
    report.violations.push(`${e.violatedDirective} blocked=${e.blockedURI} sample=${e.sample}`),
  );
  window.addEventListener("error", (e) => report.errors.push(String(e.message)));
  const origError = console.error;
  console.error = (...a) => {
    report.errors.push(a.map(String).join(" "));
    origError(...a);
  };
  const evil = [
    "# Answer",
    "",
    "Some **bold** text and `code`.",
    "",
    "<script>window.__pwned=1</script>",
    "",
    '<img src=x onerror="window.__pwned=2">',
    "",
    "[x](javascript:window.__pwned=3)",
    "",
    '<iframe src="https://evil.example"></iframe>',
    "",
    '<a href="https://e" onclick="window.__pwned=4">e</a>',
    "",
    "```ts\nconst a = 1;\n```",
    "",
    "[a link](https://example.com)",
  ].join("\n");
  const rec = (i, p) => ({
    time: new Date(Date.UTC(2026, 0, 1, 10, i)).toISOString(),
    prompt: i % 3 ? `Prompt number ${i} about ships` : undefined,
    promptHash: "hash" + i,
    probability: p,
    threshold: 0.5,
    decision: p >= 0.5 ? "persona" : "base",
    mode: "compare",
    served: p >= 0.5 ? "persona" : "base",
    featureMs: 11,
    gateMs: 0.3,
    sides: {
      base: { timeToFirstTokenMs: 90, tokensPerSecond: 40, generatedTokens: 50 },
      persona: { timeToFirstTokenMs: 95, tokensPerSecond: 38, generatedTokens: 60 },
    },
  });
  const history = Array.from({ length: 30 }, (_, i) => rec(i, ((i * 37) % 100) / 100));
  const run = {
    runId: 3,
    prompt: "Tell me about ships",
    mode: "compare",
    state: "done",
    served: "persona",
    gate: { probability: 0.72, threshold: 0.5, decision: "persona", featureMs: 12.5, gateMs: 0.4 },
    sides: {
      base: { text: evil, done: true, scale: 0, timeToFirstTokenMs: 88, tokensPerSecond: 41.2, generatedTokens: 120 },
      persona: {
        text: "Arr, **ships** be grand!\n\n- sails\n- rum",
        done: true,
        scale: 1,
        timeToFirstTokenMs: 93,
        tokensPerSecond: 39.9,
        generatedTokens: 80,
      },
    },
  };
  const bootstrap = {
    protocolVersion: 1,
    status: {
      engine: "ready",
      model: "tiny.gguf",
      bundle: { name: "pirate", threshold: 0.5, featureSpec: "mean-last-4", personas: ["pirate"] },
    },
    run,
    history,
  };
  const post = (m) => setTimeout(() => window.postMessage(m, "*"), 5);
  let state;
  window.acquireVsCodeApi = () => ({
    getState: () => state,
    setState: (s) => (state = s),
    postMessage: (m) => {
      report.sent.push(m.method ?? m.kind);
      if (m.kind !== "request") return;
      if (m.method === "webview/ready") post({ kind: "response", id: m.id, method: m.method, result: bootstrap });
      else
        post({
          kind: "response",
          id: m.id,
          method: m.method,
          result: m.method === "editor/getSelection" ? { text: "" } : { stopped: false },
        });
    },
  });
  setTimeout(() => {
    const canvas = document.querySelector("canvas");
    report.canvas = canvas ? { w: canvas.width, h: canvas.height, dataUrlLength: canvas.toDataURL().length } : null;
    report.pwned = window.__pwned ?? null;
    report.dangerous = document.querySelectorAll(
      "[data-testid=side-output] :is(script, iframe, img, [onclick], [onerror], [style])",
    ).length;
    report.adopted = document.querySelector("vscode-button")?.shadowRoot?.adoptedStyleSheets?.length ?? null;
    const pre = document.createElement("pre");
    pre.id = "smoke-report";
    pre.textContent = JSON.stringify(report);
    document.body.append(pre);
  }, 2500);
})();
