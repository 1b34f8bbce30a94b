import type { DistillSettings } from "../distill/distillSettings.js";
import { JUDGE_ANSWER_CHARS } from "../pipeline/prompts.js";
import { JUDGE_MAX_TOKENS } from "../pipeline/judges.js";

/**
 * Throughputs of this machine for this model, measured by `measureRates` (or taken from a finished stage):
 * prompt evaluation, aggregate decoding over the generator's parallel sequences, and LoRA training.
 */
export interface CostRates {
  promptTokensPerSecond: number;
  generatedTokensPerSecond: number;
  trainTokensPerSecond: number;
}

/** What is known about the job so far; each fact replaces an assumption (so the estimate converges). */
export interface CostObservations {
  /** Queries stage 1 kept (user prompts included). */
  queries?: number;
  /** Mean tokens of a generated query. */
  queryTokens?: number;
  /** Mean tokens of stage 2's answers. */
  answerTokens?: number;
  /** Queries stage 3 labelled distill. */
  distill?: number;
  /** Queries stage 3 judged a second time (their first pass chose the persona answer). */
  secondPasses?: number;
}

/** How the estimate is made: the model's token density and who generates and judges. */
export interface CostContext {
  rates: CostRates;
  /** Tokens per character of this model's tokenizer on English prose (about 0.25–0.3). */
  tokensPerChar: number;
  /** Stage 3 runs on this machine (the self-judge); a rule or a remote judge costs nothing here. */
  localJudge: boolean;
  /** Stages 1–2 run on this machine; a remote generator's time is not estimated. */
  localGenerator: boolean;
  /** Fraction of a prompt pass that one gate feature costs (`layer:K` reads K of L blocks). */
  featurePassFraction: number;
  /**
   * The local generator's parallel sequences: each evaluates a shared prompt prefix (a persona, the judge's
   * instructions) once and keeps it (docs/engine.md §11). Defaults to 1.
   */
  sequences?: number;
  observed?: CostObservations;
}

/** The work of one stage and its estimated seconds. */
export interface StageCost {
  stage: 1 | 2 | 3 | 4 | 5;
  /** Generations, judge passes, feature passes or training steps. */
  items: number;
  promptTokens: number;
  generatedTokens: number;
  /** Stage 5: tokens the trainer runs forward and backward (all epochs). */
  trainTokens: number;
  seconds: number;
}

/** A whole job's estimate, with the assumptions still in it. */
export interface DistillCost {
  stages: StageCost[];
  totalSeconds: number;
  /** The assumptions that no observation has replaced yet, in words. */
  assumptions: string[];
}

/**
 * Until measured: a generated query fills this many tokens (they are one sentence), an answer this share of its
 * token limit, and this share of queries is labelled distill (the paper reports about a third to a half).
 */
export const ASSUMED_QUERY_TOKENS = 48;
export const ASSUMED_ANSWER_FILL = 0.7;
export const ASSUMED_DISTILL_SHARE = 0.4;
/**
 * Until measured: this share of queries gets a second judge pass (the first chose the persona). At least the
 * distill share, since distill needs both passes; more where the judge's two passes disagree.
 */
export const ASSUMED_SECOND_PASS_SHARE = 0.5;
/** Chat-template tokens around each message (role markers, turn ends). */
const TEMPLATE_TOKENS_PER_MESSAGE = 6;
/** Teacher scoring costs this many prompt passes of the same tokens (bench:score, docs/engine.md). */
const SCORING_PASS_FACTOR = 1.3;
/** Packed windows are about this full (samples do not split across windows). */
const WINDOW_FILL = 0.85;
/** The judge prompt's fixed text (system + user framing), in characters; of it, the user turn's framing. */
const JUDGE_FRAME_CHARS = 420;
const JUDGE_USER_FRAME_CHARS = 90;
/** What a stage-1 prompt adds to its persona's shared prefix: `Question i:` and the generation prompt. */
const QUERY_SUFFIX_TOKENS = 10;
/** The query-generation prompt's fixed text, in characters. */
const QUERY_FRAME_CHARS = 420;

/**
 * The work a distillation will do and how long it should take here: generated and prompt tokens per stage,
 * training tokens, seconds at `rates`. Pure; each observation passed in replaces the matching assumption
 * (docs/method.md §7).
 */
