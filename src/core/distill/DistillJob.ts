import { mkdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { ModelSession } from "../engine/ModelSession.js";
import { AppError, isCancellation, toWireError } from "../errors.js";
import type { FeatureExtractor } from "../features/FeatureExtractor.js";
import { acquireJobLock } from "../jobs/JobLock.js";
import { JsonlLog } from "../jobs/JsonlLog.js";
import type { Judge } from "../pipeline/judges.js";
import { cleanQuery, type QueryDropReason } from "../pipeline/cleanQuery.js";
import { queryGenerationMessages } from "../pipeline/prompts.js";
import { personaMessages, studentMessages } from "../pipeline/studentPrompt.js";
import type { TextGenerator } from "../pipeline/TextGenerator.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import { assembleBundle } from "./assembleBundle.js";
import { itemSeed, settingsHash, type DistillSettings } from "./distillSettings.js";
import {
  answerRecordSchema,
  judgementRecordSchema,
  queryRecordSchema,
  type DistillLabel,
  type DistillQuery,
  type QueryAnswers,
  type QueryRecord,
} from "./distillRecords.js";
import { JobProgress, type JobSnapshot } from "./JobProgress.js";
import { runPool } from "./runPool.js";
import { stage4Gate, type GateStageResult } from "./stage4Gate.js";
import { stage5Train, type Trainer, type TrainStageResult } from "./stage5Train.js";

/** Options of {@link DistillJob}. */
export interface DistillJobOptions {
  /** Working directory: state, per-stage JSONL, intermediate files. Re-running the same job resumes here. */
  jobDir: string;
  /** Where the finished bundle goes (`<name>.prism`); replaced atomically only when complete. */
  outDir: string;
  settings: DistillSettings;
  /** Stages 1–2 text. */
  generator: TextGenerator;
  /** Stage 3. */
  judge: Judge;
  /** Stage 4 features (the same extractor the router uses). */
  features: FeatureExtractor;
  /** The base model in the engine: formats LoRA training sequences with its chat template. */
  session: ModelSession;
  /** Stage 5. */
  trainer: Trainer;
  signal?: AbortSignal;
  onProgress?(snapshot: JobSnapshot): void;
  /** Where listener errors and notes go. Defaults to nowhere. */
  log?(message: string): void;
}

/** What a finished job produced. */
export interface DistillResult {
  bundleDir: string;
  queries: number;
  distill: number;
  retain: number;
  gate: GateStageResult;
  training: TrainStageResult;
}

const STATE_VERSION = 1;

/**
 * The distillation job, stages 1–5 (docs/method.md §3) then the bundle. Every finished item is appended to its
 * stage's JSONL log at once, with a seed derived from the job seed and the item, so a re-run after a crash,
 * kill or cancel continues where it stopped, repeats nothing, and produces exactly what an uninterrupted run
 * would. One process at a time holds the job (`job/locked`).
 */
export class DistillJob {
  readonly progress: JobProgress;

  constructor(private readonly o: DistillJobOptions) {
    this.progress = new JobProgress(basename(o.jobDir), o.onProgress, (err) =>
      o.log?.(`progress listener failed: ${String(err)}`),
    );
  }

  async run(): Promise<DistillResult> {
    const { jobDir, settings, signal } = this.o;
    await mkdir(jobDir, { recursive: true });
    const lock = await acquireJobLock(jobDir);
    try {
      await this.checkState();
      const queries = await this.stage1(signal);
      const answers = await this.stage2(queries, signal);
      const labels = await this.stage3(queries, answers, signal);
      // Checked before stage 4: its features and gate are wasted work when the LoRA cannot be trained.
      assertEnoughDistill(countLabels(queries, labels, settings), settings);
      this.progress.stage(4, 0, queries.length, "gate features");
      const gate = await stage4Gate({
        jobDir,
        settings,
        queries,
        labels,
        features: this.o.features,
        progress: this.progress,
        signal,
      });
      const training = await stage5Train({
        jobDir,
        settings,
        queries,
        answers,
        labels,
        session: this.o.session,
        trainer: this.o.trainer,
        firstBlock: gate.protectedBlocks,
        progress: this.progress,
        signal,
      });
      this.progress.stage(6, 0, 1, "writing the bundle");
      const counts = countLabels(queries, labels, settings);
      await assembleBundle({ jobDir, outDir: this.o.outDir, settings, queries, labels, counts, gate, training });
      await this.writeState("done");
      this.progress.update(1, "done");
      this.progress.finish("done");
      return {
        bundleDir: this.o.outDir,
        queries: queries.length,
        distill: counts.distill,
        retain: counts.retain,
        gate,
        training,
      };
    } catch (err) {
      const cancelled = isCancellation(err) || signal?.aborted === true;
      await this.writeState(cancelled ? "cancelled" : "failed", cancelled ? undefined : toWireError(err)).catch(
        () => undefined,
      );
      this.progress.finish(cancelled ? "cancelled" : "failed", cancelled ? undefined : toWireError(err));
      throw err;
    } finally {
      await lock.release();
    }
  }

  /** A job directory belongs to one set of settings; refuse to mix. */
  private async checkState(): Promise<void> {
    const path = join(this.o.jobDir, "state.json");
    const hash = settingsHash(this.o.settings);
    let existing: { settingsHash?: string } | undefined;
    try {
      existing = JSON.parse(await readFile(path, "utf8")) as { settingsHash?: string };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new AppError("job/corrupt", `${path} is not valid JSON; delete the job directory to start over.`);
      }
    }
    if (existing && existing.settingsHash !== hash) {
      throw new AppError(
        "job/settingsChanged",
        `The job in ${this.o.jobDir} was started with other settings (model, personas, counts, seed, judge…). ` +
          "Re-run with the same settings to resume, or start it afresh (delete the job directory or pass --fresh).",
      );
    }
    await this.writeState("running");
  }

  private async writeState(status: string, error?: unknown): Promise<void> {
    const state = {
      schemaVersion: STATE_VERSION,
      settingsHash: settingsHash(this.o.settings),
      settings: this.o.settings,
      status,
      error,
      stage: this.progress.current.stage,
      updatedAt: new Date().toISOString(),
    };
    await writeFileAtomic(join(this.o.jobDir, "state.json"), JSON.stringify(state, null, 2));
  }

  private async stage1(signal?: AbortSignal): Promise<DistillQuery[]> {
    const { settings, generator } = this.o;
    const log = await JsonlLog.open(join(this.o.jobDir, "queries.jsonl"), queryRecordSchema);
    try {
      const items = settings.personas.flatMap((persona) =>
        Array.from({ length: settings.queriesPerPersona }, (_, index) => ({
          persona,
          index,
          id: `${persona.id}-${index}`,
        })),
      );
      const done = new Set(log.items.map((r) => r.id));
      this.progress.stage(1, done.size, items.length, "generating queries");
      await runPool(
        items.filter((i) => !done.has(i.id)),
        generator.concurrency,
        async ({ persona, index, id }, s) => {
          const { text: raw } = await generator.generate(queryGenerationMessages(persona.text, index + 1), {
            ...settings.query,
            seed: itemSeed(settings.seed, `query:${id}`),
            signal: s,
          });
          const cleaned = cleanQuery(raw);
          await log.append({ id, personaId: persona.id, index, raw, query: cleaned.query, drop: cleaned.drop });
          done.add(id);
          this.progress.update(done.size);
        },
        signal,
      );
      const queries = buildQueryList(settings, log.items);
      if (queries.length === 0) throw noQueriesError(settings, log.items);
      return queries;
    } finally {
      await log.close();
    }
  }

  private async stage2(queries: DistillQuery[], signal?: AbortSignal): Promise<Map<string, QueryAnswers>> {
    const { settings, generator } = this.o;
    const personas = new Map(settings.personas.map((p) => [p.id, p.text]));
    const log = await JsonlLog.open(join(this.o.jobDir, "answers.jsonl"), answerRecordSchema);
    try {
      const key = (id: string, side: string) => `${id}:${side}`;
      const done = new Set(log.items.map((r) => key(r.id, r.side)));
      const items = queries.flatMap((q) => (["base", "persona"] as const).map((side) => ({ q, side })));
      this.progress.stage(2, items.filter((i) => done.has(key(i.q.id, i.side))).length, items.length, "answering");
      await runPool(
        items.filter((i) => !done.has(key(i.q.id, i.side))),
        generator.concurrency,
        async ({ q, side }, s) => {
          const messages =
            side === "base" ? studentMessages(q.query) : personaMessages(personas.get(q.personaId)!, q.query);
          const { text, stop } = await generator.generate(messages, {
            ...settings.answer,
            seed: itemSeed(settings.seed, `answer:${q.id}:${side}`),
            signal: s,
          });
          await log.append({ id: q.id, side, text, stop });
          done.add(key(q.id, side));
          this.progress.update(done.size);
        },
        signal,
      );
      const answers = new Map<string, QueryAnswers>();
      for (const r of log.items) {
        const entry = answers.get(r.id) ?? { base: "", persona: "" };
        entry[r.side] = r.text;
        if (r.stop) entry[r.side === "base" ? "baseStop" : "personaStop"] = r.stop;
        answers.set(r.id, entry);
      }
      return answers;
    } finally {
      await log.close();
    }
  }

  private async stage3(
    queries: DistillQuery[],
    answers: Map<string, QueryAnswers>,
    signal?: AbortSignal,
  ): Promise<Map<string, DistillLabel>> {
    const { settings, judge } = this.o;
    const log = await JsonlLog.open(join(this.o.jobDir, "judgements.jsonl"), judgementRecordSchema);
    try {
      const key = (id: string, pass: number) => `${id}:${pass}`;
      const done = new Set(log.items.map((r) => key(r.id, r.pass)));
      const items = queries.flatMap((q) => ([1, 2] as const).map((pass) => ({ q, pass })));
      this.progress.stage(3, items.filter((i) => done.has(key(i.q.id, i.pass))).length, items.length, "judging");
      await runPool(
        items.filter((i) => !done.has(key(i.q.id, i.pass))),
        judge.concurrency,
        async ({ q, pass }, s) => {
          const a = answers.get(q.id)!;
          // Both orders, so that a judge's position bias cancels out (docs/method.md §3.3).
          const [answerA, answerB] = pass === 1 ? [a.base, a.persona] : [a.persona, a.base];
          const v = await judge.judge({
            question: q.query,
            answerA,
            answerB,
            seed: itemSeed(settings.seed, `judge:${q.id}:${pass}`),
            signal: s,
          });
          await log.append({ id: q.id, pass, verdict: v.verdict, raw: v.raw });
          done.add(key(q.id, pass));
          this.progress.update(done.size);
        },
        signal,
      );
      const verdicts = new Map<string, { 1?: string; 2?: string }>();
      for (const r of log.items) verdicts.set(r.id, { ...verdicts.get(r.id), [r.pass]: r.verdict });
      const labels = new Map<string, DistillLabel>();
      for (const q of queries) {
        const v = verdicts.get(q.id);
        labels.set(q.id, v?.[1] === "B" && v?.[2] === "A" ? "distill" : "retain");
      }
      return labels;
    } finally {
      await log.close();
    }
  }
}

