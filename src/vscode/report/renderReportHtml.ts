import type { WorldEvaluation } from "../../core/world/worldEvaluation.js";
import { formatDuration } from "../../core/cost/estimateDistillation.js";
import { renderEvaluationHtml } from "./renderEvaluationHtml.js";
import { esc, num, pct } from "./reportFormat.js";

/** The parts of a bundle's report.json the report view shows (all optional: older or partial reports render too). */
export interface ReportData {
  name: string;
  counts?: {
    queries?: number;
    distill?: number;
    retain?: number;
    perPersona?: Record<string, { queries: number; distill: number; retain: number; distillRate: number }>;
  };
  gate?: {
    threshold?: number;
    routingRatePerPersona?: Record<string, number>;
    metrics?: {
      validation?: {
        n: number;
        accuracy: number;
        balancedAccuracy?: number;
        auc: number | null;
        confusion: { tp: number; fp: number; tn: number; fn: number };
      };
      train?: { n: number; accuracy: number };
      bestEpoch?: number;
    };
  };
  training?: {
    epochs?: Array<{ epoch: number; trainLoss: number | null; evalLoss: number | null }>;
    seconds?: number;
    samples?: number;
    /** How the distill set was fitted to the trainer's window (stage 5); absent in bundles made before it. */
    data?: {
      window: number;
      cutAnswers: number;
      truncatedSamples: number;
      droppedSamples: number;
      targets: string[];
    };
  };
  /** Estimated vs actual seconds per stage (docs/method.md §7); absent when the job had no estimate. */
  cost?: Array<{ stage: number; estimatedSeconds: number; reestimatedSeconds: number; actualSeconds?: number }>;
  /** The bundle's `evaluation.json` (`prism eval` on a reference world), when there is one. */
  evaluation?: WorldEvaluation;
}

/**
 * The distillation report as static HTML: no script at all (CSP `default-src 'none'`), charts as SVG whose
 * geometry is attributes, never inline styles; every value escaped.
 */
