import * as z from "zod";

/**
 * Which hidden state feeds the gate. `final`: the model's own prompt embedding (last token after the final
 * norm). `layer k`: the state after block k-1, read from a truncated k-block copy of the model (node-llama-cpp
 * exposes no per-layer states); k = 1 is the paper's gate input and costs about 1/L of a prompt pass.
 */
export const featureSpecSchema = z.discriminatedUnion("source", [
  z.object({ source: z.literal("final"), pooling: z.enum(["last", "mean"]).default("last") }),
  z.object({
    source: z.literal("layer"),
    layer: z.number().int().min(1).max(512),
    pooling: z.enum(["last", "mean"]).default("last"),
  }),
]);
/** Which hidden state feeds the gate. */
export type FeatureSpec = z.output<typeof featureSpecSchema>;

/**
 * How many leading blocks a LoRA must leave untouched so the gate's input cannot depend on it: all blocks
 * below the feature depth (the paper's reason for skipping block 0). `final` features always come from a
 * separate adapter-free embedding context, so they constrain nothing.
 */
export function protectedBlocks(spec: FeatureSpec): number {
  return spec.source === "layer" ? spec.layer : 0;
}

/** Parses the CLI form `final`, `layer:K`, optionally `…/mean`. */
export function parseFeatureSpec(text: string): FeatureSpec | undefined {
  const m = /^(final|layer:(\d+))(\/(last|mean))?$/.exec(text.trim());
  if (!m) return undefined;
  const pooling = (m[4] ?? "last") as "last" | "mean";
  return m[2] ? { source: "layer", layer: Number(m[2]), pooling } : { source: "final", pooling };
}

/** The CLI/display form of a spec. */
export function formatFeatureSpec(spec: FeatureSpec): string {
  const base = spec.source === "final" ? "final" : `layer:${spec.layer}`;
  return spec.pooling === "last" ? base : `${base}/mean`;
}
