import { evaluateGate } from "../../core/gate/gateMetrics.js";
import { UsageError } from "../CliContext.js";
import { openBundle } from "../openBundle.js";
import { stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import { BUNDLE_MODEL_OPTION, BUNDLE_OPTION, ENGINE_OPTIONS, jsonOption } from "../options/commonOptions.js";
import { readLabelledFile } from "../readPromptFiles.js";

/** `prism gate-eval`: the bundle's gate on prompts the user labelled `{"prompt", "persona": true|false}`. */
export const gateEvalCommand = cliCommand(
  {
    name: "gate-eval",
    summary: "measure a bundle's gate on your own labelled prompts",
    description:
      'Runs the bundle\'s gate on prompts you labelled, one {"prompt": "…", "persona": true|false} per line, and ' +
      "prints accuracy, balanced accuracy, AUC, the confusion counts and the threshold with the best balanced accuracy.",
    options: {
      bundle: BUNDLE_OPTION,
      labelled: stringOption({ valueName: "<file.jsonl>", description: "the labelled prompts", required: true }),
      model: BUNDLE_MODEL_OPTION,
      json: jsonOption("the metrics"),
      ...ENGINE_OPTIONS,
    },
  },
  async ({ values: v }, ctx) => {
    const labelled = await readLabelledFile(v.labelled);
    if (labelled.length === 0) throw new UsageError(`${v.labelled} has no prompts.`);
    const { bundle, features } = await openBundle(ctx.engine(), v.bundle, {
      model: v.model,
      threads: v.threads,
      gpu: v.gpu,
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
  },
);