export function renderReportHtml(data: ReportData, cspSource: string, styleUri: string): string {
  const csp = `default-src 'none'; style-src ${cspSource}; img-src ${cspSource} data:`;
  const per = data.counts?.perPersona ?? {};
  const routing = data.gate?.routingRatePerPersona ?? {};
  const personaRows = Object.entries(per)
    .map(
      ([id, p]) =>
        `<tr><td>${esc(id)}</td><td>${p.queries}</td><td>${p.distill}</td><td>${p.retain}</td><td>${bar(p.distillRate)} ${pct(p.distillRate)}</td><td>${pct(routing[id])}</td></tr>`,
    )
    .join("");
  const v = data.gate?.metrics?.validation;
  const c = v?.confusion;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="${esc(styleUri)}"><title>PRISM report: ${esc(data.name)}</title></head>
<body><main data-testid="report">
<h1>PRISM distillation: ${esc(data.name)}</h1>
${data.evaluation ? renderEvaluationHtml(data.evaluation) : ""}
<section><h2>Data</h2>
<p data-testid="report-counts">${data.counts?.queries ?? 0} queries → <strong>${data.counts?.distill ?? 0} distill</strong> (persona won both judge passes) / ${data.counts?.retain ?? 0} retain</p>
<table><thead><tr><th>Persona</th><th>Queries</th><th>Distill</th><th>Retain</th><th>Distill rate</th><th>Routed to adapter</th></tr></thead><tbody>${personaRows}</tbody></table>
</section>
<section><h2>Gate (held-out)</h2>
<p data-testid="report-gate">Accuracy ${pct(v?.accuracy)} · balanced ${pct(v?.balancedAccuracy)} · ROC-AUC ${num(v?.auc)} · n = ${v?.n ?? 0} · threshold ${num(data.gate?.threshold, 2)}</p>
${c ? `<table class="confusion" data-testid="report-confusion"><thead><tr><th></th><th>routed: persona</th><th>routed: base</th></tr></thead><tbody><tr><th>label: distill</th><td>${c.tp}</td><td>${c.fn}</td></tr><tr><th>label: retain</th><td>${c.fp}</td><td>${c.tn}</td></tr></tbody></table>` : ""}
</section>
<section><h2>LoRA training</h2>
<p>${data.training?.samples ?? 0} samples · ${data.training?.epochs?.length ?? 0} epochs · ${num(data.training?.seconds, 1)} s</p>
${trainingData(data.training?.data)}
${lossChart(data.training?.epochs ?? [])}
</section>
${costSection(data.cost)}</main></body></html>`;
}

/** How long each stage took against the estimate shown before the start, and the cost model once its inputs were known. */
function costSection(rows: ReportData["cost"]): string {
  if (!rows?.length) return "";
  const names = ["", "queries", "answers", "judge", "gate", "LoRA"];
  const s = (x: number | undefined): string => (x === undefined ? "–" : formatDuration(x));
  const body = rows
    .map(
      (r) =>
        `<tr><td>${r.stage} ${esc(names[r.stage] ?? "")}</td><td>${s(r.estimatedSeconds)}</td><td>${s(r.reestimatedSeconds)}</td><td>${s(r.actualSeconds)}</td></tr>`,
    )
    .join("");
  return `<section data-testid="report-cost"><h2>Time</h2>
<table><thead><tr><th>Stage</th><th>Estimated at the start</th><th>Re-estimated at the end</th><th>Actual</th></tr></thead><tbody>${body}</tbody></table>
</section>`;
}

/** What stage 5 did to fit the answers to the trainer (cut answers train without an end of turn). */
function trainingData(d: NonNullable<ReportData["training"]>["data"]): string {
  if (!d) return "";
  return `<p data-testid="report-training-data">Window ${d.window} tokens · answers cut by the token limit (trained without an end of turn): ${d.cutAnswers} · truncated to the window: ${d.truncatedSamples} · dropped (prompt fills the window): ${d.droppedSamples} · adapted weights: ${esc(d.targets.join(", "))}</p>`;
}

function bar(fraction: number): string {
  const w = Math.max(0, Math.min(1, fraction)) * 100;
  return `<svg class="bar" width="100" height="8" viewBox="0 0 100 8" aria-hidden="true"><rect class="track" width="100" height="8"/><rect class="fill" width="${w.toFixed(1)}" height="8"/></svg>`;
}

function lossChart(epochs: Array<{ epoch: number; trainLoss: number | null; evalLoss: number | null }>): string {
  const values = epochs
    .flatMap((e) => [e.trainLoss, e.evalLoss])
    .filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  if (epochs.length === 0 || values.length === 0) return "<p>No loss curve recorded.</p>";
  const W = 480;
  const H = 200;
  const pad = 32;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const x = (i: number) => pad + (epochs.length === 1 ? (W - 2 * pad) / 2 : (i * (W - 2 * pad)) / (epochs.length - 1));
  const y = (v: number) => H - pad - ((v - lo) / span) * (H - 2 * pad);
  const line = (key: "trainLoss" | "evalLoss") =>
    epochs
      .map((e, i) => (typeof e[key] === "number" ? `${x(i).toFixed(1)},${y(e[key] as number).toFixed(1)}` : ""))
      .filter(Boolean)
      .join(" ");
  return `<svg class="loss" data-testid="report-loss" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="training and evaluation loss per epoch">
<line class="axis" x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}"/><line class="axis" x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}"/>
<text x="4" y="${pad}">${num(hi)}</text><text x="4" y="${H - pad}">${num(lo)}</text><text x="${W / 2}" y="${H - 8}">epoch</text>
<polyline class="train" points="${line("trainLoss")}"/><polyline class="eval" points="${line("evalLoss")}"/>
<text class="train" x="${W - 110}" y="16">— train</text><text class="eval" x="${W - 110}" y="30">— eval</text></svg>`;
}
