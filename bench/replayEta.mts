/**
 * Replays a finished job's whole-job ETA with a different training rate: reads the job's settings (state.json)
 * and cost.json, and prints the ETA the job would have shown at the start of each stage had its calibration
 * carried `TRAIN_TO_PROMPT_RATE` (or `RATIO`) as the training rate — the same observations and stage times, only
 * the constant changed. `node --import tsx bench/replayEta.mts <job dir> [actual seconds left at stage 2, 3, …]`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DistillEta } from "../src/core/cost/DistillEta.js";
import { estimateDistillCost } from "../src/core/cost/estimateDistillCost.js";
import { TRAIN_TO_PROMPT_RATE } from "../src/core/cost/measureRates.js";
import { distillSettingsSchema } from "../src/core/distill/distillSettings.js";

const [jobDir, ...actualLeft] = process.argv.slice(2);
const state = JSON.parse(readFileSync(join(jobDir!, "state.json"), "utf8"));
const cost = JSON.parse(readFileSync(join(jobDir!, "cost.json"), "utf8"));
const settings = distillSettingsSchema.parse(state.settings);
const ratio = Number(process.env.RATIO ?? TRAIN_TO_PROMPT_RATE);
const context = {
  ...cost.context,
  rates: { ...cost.context.rates, trainTokensPerSecond: cost.context.rates.promptTokensPerSecond * ratio },
};
const eta = new DistillEta(settings, context, estimateDistillCost(settings, context));
console.log(`training rate ${context.rates.trainTokensPerSecond.toFixed(1)} tok/s (ratio ${ratio})`);
const observations = [
  { queries: cost.observed.queries, queryTokens: cost.observed.queryTokens },
  { answerTokens: cost.observed.answerTokens },
  { distill: cost.observed.distill },
];
for (let stage = 2; stage <= 5; stage++) {
  const done = cost.stages[String(stage - 1)];
  eta.recordStage(stage - 1, done);
  if (observations[stage - 2]) eta.observe(observations[stage - 2]!);
  const left = eta.remainingSeconds({ stage, done: 0, total: 1, run: { seconds: 0, items: 0 } });
  const actual = Number(actualLeft[stage - 2]);
  console.log(
    `start of stage ${stage}: ETA ${(left / 60).toFixed(1)} min` +
      (actual
        ? `, actual ${(actual / 60).toFixed(1)} min, error ${(((left - actual) / actual) * 100).toFixed(0)} %`
        : ""),
  );
}
