/**
 * The model matrix: every real-shape fixture (vendor tokenizer, chat template and tensor layout; random weights)
 * as F16 and as Q4_K_M, through the CLI a user runs — `prism info`, `prism chat` with a system prompt, a full
 * `prism distill` (all five stages, `--loss kl`, the gate's features on the model; see `DISTILL_F16`) and
 * `prism route` in every mode on the bundle it made. A fixture the trainer cannot serve must be refused before
 * stage 1 with a coded reason, having done no work.
 *
 * Random weights give random answers, so the rule judge `rule:longer` labels them (whichever answer is longer
 * wins): the mechanics are under test here, not quality. Prompts are the user's own (stage 1 asks the model for
 * questions, which random weights cannot write).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBundle } from "../../src/core/bundle/readBundle.js";
import { inspectTrainerSupport } from "../../src/core/model/trainerSupport.js";
import { ROUTE_MODES } from "../../src/core/routing/Router.js";
import { quantizedRealModelPath, REAL_FIXTURES, type RealFixture } from "../../testkit/realModels.js";
import { trainerBinary } from "../../testkit/trainerKit.js";

const CLI = join(process.cwd(), "dist", "cli.mjs");
const QUANTS = ["F16", "Q4_K_M"] as const;
const CONFIGS = REAL_FIXTURES.flatMap((f) => QUANTS.map((q) => [f, q] as [RealFixture, (typeof QUANTS)[number]]));
const COMMON = ["--threads", "2", "--gpu", "false"];
/**
 * The full distillation runs on every architecture as Q4_K_M (the file users download, and the trainer's
 * dequantizing path) and as F16 on one: the F16 training path is the same code for every architecture and is
 * covered by the trainer's own tests, and five more distillations would cost CI ~5 minutes for nothing new.
 */
const DISTILL_F16 = new Set<RealFixture>(["qwen2"]);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function prism(args: string[], timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const PROMPTS = [
  ["writing", "Write a short, warm note thanking a colleague for covering my on-call shift."],
  ["writing", "Draft an opening paragraph for a blog post about learning to bake bread."],
  ["writing", "Rewrite this sentence to sound friendlier: 'Send me the report by noon.'"],
  ["writing", "Suggest three titles for a talk about accessible web design."],
  ["writing", "Describe a rainy evening in a small harbour town in four sentences."],
  ["writing", "Write a limerick about a cat who learns to code."],
  ["writing", "Compose a polite email declining a meeting invitation."],
  ["writing", "Give me a vivid one-paragraph description of an autumn forest."],
  ["math", "What is 17 multiplied by 23?"],
  ["math", "Is 221 a prime number? Answer yes or no."],
  ["math", "Solve for x: 3x + 7 = 22."],
  ["math", "What is the derivative of x^3 * sin(x)?"],
  ["math", "How many edges does a cube have?"],
  ["math", "Compute 2 to the power of 10."],
  ["math", "What is the sum of the interior angles of a hexagon?"],
  ["math", "Convert 0.375 to a fraction in lowest terms."],
];

describe.each(CONFIGS)("%s %s", (fixture, quant) => {
  let model: string;
  let dir: string;

  beforeAll(async () => {
    trainerBinary(); // built once (cached); distillation needs it
    model = await quantizedRealModelPath(fixture, quant);
    dir = mkdtempSync(join(tmpdir(), `prism-matrix-${fixture}-${quant}-`));
  }, 900_000);
  afterAll(() => undefined);

  it("prism info reads the model", async () => {
    const r = await prism(["info", model, "--json", ...COMMON]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.hasChatTemplate).toBe(true);
    expect(info.vocabSize).toBeGreaterThan(30_000);
    expect(info.typeDescription).toMatch(quant === "F16" ? /F16/ : /Q4_K/);
  });

  it("prism chat answers with a system prompt", async () => {
    const r = await prism([
      "chat",
      "--model",
      model,
      "--system",
      "You answer in one sentence.",
      ...COMMON,
      "--max-tokens",
      "12",
      "--timings",
      "Say hello.",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/error \[/);
    // --timings reports the prompt, which includes the system text (folded into the user turn where the
    // template has no system role).
    expect(r.stderr).toMatch(/prompt \d+ tokens/);
  });

  it.runIf(quant !== "F16" || DISTILL_F16.has(fixture))(
    "prism distill runs all five stages (or is refused before stage 1), then routes in every mode",
    async () => {
      const prompts = join(dir, "prompts.jsonl");
      writeFileSync(prompts, PROMPTS.map(([persona, prompt]) => JSON.stringify({ prompt, persona })).join("\n"));
      const out = join(dir, "b.prism");
      // prettier-ignore
      const r = await prism([
      "distill", "--model", model, "--out", out, "--prompts", prompts, "--queries-per-persona", "0",
      "--persona-ids", "writing,math", "--judge", "rule:longer", "--loss", "kl", "--gate-features", "layer:1",
      ...COMMON, "--sequences", "1", "--max-answer-tokens", "24", "--min-per-class", "2", "--min-distill", "2",
      "--epochs", "1", "--rank", "4", "--alpha", "8", "--lr", "0.001", "--window", "256", "--json",
    ], 900_000);
      const support = await inspectTrainerSupport(model, { trainerBinary: trainerBinary() });
      if (!support.supported) {
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/error \[engine\/unsupportedArchitecture\]/);
        expect(r.stderr).toContain(support.reason!);
        // Refused before stage 1: no generation happened.
        expect(existsSync(join(`${out}.job`, "answers.jsonl"))).toBe(false);
        expect(existsSync(join(`${out}.job`, "queries.jsonl"))).toBe(false);
        return;
      }
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const bundle = await readBundle(out);
      expect(bundle.manifest.baseModel.architecture).toBe(support.architecture);
      const report = JSON.parse(await readFile(join(out, "report.json"), "utf8"));
      expect(report.counts.queries).toBe(PROMPTS.length);
      expect(report.counts.distill).toBeGreaterThanOrEqual(2);
      expect(report.training.epochs.length).toBe(1);

      for (const mode of ROUTE_MODES) {
        // prettier-ignore
        const route = await prism(["route", "--bundle", out, "--mode", mode, "--json", "--max-tokens", "8", ...COMMON,
        "Write a haiku about the sea."]);
        expect(route.code, `${mode}: ${route.stderr}`).toBe(0);
        const res = JSON.parse(route.stdout);
        expect(res.gate.probability).toBeGreaterThanOrEqual(0);
        expect(res.gate.probability).toBeLessThanOrEqual(1);
        if (mode === "base" || mode === "persona") expect(res.served).toBe(mode);
        if (mode === "hard") expect(res.served).toBe(res.gate.decision);
        if (mode === "compare") expect(Object.keys(res.outputs).sort()).toEqual(["base", "persona"]);
        else expect(Object.keys(res.outputs)).toEqual([res.served]);
      }
    },
    1_200_000,
  );
});
