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
): Promise<DistillResult> {
  const tty = (ctx.stderr as NodeJS.WriteStream).isTTY === true;
  let lastLine = "";
  const job = prepared.job({
    signal: ctx.signal,
    log: (m) => ctx.stderr.write(`${m}\n`),
    onProgress: (p) => {
      const eta = p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : "";
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
  };
  ctx.stdout.write(
    json
      ? `${JSON.stringify(summary, null, 2)}\n`
      : `wrote ${result.bundleDir}: ${result.queries} queries, ${result.distill} distill / ${result.retain} retain, gate validation accuracy ${fmt(summary.gate.validationAccuracy)}\n`,
  );
  return result;
}

function fmt(x: number | null | undefined): string {
  return typeof x === "number" ? x.toFixed(3) : "n/a";
}
