/**
 * The end-to-end half of `npm run bench:distill` (issue #12 item 5): one whole `quick` distillation, stages 1–5
 * and the bundle, on Qwen2.5-0.5B's shape (Q4_K_M by default, `BENCH_QUANT=F16` for the F16 file) with 2 threads,
 * as `prism distill --preset quick` runs it. Reports wall time per stage against the estimate a user is shown,
 * generated / prompt / training tokens per second per stage, the whole-job ETA shown at the end of stages 1 and 2
 * against the time that was really left, and the peak RSS of the engine and the trainer.
 *
 * The judge: a random-weight model's verdicts never parse (its text is noise), which would label every query
 * `retain` and leave stage 5 nothing to train. So the self-judge runs every pass at full cost, exactly as
 * `--judge self` does, and only where its output holds no verdict does the length rule decide. Quality is not
 * measured here (it cannot be, on random weights); cost is.
 */
import { readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { formatDuration } from "../src/core/cost/estimateDistillation.js";
import { PRESET_VALUES } from "../src/core/cost/distillPresets.js";
import {
  ASSUMED_ANSWER_FILL,
  ASSUMED_QUERY_TOKENS,
  estimateDistillCost,
} from "../src/core/cost/estimateDistillCost.js";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { ModelSession } from "../src/core/engine/ModelSession.js";
import { prepareDistillation } from "../src/core/distill/prepareDistillation.js";
import type { JobSnapshot } from "../src/core/distill/JobProgress.js";
import {
  BUILTIN_RULE_JUDGES,
  PairwiseModelJudge,
  type JudgeInput,
  type JudgeOutput,
} from "../src/core/pipeline/judges.js";
import { DEFAULT_PERSONAS } from "../src/core/pipeline/personas.js";
import { judgeMessages } from "../src/core/pipeline/prompts.js";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { trainerBinary } from "../testkit/trainerKit.js";
import { machine, qwen05bQuantizedPath, writeBenchResult } from "./benchUtil.js";

const threads = Number(process.env.BENCH_THREADS ?? defaultThreadCount());
const quant = process.env.BENCH_QUANT ?? "Q4_K_M";
/**
 * Random weights never write an end of turn, so every query and answer runs to its token limit — a case no real
 * model is in. By default (`typical`) the limits are set to the lengths the cost model assumes a real model writes
 * (queries ~48 tokens, answers 70 % of quick's 256), so the job does a real model's amount of work; `BENCH_LENGTHS=
 * limit` keeps quick's limits (the worst case, every generation cut at its limit).
 */
const lengths = process.env.BENCH_LENGTHS ?? "typical";
const typicalAnswerTokens = Math.round(PRESET_VALUES.quick.answerMaxTokens * ASSUMED_ANSWER_FILL);

/** The self-judge at full cost; the length rule only where the model's output names no verdict. */
class SelfJudgeWithFallback extends PairwiseModelJudge {
  private readonly rule = BUILTIN_RULE_JUDGES.longer!();
  fallbacks = 0;

  override get description(): string {
    return `${super.description}+fallback:${this.rule.description}`;
  }

  override async judge(input: JudgeInput): Promise<JudgeOutput> {
    const out = await super.judge(input);
    if (out.verdict !== "TIE" || /\bTIE\b/i.test(out.raw)) return out;
    this.fallbacks++;
    const r = await this.rule.judge(input);
    return { verdict: r.verdict, raw: `${out.raw}\n[no verdict; ${this.rule.description}: ${r.raw}]` };
  }
}

const modelPath = await qwen05bQuantizedPath(quant);
const outDir = resolve(".cache", "bench", "quick-job", "bench.prism");
rmSync(`${outDir}.job`, { recursive: true, force: true });
rmSync(outDir, { recursive: true, force: true });

const engine = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
let judge: SelfJudgeWithFallback | undefined;
const quick = PRESET_VALUES.quick;
const prepared = await prepareDistillation({
  engine,
  modelPath,
  outDir,
  personas: DEFAULT_PERSONAS.filter((p) => quick.personaIds!.includes(p.id)),
  threads,
  gpu: "false",
  judge: (generator) => (judge = new SelfJudgeWithFallback(generator)),
  generator: "local",
  trainerBinary: trainerBinary(),
  // BENCH_SMOKE=1: a few items per stage, to check the harness in minutes before an hour-long run
  settings:
    process.env.BENCH_SMOKE === "1"
      ? {
          queriesPerPersona: 2,
          minDistill: 1,
          answer: { maxTokens: 24 },
          gate: { minPerClass: 2 },
          lora: { epochs: 1 },
        }
      : lengths === "typical"
        ? { query: { maxTokens: ASSUMED_QUERY_TOKENS }, answer: { maxTokens: typicalAnswerTokens } }
        : {},
  preset: "quick",
});

const started = performance.now();
const estimate = await prepared.estimate();
const calibrationSeconds = (performance.now() - started) / 1000;
// What `prism distill --preset quick` shows a user: quick's own limits, with answers assumed to fill 70 % of them.
// The job below runs with its limits set to those lengths already (random weights run to the limit), so its own
// estimate would take 70 % of them again and count stage 2's answers 30 % short.
const userEstimate =
  lengths === "typical"
    ? estimateDistillCost(
        {
          ...prepared.settings,
          query: { ...prepared.settings.query, maxTokens: quick.queryMaxTokens },
          answer: { ...prepared.settings.answer, maxTokens: quick.answerMaxTokens },
        },
        estimate.context,
      )
    : estimate.cost;

console.log(`machine: ${machine()}; threads ${threads}; ${modelPath}`);
console.log(
  `estimate (calibration ${calibrationSeconds.toFixed(1)} s): ${formatDuration(userEstimate.totalSeconds)} ` +
    `(the job's own limits: ${formatDuration(estimate.cost.totalSeconds)}); ` +
    `prompt ${estimate.rates.promptTokensPerSecond.toFixed(0)} tok/s, decoding ${estimate.rates.generatedTokensPerSecond.toFixed(1)} tok/s`,
);

// Stage boundaries and the job ETA each stage change showed.
const stageStart = new Map<number, number>();
const etaAtStart = new Map<number, number | undefined>();
let lastLine = 0;
const onProgress = (s: JobSnapshot) => {
  const now = performance.now();
  if (!stageStart.has(s.stage)) {
    stageStart.set(s.stage, now);
    etaAtStart.set(s.stage, s.jobEtaSeconds);
    console.log(
      `${((now - started) / 1000).toFixed(0)} s: stage ${s.stage} ${s.stageName}` +
        (s.jobEtaSeconds === undefined ? "" : `, job ~${formatDuration(s.jobEtaSeconds)} left`),
    );
  } else if (now - lastLine > 60_000) {
    lastLine = now;
    console.log(`  ${s.done}/${s.total} ${s.message}`);
  }
};
const result = await prepared.job({ estimate, onProgress, log: (m) => console.log(m) }).run();
const ended = performance.now();
const engineHwm = vmHwmBytes(engine.pid);

// Work done per stage, counted in the model's own tokens from the job's logs.
// (a second load of the same file after the job: mmap shares its pages)
const { modelId } = await new ModelSession(engine, { modelPath, gpu: "false", threads }).model();
const jobDir = `${outDir}.job`;
const count = async (texts: string[]) => {
  let n = 0;
  for (const text of texts) n += (await engine.request("engine/countTokens", { modelId, text })).tokens;
  return n;
};
const jsonl = (name: string) =>
  readFileSync(join(jobDir, name), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const queries = jsonl("queries.jsonl");
const answers = jsonl("answers.jsonl");
const byId = new Map<string, { base?: string; persona?: string; query?: string }>();
for (const q of queries) if (q.query) byId.set(q.id as string, { query: q.query as string });
for (const a of answers) byId.set(a.id as string, { ...byId.get(a.id as string), [a.side as string]: a.text });
const judged = jsonl("judgements.jsonl");
const training = jsonl("train.jsonl");
/** The trainer's `done` event (docs/trainer.md §10). */
const trainerDone = (result.training.details ?? {}) as { epochs?: number; seconds?: number; peakRssBytes?: number };
const epochsRun = Number(trainerDone.epochs ?? 0);
const judgePrompt = (j: Record<string, unknown>) => {
  const x = byId.get(j.id as string)!;
  const [a, b] = j.pass === 1 ? [x.base!, x.persona!] : [x.persona!, x.base!];
  return judgeMessages(x.query!, a, b)
    .map((m) => m.content)
    .join("\n");
};
const work: Record<number, { tokens: number; kind: string }> = {
  1: { tokens: await count(queries.map((q) => q.raw as string)), kind: "generated" },
  2: { tokens: await count(answers.map((a) => a.text as string)), kind: "generated" },
  3: { tokens: await count(judged.map(judgePrompt)), kind: "judge prompt" },
  5: { tokens: training.reduce((n, s) => n + (s.tokens as number[]).length, 0) * epochsRun, kind: "training" },
};

const seconds = (stage: number) => ((stageStart.get(stage + 1) ?? ended) - (stageStart.get(stage) ?? started)) / 1000;
const trainerSeconds = Number(trainerDone.seconds ?? NaN);
const rows = (result.cost ?? []).map((r) => {
  const w = work[r.stage];
  return {
    stage: r.stage,
    estimatedSeconds: userEstimate.stages.find((u) => u.stage === r.stage)?.seconds ?? r.estimatedSeconds,
    jobLimitsEstimatedSeconds: r.estimatedSeconds,
    actualSeconds: seconds(r.stage),
    tokens: w?.tokens,
    kind: w?.kind ?? "",
    // stage 5's rate is the trainer's own: its teacher-scoring phase is not training
    tokensPerSecond: w && w.tokens / (r.stage === 5 ? trainerSeconds : seconds(r.stage)),
  };
});
const wallSeconds = (ended - started) / 1000;
// The ETA at the start of stage 3 is the one shown at the end of stage 2; the goal is ±25 % of the time left.
const etaError = (stage: number) => {
  const eta = etaAtStart.get(stage);
  const left = (ended - stageStart.get(stage)!) / 1000;
  return eta === undefined ? undefined : (eta - left) / left;
};
const trainerPeak = Number(trainerDone.peakRssBytes ?? NaN);

console.log(
  `\nquick preset, ${quant}, ${threads} threads, ${lengths} lengths: ${result.queries} queries, ${result.distill} distill`,
);
console.log(
  `judge: ${judge?.fallbacks ?? 0} of ${judged.length} passes had no verdict and fell back to the length rule`,
);
console.log("| stage | estimated | actual | tokens | tok/s |");
console.log("| --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(
    `| ${r.stage} | ${formatDuration(r.estimatedSeconds)} | ${formatDuration(r.actualSeconds)} | ` +
      `${r.tokens === undefined ? "–" : `${r.tokens} ${r.kind}`} | ${r.tokensPerSecond === undefined ? "–" : r.tokensPerSecond.toFixed(1)} |`,
  );
}
console.log(
  `stage 5: teacher scoring and data ${formatDuration(seconds(5) - trainerSeconds)}, training ${formatDuration(trainerSeconds)}`,
);
console.log(
  `total ${formatDuration(wallSeconds)} wall (estimate ${formatDuration(userEstimate.totalSeconds)}; goal ≤ 60 min); ` +
    `ETA error at end of stage 1 ${pct(etaError(2))}, stage 2 ${pct(etaError(3))} (goal ±25 %)`,
);
console.log(
  `peak RSS: engine ${mb(engineHwm)}, trainer ${mb(trainerPeak)} (model file + 3 GB = ${mb(fileSize(modelPath) + 3e9)})`,
);

await writeBenchResult("distillJob", {
  preset: "quick",
  lengths,
  quant,
  threads,
  queries: result.queries,
  distill: result.distill,
  judgeFallbacks: judge?.fallbacks ?? 0,
  judgePasses: judged.length,
  wallSeconds,
  estimatedSeconds: userEstimate.totalSeconds,
  jobLimitsEstimatedSeconds: estimate.cost.totalSeconds,
  etaErrorEndOfStage1: etaError(2) ?? null,
  etaErrorEndOfStage2: etaError(3) ?? null,
  enginePeakRssBytes: engineHwm,
  trainerPeakRssBytes: trainerPeak,
  modelBytes: fileSize(modelPath),
  trainerSeconds,
  stage5PrepareSeconds: seconds(5) - trainerSeconds,
  stages: JSON.stringify(rows),
});
await engine.dispose();

function vmHwmBytes(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}
function fileSize(path: string): number {
  return statSync(path).size;
}
function mb(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(0)} MB` : "–";
}
function pct(x: number | undefined): string {
  return x === undefined ? "–" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(0)} %`;
}