export function estimateDistillCost(settings: DistillSettings, ctx: CostContext): DistillCost {
  const o = ctx.observed ?? {};
  const assumptions: string[] = [];
  const tok = (chars: number): number => Math.ceil(chars * ctx.tokensPerChar);
  const { promptTokensPerSecond: pRate, generatedTokensPerSecond: gRate, trainTokensPerSecond: tRate } = ctx.rates;
  const seconds = (prompt: number, generated: number): number => prompt / pRate + generated / gRate;
  const personaTokens =
    settings.personas.reduce((n, p) => n + tok(p.text.length), 0) / settings.personas.length +
    TEMPLATE_TOKENS_PER_MESSAGE;

  // A shared prefix is evaluated once per sequence that runs its prompts (at most once per prompt).
  const loads = (prompts: number): number => Math.min(prompts, ctx.sequences ?? 1);

  // Stage 1: one generation per (persona, index); all of a persona's prompt but "Question i:" is shared.
  const generations = settings.personas.length * settings.queriesPerPersona;
  const queryTokens = o.queryTokens ?? Math.min(settings.query.maxTokens, ASSUMED_QUERY_TOKENS);
  if (o.queryTokens === undefined) assumptions.push(`a generated query is about ${queryTokens} tokens`);
  const s1Prefix = personaTokens + tok(QUERY_FRAME_CHARS) + 2 * TEMPLATE_TOKENS_PER_MESSAGE;
  const s1Prompt =
    settings.personas.length * loads(settings.queriesPerPersona) * s1Prefix + generations * QUERY_SUFFIX_TOKENS;
  const s1Generated = generations * queryTokens;
  const stage1: StageCost = {
    stage: 1,
    items: generations,
    promptTokens: s1Prompt,
    generatedTokens: s1Generated,
    trainTokens: 0,
    seconds: ctx.localGenerator ? seconds(s1Prompt, s1Generated) : 0,
  };

  // Stage 2: base and persona answer per kept query.
  const queries = o.queries ?? generations + settings.userPrompts.length;
  if (o.queries === undefined) assumptions.push("every generated query is kept");
  const answerTokens = o.answerTokens ?? Math.round(settings.answer.maxTokens * ASSUMED_ANSWER_FILL);
  if (o.answerTokens === undefined)
    assumptions.push(
      `answers fill ${Math.round(ASSUMED_ANSWER_FILL * 100)} % of their ${settings.answer.maxTokens}-token limit`,
    );
  const studentTokens = queryTokens + TEMPLATE_TOKENS_PER_MESSAGE;
  const s2Prompt = queries * 2 * studentTokens + settings.personas.length * loads(queries) * personaTokens;
  const s2Generated = 2 * queries * answerTokens;
  const stage2: StageCost = {
    stage: 2,
    items: 2 * queries,
    promptTokens: s2Prompt,
    generatedTokens: s2Generated,
    trainTokens: 0,
    seconds: ctx.localGenerator ? seconds(s2Prompt, s2Generated) : 0,
  };

  // Stage 3: one pass per query and a second where the first chose the persona; answers truncated for the judge.
  const secondPasses = o.secondPasses ?? Math.round(queries * ASSUMED_SECOND_PASS_SHARE);
  if (o.secondPasses === undefined && ctx.localJudge)
    assumptions.push(
      `${Math.round(ASSUMED_SECOND_PASS_SHARE * 100)} % of queries get a second judge pass (the first chose the persona)`,
    );
  const passes = queries + secondPasses;
  const judgedAnswer = Math.min(answerTokens, tok(JUDGE_ANSWER_CHARS));
  const s3Prompt =
    passes * (tok(JUDGE_USER_FRAME_CHARS) + queryTokens + 2 * judgedAnswer + TEMPLATE_TOKENS_PER_MESSAGE) +
    loads(passes) * (tok(JUDGE_FRAME_CHARS - JUDGE_USER_FRAME_CHARS) + TEMPLATE_TOKENS_PER_MESSAGE);
  const s3Generated = passes * JUDGE_MAX_TOKENS;
  const stage3: StageCost = {
    stage: 3,
    items: passes,
    promptTokens: ctx.localJudge ? s3Prompt : 0,
    generatedTokens: ctx.localJudge ? s3Generated : 0,
    trainTokens: 0,
    seconds: ctx.localJudge ? seconds(s3Prompt, s3Generated) : 0,
  };

  // Stage 4: one feature pass per query (a fraction of a prompt pass); the gate's own training is milliseconds.
  const s4Prompt = queries * studentTokens;
  const stage4: StageCost = {
    stage: 4,
    items: queries,
    promptTokens: s4Prompt,
    generatedTokens: 0,
    trainTokens: 0,
    seconds: (s4Prompt * ctx.featurePassFraction) / pRate,
  };

  // Stage 5: teacher scoring of each distill sample (KL only), then epochs over packed windows.
  const distill = o.distill ?? Math.round(queries * ASSUMED_DISTILL_SHARE);
  if (o.distill === undefined)
    assumptions.push(`${Math.round(ASSUMED_DISTILL_SHARE * 100)} % of queries are labelled distill`);
  const { lora } = settings;
  const sampleTokens = studentTokens + answerTokens;
  const scoring = lora.loss === "kl" ? distill * (personaTokens + sampleTokens) * SCORING_PASS_FACTOR : 0;
  const windows = Math.max(1, Math.ceil((distill * sampleTokens) / (lora.contextSize * WINDOW_FILL)));
  const trainTokens = lora.epochs * windows * lora.contextSize;
  assumptions.push(`training runs all ${lora.epochs} epochs (early stopping can end it sooner)`);
  const stage5: StageCost = {
    stage: 5,
    items: lora.epochs * windows,
    promptTokens: Math.round(scoring),
    generatedTokens: 0,
    trainTokens,
    seconds: scoring / pRate + trainTokens / tRate,
  };

  const stages = [stage1, stage2, stage3, stage4, stage5];
  return { stages, totalSeconds: stages.reduce((n, s) => n + s.seconds, 0), assumptions };
}
