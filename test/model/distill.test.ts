import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBundle } from "../../src/core/bundle/readBundle.js";
import { SeededRandom } from "../../src/core/util/SeededRandom.js";
import { fixtures } from "./harness.js";

const CLI = join(process.cwd(), "dist", "cli.mjs");
const ARGS = [
  "--persona-ids",
  "writing,math,coding",
  "--queries-per-persona",
  "6",
  "--judge",
  "rule:longer",
  "--threads",
  "1",
  "--gpu",
  "false",
  // One sequence: with several, batch composition (timing-dependent) changes float rounding and so sampled
  // text, and the comparison with an uninterrupted run below needs bit-reproducible generations.
  "--sequences",
  "1",
  "--max-query-tokens",
  "48",
  "--max-answer-tokens",
  "32",
  "--min-per-class",
  "2",
  "--min-distill",
  "2",
  "--epochs",
  "2",
  "--rank",
  "4",
  "--alpha",
  "8",
  "--lr",
  "0.001",
  "--window",
  "256",
  "--json",
];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `prism distill`; with `killAfterMs`, SIGKILLs it (and only it: the engine and trainer must notice). */
function distill(out: string, killAfterMs?: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, "distill", "--model", fixtures.distill, "--out", out, ...ARGS]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The JSONL records of a stage, sorted, so runs that finished items in another order compare equal. */
async function records(dir: string, file: string): Promise<string[]> {
  const path = join(dir, file);
  if (!existsSync(path)) return [];
  return (await readFile(path, "utf8")).split("\n").filter(Boolean).sort();
}

describe("prism distill end to end", () => {
  let dir: string;
  let reference: string;
  let referenceRun: Run;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "prism-distill-"));
    reference = join(dir, "ref.prism");
    referenceRun = await distill(reference);
    expect(referenceRun.code, referenceRun.stderr).toBe(0);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("produces a complete, loadable bundle with all five stages' data", async () => {
    const bundle = await readBundle(reference);
    expect(bundle.manifest.metrics.queries).toBeGreaterThan(6);
    expect(bundle.manifest.adapter.firstBlock).toBe(1);
    expect(await readdir(join(reference, "data"))).toEqual(
      expect.arrayContaining(["queries.jsonl", "answers.jsonl", "judgements.jsonl", "labels.jsonl", "train.jsonl"]),
    );
    const report = JSON.parse(await readFile(join(reference, "report.json"), "utf8"));
    expect(report.counts.distill + report.counts.retain).toBe(report.counts.queries);
    expect(report.training.epochs.length).toBeGreaterThan(0);
    expect(Object.keys(report.gate.routingRatePerPersona)).toEqual(["writing", "math", "coding"]);
    // a new job is calibrated first; its progress carries the whole job's ETA and the report the time per stage
    expect(referenceRun.stderr).toMatch(/^estimate: stage 1 queries: \d+ items/m);
    expect(referenceRun.stderr).toMatch(/; job ~\d+ (s|min) left\)/);
    expect(referenceRun.stderr).toMatch(/^time estimated \/ actual: /m);
    expect(report.cost.map((r: { stage: number }) => r.stage)).toEqual([1, 2, 3, 4, 5]);
    for (const row of report.cost) expect(row.actualSeconds).toBeGreaterThan(0);
    expect(JSON.parse(referenceRun.stdout).cost).toEqual(report.cost);
  });

  it("route --json answers with the trained bundle", async () => {
    const r = await new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, [
        CLI,
        "route",
        "--bundle",
        reference,
        "--threads",
        "1",
        "--gpu",
        "false",
        "--mode",
        "compare",
        "--json",
        "--max-tokens",
        "8",
        "Tell me about the sea.",
      ]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.gate.probability).toBeGreaterThanOrEqual(0);
    expect(out.gate.probability).toBeLessThanOrEqual(1);
    expect(["base", "persona"]).toContain(out.served);
    expect(typeof out.outputs.base).toBe("string");
    expect(typeof out.outputs.persona).toBe("string");
    expect(out.timings.persona.scale).toBe(1);
  });

  it("killed at seeded random moments, re-runs finish with exactly the uninterrupted run's data and redo nothing", async () => {
    const out = join(dir, "killed.prism");
    const rng = new SeededRandom(2026);
    const kills: number[] = [];
    let finished: Run | undefined;
    for (let attempt = 0; attempt < 12 && !finished; attempt++) {
      // Early attempts die fast (engine start, stage 1); later ones get further before the kill.
      const delay = attempt < 8 ? Math.round(800 + rng.float() * 5000) : undefined;
      const r = await distill(out, delay);
      if (r.signal === "SIGKILL") {
        kills.push(delay!);
        // The previous bundle (none yet) is never half-written: a bundle dir exists only when complete.
        if (existsSync(out)) await readBundle(out);
        continue;
      }
      expect(r.code, r.stderr).toBe(0);
      finished = r;
    }
    expect(finished).toBeDefined();
    expect(kills.length).toBeGreaterThanOrEqual(3);
    for (const file of ["queries.jsonl", "answers.jsonl", "judgements.jsonl", "labels.jsonl", "train.jsonl"]) {
      const a = await records(join(reference, "data"), file);
      const b = await records(join(out, "data"), file);
      expect(b, file).toEqual(a);
    }
    // No item done twice: every (id, side/pass) appears once in the job's logs.
    for (const [file, key] of [
      ["queries.jsonl", (r: { id: string }) => r.id],
      ["answers.jsonl", (r: { id: string; side: string }) => `${r.id}:${r.side}`],
      ["judgements.jsonl", (r: { id: string; pass: number }) => `${r.id}:${r.pass}`],
    ] as const) {
      const ids = (await records(`${out}.job`, file)).map((l) => (key as (r: never) => string)(JSON.parse(l) as never));
      expect(new Set(ids).size, file).toBe(ids.length);
    }
    const gateA = JSON.parse(await readFile(join(reference, "gate.json"), "utf8"));
    const gateB = JSON.parse(await readFile(join(out, "gate.json"), "utf8"));
    expect(gateB.w1).toEqual(gateA.w1);
    await readBundle(out);
  });

  it("refuses a second concurrent run of the same job", async () => {
    const out = join(dir, "locked.prism");
    const first = distill(out);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await distill(out);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/error \[job\/locked\]/);
    expect((await first).code).toBe(0);
  });
});
