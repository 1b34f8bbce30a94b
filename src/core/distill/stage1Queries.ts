import { AppError } from "../errors.js";
import { cleanQuery, type QueryDropReason } from "../pipeline/cleanQuery.js";
import type { Persona } from "../pipeline/personas.js";
import { queryGenerationMessages, queryGenerationPrefix } from "../pipeline/prompts.js";
import { itemSeed, type DistillSettings } from "./distillSettings.js";
import { queryRecordSchema, type DistillQuery, type QueryRecord } from "./distillRecords.js";
import type { DistillStage, StageContext } from "./DistillStage.js";
import { runStageItems } from "./runStageItems.js";

/** One query to generate: the `index`-th of `persona`. */
interface QueryItem {
  persona: Persona;
  index: number;
  id: string;
}

/**
 * Stage 1 (docs/method.md §3.1): `queriesPerPersona` generations per persona, each cleaned into one query or
 * dropped with a reason (`queries.jsonl`), then the query list — the user's prompts first. No usable query fails
 * here with `distill/emptyDataset`, saying why.
 */
export const stage1Queries: DistillStage<object, { queries: DistillQuery[] }> = {
  number: 1,
  name: "queries",
  async run(ctx) {
    const { settings, generator } = ctx;
    const items = settings.personas.flatMap((persona) =>
      Array.from({ length: settings.queriesPerPersona }, (_, index) => ({
        persona,
        index,
        id: `${persona.id}-${index}`,
      })),
    );
    const records = await runStageItems(ctx, {
      stage: 1,
      message: "generating queries",
      log: "queries.jsonl",
      schema: queryRecordSchema,
      items,
      itemKey: (item) => item.id,
      recordKey: (record) => record.id,
      concurrency: generator.concurrency,
      work: (item, signal) => generateQuery(ctx, item, signal),
    });
    const queries = buildQueryList(settings, records);
    if (queries.length === 0) throw noQueriesError(settings, records);
    return { queries };
  },
};

/** One generation with the §9.1 prompt, cleaned into a query (or a drop reason). */
async function generateQuery(ctx: StageContext, item: QueryItem, signal: AbortSignal): Promise<QueryRecord> {
  const { settings, generator } = ctx;
  const { persona, index, id } = item;
  const { text: raw } = await generator.generate(queryGenerationMessages(persona.text, index + 1), {
    ...settings.query,
    seed: itemSeed(settings.seed, `query:${id}`),
    signal,
    sharedPrefix: queryGenerationPrefix(persona.text),
  });
  const cleaned = cleanQuery(raw);
  return { id, personaId: persona.id, index, raw, query: cleaned.query, drop: cleaned.drop };
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
