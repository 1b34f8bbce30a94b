import type { StageCostRow } from "../core/cost/DistillEta.js";
import { formatDuration, type DistillEstimate } from "../core/cost/estimateDistillation.js";
import type { DistillResult } from "../core/distill/DistillJob.js";
import type { PreparedDistillation } from "../core/distill/prepareDistillation.js";
import type { CliContext } from "./CliContext.js";

/**
 * Runs a prepared distillation with progress on stderr (one rewritten line on a terminal, a line per change
 * otherwise) and prints its summary: a sentence, or JSON with `json`.
 */
export async function runDistillJob(
  prepared: PreparedDistillation,
  ctx: CliContext,
  json: boolean,
  estimate?: DistillEstimate,
): Promise<DistillResult> {
  const tty = (ctx.stderr as NodeJS.WriteStream).isTTY === true;
  let lastLine = "";
  const job = prepared.job({
    estimate,
    signal: ctx.signal,
    log: (m) => ctx.stderr.write(`${m}\n`),
    onProgress: (p) => {
      const eta =
        (p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : "") +
        (p.jobEtaSeconds !== undefined ? `; job ~${formatDuration(p.jobEtaSeconds)} left` : "");
      const line = `stage ${p.stage}/5 ${p.stageName}: ${p.done}/${p.total} (${p.message}${eta})`;
      if (line === lastLine) return;
      lastLine = line;
      ctx.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
  });
  const result = await job.run();
  if (tty) ctx.stderr.write("\n");
  const summary = {
    bundle: result.bundleDir,
    queries: result.queries,
    distill: result.distill,
    retain: result.retain,
    gate: {
      validationAccuracy: result.gate.metrics.validation.accuracy,
      validationAuc: result.gate.metrics.validation.auc,
      threshold: result.gate.threshold,
    },
    training: { epochs: result.training.epochs, seconds: result.training.seconds },
    cost: result.cost,
  };
  if (result.cost) ctx.stderr.write(`${formatCostReport(result.cost)}\n`);
  ctx.stdout.write(
    json
      ? `${JSON.stringify(summary, null, 2)}\n`
      : `wrote ${result.bundleDir}: ${result.queries} queries, ${result.distill} distill / ${result.retain} retain, gate validation accuracy ${fmt(summary.gate.validationAccuracy)}\n`,
  );
  return result;
}

/** Estimated (at the start) against actual time per stage and in total, one line. */
function formatCostReport(rows: StageCostRow[]): string {
  const est = rows.reduce((n, r) => n + r.estimatedSeconds, 0);
  const actual = rows.reduce((n, r) => n + (r.actualSeconds ?? 0), 0);
  const stages = rows.map(
    (r) =>
      `${r.stage}: ${formatDuration(r.estimatedSeconds)} / ${r.actualSeconds === undefined ? "–" : formatDuration(r.actualSeconds)}`,
  );
  return `time estimated / actual: ${formatDuration(est)} / ${formatDuration(actual)} (stage ${stages.join(", ")})`;
}

function fmt(x: number | null | undefined): string {
  return typeof x === "number" ? x.toFixed(3) : "n/a";
}
