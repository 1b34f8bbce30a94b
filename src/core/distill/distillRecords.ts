import * as z from "zod";
import { QUERY_DROP_REASONS } from "../pipeline/cleanQuery.js";
import { GENERATION_STOPS, type GenerationStop } from "../pipeline/TextGenerator.js";

/**
 * Stage 1: one generation attempt for (persona, index); `query` is absent when cleaning dropped it, and `drop`
 * says why (absent in logs written before drop reasons were recorded).
 */
export const queryRecordSchema = z.object({
  id: z.string(),
  personaId: z.string(),
  index: z.number().int(),
  raw: z.string(),
  query: z.string().optional(),
  drop: z.enum(QUERY_DROP_REASONS).optional(),
});
export type QueryRecord = z.infer<typeof queryRecordSchema>;

/**
 * Stage 2: one answer, `base` (no persona) or `persona` (persona as system message), and why its generation
 * stopped (`maxTokens`: cut by the answer token limit; absent in logs written before it was recorded).
 */
export const answerRecordSchema = z.object({
  id: z.string(),
  side: z.enum(["base", "persona"]),
  text: z.string(),
  stop: z.enum(GENERATION_STOPS).optional(),
});
export type AnswerRecord = z.infer<typeof answerRecordSchema>;

/** One query's two stage-2 answers, with why each stopped where known. */
export interface QueryAnswers {
  base: string;
  persona: string;
  baseStop?: GenerationStop;
  personaStop?: GenerationStop;
}

/** Stage 3: one judge pass; pass 1 has A = base, pass 2 has A = persona. */
export const judgementRecordSchema = z.object({
  id: z.string(),
  pass: z.union([z.literal(1), z.literal(2)]),
  verdict: z.enum(["A", "B", "TIE"]),
  raw: z.string(),
});
export type JudgementRecord = z.infer<typeof judgementRecordSchema>;

/** Stage 4: the gate feature of one query's student prompt (float32, base64). */
export const featureRecordSchema = z.object({ id: z.string(), feature: z.string() });
export type FeatureRecord = z.infer<typeof featureRecordSchema>;

/** A query that survived cleaning and de-duplication, with the persona that answers it. */
export interface DistillQuery {
  id: string;
  personaId: string;
  query: string;
  source: "generated" | "user";
}

/** Stage 3 label: distill iff the persona answer wins both passes. */
export type DistillLabel = "distill" | "retain";

/** float32 vector ⇄ base64: 4 bytes per value instead of ~20 as JSON text. */
export function encodeFeature(vector: readonly number[]): string {
  return Buffer.from(Float32Array.from(vector).buffer).toString("base64");
}

export function decodeFeature(text: string): number[] {
  const bytes = Buffer.from(text, "base64");
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}