/**
 * The stage-1 query list, a pure function of the records: the user's prompts first (personas round-robin where
 * none is given), then generated queries in persona and index order; cleaned-away and case-insensitive
 * duplicate queries dropped. Being pure, it is identical whatever order the records were written in.
 */
export function buildQueryList(
  settings: DistillSettings,
  records: ReadonlyArray<{ id: string; personaId: string; index: number; query?: string }>,
): DistillQuery[] {
  const personaIds = settings.personas.map((p) => p.id);
  const out: DistillQuery[] = [];
  const seen = new Set<string>();
  const add = (q: DistillQuery): void => {
    const key = q.query.trim().toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push(q);
  };
  settings.userPrompts.forEach((p, i) => {
    const personaId = p.personaId ?? personaIds[i % personaIds.length]!;
    if (!personaIds.includes(personaId)) {
      throw new AppError(
        "distill/invalidPrompts",
        `User prompt ${i + 1} names persona "${personaId}", which is not in the persona set.`,
      );
    }
    add({ id: `user-${i}`, personaId, query: p.prompt.trim(), source: "user" });
  });
  const order = new Map(personaIds.map((id, i) => [id, i]));
  const generated = records
    .filter((r) => r.query !== undefined && order.has(r.personaId))
    .sort((a, b) => order.get(a.personaId)! - order.get(b.personaId)! || a.index - b.index);
  for (const r of generated) add({ id: r.id, personaId: r.personaId, query: r.query!, source: "generated" });
  return out;
}

