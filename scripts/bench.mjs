// `npm run bench`: runs every benchmark on generated bench-size models, then writes bench/results.json and
// bench/results.md (a Markdown table of ratios and medians with the machine) and puts the table into the README.
// Absolute times on a shared 2-core CPU box are not representative; the ratios are the figures.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const benches = [
  ["engine", "bench/engineBench.mts"],
  ["gate", "bench/gateBench.mts"],
  ["distill", "bench/distillBench.mts"],
  // a whole quick distillation on the 0.5B shape (about an hour on 2 cores): only when named
  ["distillJob", "bench/distillJobBench.mts", "named"],
  ["route", "bench/routeBench.mts"],
  ["serve", "bench/serveBench.mts"],
  ["trainer", "bench/trainerBench.ts"],
  ["score", "bench/scoreBench.mts"],
];
const only = process.argv.slice(2);
const build = spawnSync(process.execPath, ["esbuild.mjs"], { stdio: "inherit" });
if (build.status !== 0) process.exit(1);
for (const [name, file, when] of benches) {
  if ((only.length ? !only.includes(name) : when === "named") || !existsSync(file)) continue;
  console.log(`\n== bench:${name}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", file], { stdio: "inherit" });
  if (r.status !== 0) console.log(`bench:${name} failed (exit ${r.status}); its row stays as last measured`);
}

// Rows not re-measured in this run (or on this machine yet) stay as last recorded.
const out = existsSync("bench/results.json") ? JSON.parse(readFileSync("bench/results.json", "utf8")) : {};
for (const f of existsSync("bench/out") ? readdirSync("bench/out") : []) {
  // merged figure by figure: a run that measured some of a benchmark's figures (bench:trainer on one shape) keeps the rest
  const name = f.replace(/\.json$/, "");
  if (f.endsWith(".json")) out[name] = { ...out[name], ...JSON.parse(readFileSync(join("bench/out", f), "utf8")) };
}
const activation = "test-results/vscode/activation.json";
if (existsSync(activation)) out.activation = JSON.parse(readFileSync(activation, "utf8"));
writeFileSync("bench/results.json", JSON.stringify(out, null, 2) + "\n");

const f = (x, d = 2) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "–");
const pct = (x) => (typeof x === "number" ? `${(x * 100).toFixed(2)} %` : "–");
const minutes = (s) => (typeof s === "number" ? `${(s / 60).toFixed(1)} min` : "–");
const mb = (b) => (typeof b === "number" && Number.isFinite(b) ? `${(b / 1e6).toFixed(0)} MB` : "–");
const stageRows = (json) => (typeof json === "string" ? JSON.parse(json) : []);
// The trainer's memory curve: one `<shape>_<quant>_w<window>_peakRssMB` figure per bench:trainer run on a real shape,
// shown per shape and quantization as `qwen15b Q4_K_M (model 0.99 GB) w512 / w768: 4.12 / 5.65 GB`.
const memoryCurve = (trainer = {}) => {
  const groups = new Map();
  for (const k of Object.keys(trainer).sort()) {
    const m = /^(qwen\d+b)_(\w+?)_w(\d+)_peakRssMB$/.exec(k);
    if (!m) continue;
    const key = `${m[1]} ${m[2].toUpperCase()} (model ${f(trainer[k.replace(/peakRssMB$/, "modelMB")] / 1000)} GB)`;
    groups.set(key, [...(groups.get(key) ?? []), [Number(m[3]), trainer[k] / 1000]]);
  }
  return [...groups]
    .map(([key, points]) => {
      points.sort((a, b) => a[0] - b[0]);
      return `${key} ${points.map(([w]) => `w${w}`).join(" / ")}: ${points.map(([, gb]) => f(gb)).join(" / ")} GB`;
    })
    .join("; ");
};
const rows = [
  [
    "Engine process vs in-process decode (tok/s ratio, goal ≥ 0.97)",
    f(out.engine?.engineOverInProcess, 3),
    `${f(out.engine?.engineTokPerS, 1)} vs ${f(out.engine?.inProcessTokPerS, 1)} tok/s`,
  ],
  [
    "Gate cost layer:1 / final",
    f(out.gate?.layer1OverFinal, 3),
    `${f(out.gate?.gateLayer1Ms, 1)} ms vs ${f(out.gate?.gateFinalMs, 1)} ms`,
  ],
  [
    "Gate cost as share of an answer (prompt + 128 tokens), goal ≤ 1 %",
    `${pct(out.gate?.gateLayer1ShareOfAnswer)} (layer:1)`,
    `${pct(out.gate?.gateFinalShareOfAnswer)} (final); ${out.gate?.shape ?? "bench"} model`,
  ],
  [
    "Gate feature read through the feature head / as the embedding of the one-block copy",
    f(out.gate?.headOverEmbed, 3),
    `${f(out.gate?.gateLayer1Ms, 1)} ms vs ${f(out.gate?.gateLayer1EmbedMs, 1)} ms (docs/engine.md §8)`,
  ],
  [
    "Distillation stage 2, N sequences / 1 sequence",
    f(out.distill?.parallelSpeedup),
    `${f(out.distill?.answersPerSecondN, 3)} vs ${f(out.distill?.answersPerSecond1, 3)} answers/s (N = ${out.distill?.sequences ?? "–"}, ${out.distill?.shape ?? "bench"} model)`,
  ],
  [
    "Distillation stage 1, persona prefix shared / evaluated per query",
    f(out.distill?.sharedPrefixSpeedup),
    `${f(out.distill?.queriesPerSecondShared, 3)} vs ${f(out.distill?.queriesPerSecondUnshared, 3)} queries/s, ${f(out.distill?.sharedPrefixTokens, 0)} prompt tokens reused per query (${out.distill?.shape ?? "bench"} model)`,
  ],
  [
    `Whole \`quick\` distillation, ${out.distillJob?.quant ?? "–"} 0.5B shape, ${out.distillJob?.lengths ?? "–"} lengths (goal ≤ 60 min)`,
    minutes(out.distillJob?.wallSeconds),
    `estimated ${minutes(out.distillJob?.estimatedSeconds)} (as \`--preset quick\` shows it); per stage actual (estimated): ` +
      stageRows(out.distillJob?.stages)
        .map((r) => `${r.stage} ${minutes(r.actualSeconds)} (${minutes(r.estimatedSeconds)})`)
        .join(", "),
  ],
  [
    "Whole-job ETA error at the end of stage 2 (goal ±25 %)",
    pct(out.distillJob?.etaErrorEndOfStage2),
    `end of stage 1: ${pct(out.distillJob?.etaErrorEndOfStage1)} (docs/method.md §7)`,
  ],
  [
    "Distillation tokens/s per stage (quick job above)",
    stageRows(out.distillJob?.stages)
      .filter((r) => r.tokensPerSecond)
      .map((r) => `${r.stage}: ${f(r.tokensPerSecond, 1)}`)
      .join(", ") || "–",
    stageRows(out.distillJob?.stages)
      .filter((r) => r.kind)
      .map((r) => `${r.stage} ${r.kind}`)
      .join(", "),
  ],
  [
    "Peak RSS of engine / trainer in that job (goal trainer ≤ model + 3 GB)",
    `${mb(out.distillJob?.enginePeakRssBytes)} / ${mb(out.distillJob?.trainerPeakRssBytes)}`,
    `model file ${mb(out.distillJob?.modelBytes)}`,
  ],
  [
    "Compare view wall / single stream (2.00 = no overlap)",
    f(out.route?.compareOverSingle),
    `${f(out.route?.compareMs, 0)} ms vs ${f(out.route?.singleStreamMs, 0)} ms; adapter: ${out.route?.bundle ?? "bench"}`,
  ],
  [
    "Cold start to first token (new engine, load, first token)",
    `${f(out.route?.coldStartToFirstTokenMs, 0)} ms`,
    "median",
  ],
  [
    "prism serve: time-to-first-token overhead beyond the gate, 1 / 4 requests at once (goal ≤ 5 %)",
    `${pct(out.serve?.seqTtftOverheadBeyondGate)} / ${pct(out.serve?.concTtftOverheadBeyondGate)}`,
    `p50 ${f(out.serve?.concServedTtftP50Ms, 0)} ms served vs ${f(out.serve?.concGatedTtftP50Ms, 0)} ms engine with gate, ` +
      `${f(out.serve?.concServedTokPerS, 0)} vs ${f(out.serve?.concDirectTokPerS, 0)} tok/s at 4 at once; ` +
      `lost ${out.serve?.lost ?? "–"}, mixed up ${out.serve?.mixed ?? "–"}`,
  ],
  [
    "Trainer efficiency: train tok/s ÷ (prompt-eval tok/s ÷ 3), goal ≥ 0.8",
    f(out.trainer?.efficiency, 3),
    `${f(out.trainer?.trainTokPerS, 0)} train tok/s`,
  ],
  [
    "Trainer peak RSS by model shape and window (goal ≤ model file + 3 GB)",
    memoryCurve(out.trainer) || "–",
    "`BENCH_SHAPE=qwen15b BENCH_QUANT=Q4_K_M BENCH_CTX=512,768,1024 npm run bench:trainer` (or qwen05b; docs/trainer.md §12)",
  ],
  [
    "Teacher scoring / prompt evaluation, 512-token answer, 151k vocabulary, 0.5B shape (goal ≤ 1.5)",
    f(out.score?.nativeOverPrompt),
    `${f(out.score?.nativeMsPerPosition, 1)} vs ${f(out.score?.fullMsPerPosition, 1)} ms/position before; ` +
      `+${f(out.score?.nativeExtraRssMb, 0)} MB vs +${f(out.score?.fullExtraRssMb, 0)} MB peak RSS (before: ${out.score?.fullPositions ?? "–"} positions)`,
  ],
  [
    "Extension activation (goal ≤ 50 ms)",
    `${f(out.activation?.activationMs, 1)} ms`,
    "measured in the VS Code test host",
  ],
];
const machine = out.engine?.machine ?? out.gate?.machine ?? out.route?.machine ?? "unknown";
const date = new Date().toISOString().slice(0, 10);
const table = [
  `Last run ${date} on ${machine} (rows it did not re-measure keep their earlier figures). Absolute times on a shared 2-core CPU box are not representative; ratios are the figures.`,
  "",
  "| Benchmark | Result | Detail |",
  "|---|---|---|",
  ...rows.map((r) => `| ${r.join(" | ")} |`),
].join("\n");
writeFileSync("bench/results.md", table + "\n");
const readme = readFileSync("README.md", "utf8");
const start = "<!-- bench:start -->";
const end = "<!-- bench:end -->";
if (readme.includes(start) && readme.includes(end)) {
  writeFileSync("README.md", readme.replace(new RegExp(`${start}[\\s\\S]*${end}`), `${start}\n${table}\n${end}`));
}
console.log(`\n${table}`);
