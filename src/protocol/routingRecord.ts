import * as z from "zod";

const sideSchema = z.object({
  timeToFirstTokenMs: z.number(),
  tokensPerSecond: z.number(),
  generatedTokens: z.number(),
});

/** One routed prompt, as the routing log stores it. */
export const routingRecordSchema = z.object({
  time: z.string(),
  /** The prompt text, when the log keeps prompts. */
  prompt: z.string().optional(),
  /** sha256 of the prompt, always present (so history can be de-duplicated without the text). */
  promptHash: z.string(),
  probability: z.number(),
  threshold: z.number(),
  decision: z.enum(["base", "persona"]),
  mode: z.enum(["hard", "soft", "base", "persona", "compare"]),
  served: z.enum(["base", "persona"]),
  featureMs: z.number(),
  gateMs: z.number(),
  sides: z.object({ base: sideSchema.optional(), persona: sideSchema.optional() }),
});
/** One routed prompt, as the routing log stores it. */
export type RoutingRecord = z.infer<typeof routingRecordSchema>;