/** How many characters of a generation an error message quotes. */
const EXAMPLE_CHARS = 200;

/**
 * Stage 1 left nothing to distil (`distill/emptyDataset`): how many generations were attempted, why each was
 * dropped, and one example of what the model wrote, so a model that refuses, only thinks or ignores the format
 * is recognisable from the message alone.
 */
export function noQueriesError(settings: DistillSettings, records: readonly QueryRecord[]): AppError {
  const dropped: Partial<Record<QueryDropReason, number>> = {};
  for (const r of records) {
    // Logs written before drop reasons were recorded: re-derive the reason from the raw text.
    const reason = r.drop ?? cleanQuery(r.raw).drop ?? "duplicate";
    dropped[reason] = (dropped[reason] ?? 0) + 1;
  }
  const reasons = Object.entries(dropped)
    // most frequent first; ties by name, since records arrive in whatever order the parallel generations finished
    .sort(([ra, a], [rb, b]) => b - a || ra.localeCompare(rb))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
  const order = new Map(settings.personas.map((p, i) => [p.id, i]));
  const sample = [...records]
    .sort((a, b) => (order.get(a.personaId) ?? 0) - (order.get(b.personaId) ?? 0) || a.index - b.index)
    .find((r) => r.raw.trim());
  const example = sample
    ? sample.raw.length > EXAMPLE_CHARS
      ? `${sample.raw.slice(0, EXAMPLE_CHARS)}…`
      : sample.raw
    : undefined;
  const message =
    records.length === 0
      ? "Stage 1 produced no queries: no generations were attempted and there are no prompts of your own."
      : `Stage 1 produced no usable queries: all ${records.length} generations were dropped (${reasons}). ` +
        (example === undefined
          ? "The model wrote nothing. "
          : `For example, the model wrote ${JSON.stringify(example)}. `) +
        "Use an instruction-tuned chat model, raise the query token limit if it thinks at length, or bring your own prompts.";
  return new AppError("distill/emptyDataset", message, { stage: 1, attempted: records.length, dropped, example });
}

