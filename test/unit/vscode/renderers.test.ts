import { describe, expect, it } from "vitest";
import { historyToCsv } from "../../../src/vscode/panel/historyToCsv.js";
import { renderHtml } from "../../../src/vscode/panel/renderHtml.js";
import { renderReportHtml } from "../../../src/vscode/report/renderReportHtml.js";
import type { RoutingRecord } from "../../../src/protocol/routingRecord.js";

const opts = {
  cspSource: "vscode-webview://abc",
  scriptUri: "vscode-webview://abc/main.js",
  styleUri: "vscode-webview://abc/compare.css",
  title: "PRISM",
};

describe("compare panel HTML", () => {
  it("has a strict CSP: default-src 'none', scripts only by nonce, resources only from the webview source", () => {
    const html = renderHtml(opts);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!;
    const directives = Object.fromEntries(
      csp
        .split(";")
        .map((d) => d.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    expect(directives["default-src"]).toEqual(["'none'"]);
    expect(directives["script-src"]).toHaveLength(1);
    expect(directives["script-src"]![0]).toMatch(/^'nonce-[A-Za-z0-9+/=]{20,}'$/);
    expect(directives["style-src"]).toEqual([opts.cspSource]);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    const nonce = directives["script-src"]![0]!.slice(7, -1);
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toContain(`nonce="${nonce}"`);
    expect(scripts[0]).toContain(`src="${opts.scriptUri}"`);
  });

  it("uses a fresh random nonce per render", () => {
    const nonce = (h: string) => /nonce-([^']+)'/.exec(h)![1];
    expect(nonce(renderHtml(opts))).not.toBe(nonce(renderHtml(opts)));
  });

  it("escapes attribute values", () => {
    const html = renderHtml({ ...opts, title: '"><script>alert(1)</script>' });
    expect(html).not.toContain("<script>alert(1)");
  });
});

describe("history CSV", () => {
  const record: RoutingRecord = {
    time: "2026-01-01T00:00:00.000Z",
    prompt: '=cmd|"calc"!A1, with "quotes"\nand a newline',
    promptHash: "h",
    probability: 0.7,
    threshold: 0.5,
    decision: "persona",
    mode: "hard",
    served: "persona",
    featureMs: 1.5,
    gateMs: 0.1,
    sides: {},
  };
  it("quotes, doubles quotes and defuses spreadsheet formulas", () => {
    const csv = historyToCsv([record]);
    const [header, row] = csv.split("\r\n");
    expect(header).toBe("time,decision,served,mode,probability,threshold,featureMs,gateMs,prompt,promptHash");
    expect(row).toContain(`"'=cmd|""calc""!A1, with ""quotes""\nand a newline"`);
    expect(row!.startsWith("2026-01-01T00:00:00.000Z,persona,persona,hard,0.7,0.5,1.5,0.1,")).toBe(true);
  });
});

describe("report HTML", () => {
  it("has no script, a default-src 'none' CSP, escapes names and draws the loss curve", () => {
    const html = renderReportHtml(
      {
        name: "<img src=x onerror=alert(1)>",
        counts: {
          queries: 10,
          distill: 4,
          retain: 6,
          perPersona: { "<b>x</b>": { queries: 10, distill: 4, retain: 6, distillRate: 0.4 } },
        },
        gate: {
          threshold: 0.5,
          routingRatePerPersona: { "<b>x</b>": 0.3 },
          metrics: {
            validation: {
              n: 4,
              accuracy: 0.75,
              balancedAccuracy: 0.75,
              auc: 0.8,
              confusion: { tp: 1, fp: 0, tn: 2, fn: 1 },
            },
          },
        },
        training: {
          epochs: [
            { epoch: 1, trainLoss: 3, evalLoss: 3.2 },
            { epoch: 2, trainLoss: 2, evalLoss: 2.5 },
          ],
          seconds: 12,
          samples: 4,
          data: {
            window: 256,
            cutAnswers: 3,
            truncatedSamples: 1,
            droppedSamples: 0,
            targets: ["attn_qkv", "<b>x</b>"],
          },
        },
        cost: [
          { stage: 1, estimatedSeconds: 90, reestimatedSeconds: 80, actualSeconds: 75 },
          { stage: 5, estimatedSeconds: 4000, reestimatedSeconds: 3900 },
        ],
      },
      "vscode-webview://abc",
      "vscode-webview://abc/report.css",
    );
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>x</b>");
    expect(html).toContain("default-src 'none'");
    expect(html).toMatch(/<polyline class="train" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
    expect(html).toContain("40.0 %");
    expect(html).toContain("75.0 %");
    expect(html).toContain("answers cut by the token limit (trained without an end of turn): 3");
    expect(html).toContain("truncated to the window: 1");
    expect(html).toContain("adapted weights: attn_qkv, &#60;b&#62;x&#60;/b&#62;");
    expect(html).toContain("<tr><td>1 queries</td><td>2 min</td><td>1 min</td><td>1 min</td></tr>");
    expect(html).toContain("<tr><td>5 LoRA</td><td>1 h 07 min</td><td>1 h 05 min</td><td>–</td></tr>");
  });
});

describe("report HTML with a world evaluation", () => {
  it("renders the base / persona / PRISM table, routing, goals and answers as inert text", () => {
    const s = { discriminativeAccuracy: 0.75, generativeScore: 0.25 };
    const html = renderReportHtml(
      {
        name: "world",
        evaluation: {
          kind: "prism-world-eval",
          schemaVersion: 1,
          world: {
            dir: "/w",
            seed: 1,
            reduced: true,
            recipeHash: "abc",
            heldOut: { discriminative: 1, generative: 1 },
          },
          bundle: "/w/sunny.prism",
          base: s,
          persona: { discriminativeAccuracy: 0.25, generativeScore: 0.9 },
          prism: { discriminativeAccuracy: 0.75, generativeScore: 0.85 },
          personaVsBaseWinRate: 0.5,
          prismVsBaseWinRate: 0.7,
          winRates: {
            persona: { discriminative: 0.2, generative: 0.9 },
            prism: { discriminative: 0.5, generative: 0.9 },
          },
          routing: { discriminative: 0.05, generative: 0.95 },
          gateAccuracy: 0.96,
          gateValidationAccuracy: null,
          perTask: { add: { n: 1, base: 1, persona: 0, prism: 1 } },
          goals: {
            discriminative: { target: 0.74, met: true },
            generative: { target: 0.81, met: true },
            gate: { target: 0.9, met: true },
          },
          seconds: 1,
          evaluatedAt: "2026-01-01T00:00:00.000Z",
          rows: [
            {
              id: "greet-ada-t0",
              family: "generative",
              task: "greet",
              prompt: "Greet Ada.",
              expected: "Hi Ada.",
              base: "<img src=x onerror=alert(1)>",
              persona: "Hello Ada!",
              prism: "<script>alert(1)</script>",
              probability: 0.9,
              routed: "persona",
            },
          ],
        },
      },
      "vscode-webview://abc",
      "vscode-webview://abc/report.css",
    );
    expect(html).toContain("Reference world evaluation");
    expect(html).toMatch(/<th>PRISM<\/th><td>75\.0 %<\/td><td>0\.850<\/td><td>70\.0 %<\/td>/);
    expect(html).toContain("discriminative 5.0 %, generative 95.0 %");
    expect(html).toContain("gate accuracy on held-out prompts 96.0 %");
    expect(html).toContain('class="met"');
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain("&#60;img src=x");
  });
});
