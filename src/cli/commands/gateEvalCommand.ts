import { parseArgs } from "node:util";
import { evaluateGate } from "../../core/gate/gateMetrics.js";
import { defaultThreadCount } from "../../core/util/defaultThreadCount.js";
import { intFlag, UsageError, type CliContext } from "../CliContext.js";
import { openBundle } from "../openBundle.js";
import { readLabelledFile } from "../readPromptFiles.js";
import { gpuFlag } from "./gpuFlag.js";

export const GATE_EVAL_USAGE =
  "prism gate-eval --bundle <dir.prism> --labelled <file.jsonl> [--model <m.gguf>] [--json] [--threads N] [--gpu …]";

/** `prism gate-eval`: the bundle's gate on prompts the user labelled `{"prompt", "persona": true|false}`. */
export async function gateEvalCommand(args: string[], ctx: CliContext): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      bundle: { type: "string" },
      labelled: { type: "string" },
      model: { type: "string" },
      json: { type: "boolean" },
      threads: { type: "string" },
      gpu: { type: "string" },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".`);
  if (!v.bundle || !v.labelled) throw new UsageError("--bundle and --labelled are required.");
  const labelled = await readLabelledFile(v.labelled);
  if (labelled.length === 0) throw new UsageError(`${v.labelled} has no prompts.`);
  const threads = intFlag("threads", v.threads, 1, 1024) ?? defaultThreadCount();
  const { bundle, features } = await openBundle(ctx.engine(), v.bundle, {
    model: v.model,
    threads,
    gpu: gpuFlag(v.gpu),
    signal: ctx.signal,
  });
  const samples = [];
  for (const item of labelled) {
    const f = await features.extract(item.prompt, ctx.signal);
    samples.push({ feature: f.vector, label: item.label });
  }
  const { metrics, bestThreshold } = evaluateGate(bundle.gate, samples, bundle.threshold);
  const out = { prompts: labelled.length, threshold: bundle.threshold, ...metrics, bestThreshold };
  if (v.json) {
    ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const c = metrics.confusion;
  ctx.stdout.write(
    `${labelled.length} prompts at threshold ${bundle.threshold}: accuracy ${metrics.accuracy.toFixed(3)}, ` +
      `balanced ${metrics.balancedAccuracy.toFixed(3)}, AUC ${metrics.auc === null ? "n/a" : metrics.auc.toFixed(3)}\n` +
      `confusion: persona→persona ${c.tp}, base→persona ${c.fp}, base→base ${c.tn}, persona→base ${c.fn}\n` +
      `best threshold (balanced accuracy): ${bestThreshold.toFixed(3)}\n`,
  );
}