/** The stage-5 guard, checked as soon as the labels are known: too few distill samples to train the LoRA. */
export function assertEnoughDistill(counts: { distill: number; retain: number }, settings: DistillSettings): void {
  if (counts.distill >= settings.minDistill) return;
  throw new AppError(
    "distill/emptyDataset",
    `Only ${counts.distill} of ${counts.distill + counts.retain} queries were labelled distill (the persona answer ` +
      `won both judge passes); at least ${settings.minDistill} are needed to train the LoRA. Generate more queries ` +
      "(--queries-per-persona), bring your own prompts, or use a stronger judge.",
    { distill: counts.distill, retain: counts.retain, minimum: settings.minDistill },
  );
}

/** Distill/retain counts, overall and per persona. */
export function countLabels(queries: DistillQuery[], labels: Map<string, DistillLabel>, settings: DistillSettings) {
  const perPersona: Record<string, { queries: number; distill: number; retain: number; distillRate: number }> = {};
  for (const p of settings.personas) perPersona[p.id] = { queries: 0, distill: 0, retain: 0, distillRate: 0 };
  let distill = 0;
  for (const q of queries) {
    const entry = perPersona[q.personaId]!;
    entry.queries++;
    if (labels.get(q.id) === "distill") {
      entry.distill++;
      distill++;
    } else entry.retain++;
  }
  for (const entry of Object.values(perPersona)) entry.distillRate = entry.queries ? entry.distill / entry.queries : 0;
  return { queries: queries.length, distill, retain: queries.length - distill, perPersona };
}
