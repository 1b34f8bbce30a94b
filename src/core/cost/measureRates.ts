import type { ModelSession } from "../engine/ModelSession.js";
import { DEFAULT_PERSONAS } from "../pipeline/personas.js";
import type { CostRates } from "./estimateDistillCost.js";

/** Options of {@link measureRates}. */
export interface MeasureRatesOptions {
  threads: number;
  /** The generator's parallel sequences: decoding is measured at that concurrency. */
  sequences: number;
  contextSize: number;
  /** Tokens each calibration generation decodes. */
  tokens?: number;
  /**
   * The session context to measure in, created with these options if it does not exist. The job's generator
   * context (`generatorContextKey`) is measured in place and left warm for stage 1; without a key the calibration
   * uses a context of its own and disposes it.
   */
  contextKey?: string;
  signal?: AbortSignal;
}

/** This machine's rates for the session's model, and its tokenizer's density. */
export interface MeasuredRates extends CostRates {
  tokensPerChar: number;
  /** Wall time the calibration took. */
  ms: number;
}

/**
 * Training (window) tokens per second as a share of prompt-evaluation tokens per second. Training runs the trained
 * positions through the output matrix and backward through every block (prompt evaluation computes logits for the
 * last position only). Measured 0.226 in a whole `quick` job on the 0.5B shape (Q4_K_M, 152k vocabulary, 512-token
 * windows, patches 0009–0012: 21.3 window tok/s against a calibrated 94.1 prompt tok/s; docs/method.md §7) and 0.37
 * at a 259-token vocabulary (docs/trainer.md §11). The 0.5B figure is used: it is the shape users bring.
 */
export const TRAIN_TO_PROMPT_RATE = 0.22;

/** Tokens of the calibration's prompt pass: long enough to time, short enough to keep the calibration brief. */
const CALIBRATION_PROMPT_TOKENS = 256;

/**
 * A short calibration (seconds): a warm-up generation, one prompt of about 256 tokens, and `sequences` generations
 * decoded concurrently in one context, as stages 1–3 run them.
 */
export async function measureRates(session: ModelSession, o: MeasureRatesOptions): Promise<MeasuredRates> {
  const started = performance.now();
  const { modelId } = await session.model(o.signal);
  const prose = DEFAULT_PERSONAS.map((p) => p.text).join("\n\n");
  const { tokens } = await session.engine.request("engine/countTokens", { modelId, text: prose }, { signal: o.signal });
  const key = o.contextKey ?? "calibration";
  const contextId = await session.context(
    key,
    { contextSize: o.contextSize, sequences: o.sequences, threads: o.threads },
    o.signal,
  );
  try {
    const generate = (content: string, maxTokens: number, seed: number) =>
      session.engine.request(
        "engine/generate",
        { contextId, messages: [{ role: "user", content }], maxTokens, temperature: 0.7, seed, thoughts: "discourage" },
        { signal: o.signal },
      );
    // A first short generation pages the weights in; a cold pass would make the machine look several times slower.
    await generate("Hello.", 4, 0);
    // The prompt: persona prose, about CALIBRATION_PROMPT_TOKENS long (or half the context, if that is less).
    const promptTokens = Math.min(CALIBRATION_PROMPT_TOKENS, Math.floor(o.contextSize / 2));
    const promptChars = Math.floor((promptTokens * prose.length) / Math.max(1, tokens));
    const warm = await generate(prose.slice(0, Math.min(prose.length, promptChars)), 1, 1);
    const promptTokensPerSecond = (warm.timings.promptTokens * 1000) / Math.max(1, warm.timings.promptMs);

    const decode = o.tokens ?? 32;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: o.sequences }, (_, i) =>
        generate(`Write a short story about the number ${i + 1}.`, decode, i),
      ),
    );
    const wallMs = performance.now() - t0;
    const promptMs = Math.max(...results.map((r) => r.timings.promptMs));
    const generated = results.reduce((n, r) => n + r.timings.generatedTokens, 0);
    const generatedTokensPerSecond = (generated * 1000) / Math.max(1, wallMs - promptMs);
    return {
      promptTokensPerSecond,
      generatedTokensPerSecond,
      trainTokensPerSecond: promptTokensPerSecond * TRAIN_TO_PROMPT_RATE,
      tokensPerChar: tokens / Math.max(1, prose.length),
      ms: performance.now() - started,
    };
  } finally {
    if (!o.contextKey) await session.disposeContext(key);
  }
}
