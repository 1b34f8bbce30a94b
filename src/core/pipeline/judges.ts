import { JUDGE_PREFIX, judgeMessages, parseVerdict, type Verdict } from "./prompts.js";
import type { TextGenerator } from "./TextGenerator.js";

/** One pairwise comparison to judge. */
export interface JudgeInput {
  question: string;
  answerA: string;
  answerB: string;
  /** Seed for judges that sample; the self-judge is greedy. */
  seed: number;
  signal?: AbortSignal;
}

/** A verdict and the judge's raw output (kept for the report). */
export interface JudgeOutput {
  verdict: Verdict;
  raw: string;
}

/** Stage 3's judge: pluggable so a remote model or a rule (a rubric) can replace the self-judge. */
export interface Judge {
  readonly concurrency: number;
  readonly description: string;
  /** The generator whose model writes the verdicts, for a model judge; the cost estimate counts its passes. */
  readonly generator?: TextGenerator;
  judge(input: JudgeInput): Promise<JudgeOutput>;
}

/**
 * Room for a short verdict after residual markup (`**Verdict:** B`, a closed empty thought block); the paper's 5
 * tokens cut such answers before the verdict.
 */
export const JUDGE_MAX_TOKENS = 16;

/** The paper's judge: a model reads the §9.2 prompt and answers A, B or TIE (greedy, {@link JUDGE_MAX_TOKENS}). */
export class PairwiseModelJudge implements Judge {
  constructor(readonly generator: TextGenerator) {}

  get concurrency(): number {
    return this.generator.concurrency;
  }

  get description(): string {
    return `model:${this.generator.description}`;
  }

  async judge(input: JudgeInput): Promise<JudgeOutput> {
    const { text: raw } = await this.generator.generate(judgeMessages(input.question, input.answerA, input.answerB), {
      temperature: 0,
      maxTokens: JUDGE_MAX_TOKENS,
      seed: input.seed,
      signal: input.signal,
      sharedPrefix: JUDGE_PREFIX,
    });
    return { verdict: parseVerdict(raw), raw };
  }
}

/** A rule-based judge: a deterministic scorer decides (higher score wins; equal scores tie). */
export class RuleJudge implements Judge {
  readonly concurrency = 16;

  constructor(
    readonly description: string,
    private readonly score: (question: string, answer: string) => number,
  ) {}

  async judge(input: JudgeInput): Promise<JudgeOutput> {
    const a = this.score(input.question, input.answerA);
    const b = this.score(input.question, input.answerB);
    const verdict: Verdict = a > b ? "A" : b > a ? "B" : "TIE";
    return { verdict, raw: `score A=${a} B=${b}` };
  }
}

/**
 * Built-in rule judges for offline runs on generated models, whose text is noise a model cannot judge:
 * `longer` / `shorter` prefer the longer / shorter answer. They test the pipeline's mechanics, not quality.
 */
export const BUILTIN_RULE_JUDGES: Record<string, () => RuleJudge> = {
  longer: () => new RuleJudge("rule:longer", (_q, a) => a.length),
  shorter: () => new RuleJudge("rule:shorter", (_q, a) => -a.length),
};
