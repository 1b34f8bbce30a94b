import { personaMessages, studentMessages } from "../pipeline/studentPrompt.js";
import { itemSeed } from "./distillSettings.js";
import { answerRecordSchema, type AnswerRecord, type DistillQuery, type QueryAnswers } from "./distillRecords.js";
import type { DistillStage, StageContext } from "./DistillStage.js";
import { runStageItems } from "./runStageItems.js";

/** One answer to generate: `query` answered by the base model or by its persona. */
interface AnswerItem {
  query: DistillQuery;
  side: AnswerRecord["side"];
}

/**
 * Stage 2 (docs/method.md §3.2): two answers per query, the base model's (the student prompt, no persona) and the
 * query's own persona's (persona as system message), each with why it stopped (`answers.jsonl`).
 */
export const stage2Answers: DistillStage<{ queries: DistillQuery[] }, { answers: Map<string, QueryAnswers> }> = {
  number: 2,
  name: "answers",
  async run(ctx, { queries }) {
    // Persona answers first, one persona after another, so each sequence keeps a persona's prefix for all of its
    // queries (docs/engine.md §11); then the base answers, which share nothing. Results do not depend on the order.
    const personaOrder = new Map(ctx.settings.personas.map((p, i) => [p.id, i]));
    const byPersona = [...queries].sort((a, b) => personaOrder.get(a.personaId)! - personaOrder.get(b.personaId)!);
    const items: AnswerItem[] = [
      ...byPersona.map((query) => ({ query, side: "persona" as const })),
      ...queries.map((query) => ({ query, side: "base" as const })),
    ];
    const records = await runStageItems(ctx, {
      stage: 2,
      message: "answering",
      log: "answers.jsonl",
      schema: answerRecordSchema,
      items,
      itemKey: (item) => `${item.query.id}:${item.side}`,
      recordKey: (record) => `${record.id}:${record.side}`,
      concurrency: ctx.generator.concurrency,
      work: (item, signal) => generateAnswer(ctx, item, signal),
    });
    return { answers: collectAnswers(records) };
  },
};

/** Where a persona answer's prompt stops being the same for every query of its persona: after the system message. */
const PERSONA_PREFIX = { messages: 1, chars: 0 };

/** One answer: the engine call of stage 2. */
async function generateAnswer(ctx: StageContext, item: AnswerItem, signal: AbortSignal): Promise<AnswerRecord> {
  const { settings, generator } = ctx;
  const { query: q, side } = item;
  const persona = settings.personas.find((p) => p.id === q.personaId)!;
  const messages = side === "base" ? studentMessages(q.query) : personaMessages(persona.text, q.query);
  const { text, stop } = await generator.generate(messages, {
    ...settings.answer,
    seed: itemSeed(settings.seed, `answer:${q.id}:${side}`),
    signal,
    // the persona, a system message of a few hundred tokens, is the same for every query of its persona
    sharedPrefix: side === "persona" ? PERSONA_PREFIX : undefined,
  });
  return { id: q.id, side, text, stop };
}

/** The records of `answers.jsonl` as one entry per query, with why each answer stopped where known. */
function collectAnswers(records: readonly AnswerRecord[]): Map<string, QueryAnswers> {
  const answers = new Map<string, QueryAnswers>();
  for (const r of records) {
    const entry = answers.get(r.id) ?? { base: "", persona: "" };
    entry[r.side] = r.text;
    if (r.stop) entry[r.side === "base" ? "baseStop" : "personaStop"] = r.stop;
    answers.set(r.id, entry);
  }
  return answers;
}
