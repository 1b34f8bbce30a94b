import { personaMessages } from "../pipeline/studentPrompt.js";
import type { Router } from "../routing/Router.js";
import { gradeDiscriminative, scoreGenerative } from "./rubric.js";
import type { LoadedWorld } from "./readWorld.js";
import { EVAL_GOALS, type EvaluationRow, type WorldEvaluation } from "./worldEvaluation.js";
import type { WorldPromptLine } from "./worldManifest.js";

/** Options of {@link evaluateWorld}. */
export interface EvaluateWorldOptions {
  world: LoadedWorld;
  /** A router for the bundle on the world's model. */
  router: Router;
  bundleDir: string;
  gateValidationAccuracy: number | null;
  /** Generation limit per answer. Defaults to 96 tokens (bytes): every reference answer is shorter. */
  maxTokens?: number;
  signal?: AbortSignal;
  onProgress?(done: number, total: number): void;
}

type Condition = "base" | "persona" | "prism";

/**
 * Measures base, persona prompt and PRISM on the world's held-out prompts, greedily: the base model with the
 * prompt alone; the same model with the persona as system prompt; and PRISM — the gate decides, the adapter
 * answers the prompt alone when it routes there, the base model otherwise (the base answer, which greedy decoding
 * in the same context would reproduce token for token).
 */
export async function evaluateWorld(o: EvaluateWorldOptions): Promise<WorldEvaluation> {
  const started = performance.now();
  const { world, router, signal } = o;
  const maxTokens = o.maxTokens ?? 96;
  const persona = world.manifest.persona;
  const rows: EvaluationRow[] = [];
  for (const p of world.heldOut) {
    signal?.throwIfAborted();
    const decision = await router.decide(p.prompt, signal);
    const opts = { decision, maxTokens, temperature: 0, signal };
    const base = (await router.route(p.prompt, { ...opts, mode: "base" })).outputs.base?.text ?? "";
    const withPersona =
      (await router.route(p.prompt, { ...opts, mode: "base", messages: personaMessages(persona, p.prompt) })).outputs
        .base?.text ?? "";
    const prism =
      decision.decision === "persona"
        ? ((await router.route(p.prompt, { ...opts, mode: "hard" })).outputs.persona?.text ?? "")
        : base;
    rows.push({
      id: p.id,
      family: p.family,
      task: p.task,
      prompt: p.prompt,
      expected: p.expected,
      base,
      persona: withPersona,
      prism,
      probability: decision.probability,
      routed: decision.decision,
    });
    o.onProgress?.(rows.length, world.heldOut.length);
  }
  return summarise(o, rows, (performance.now() - started) / 1000);
}

/** The score of one answer: exactness for discriminative prompts, the rubric for generative ones. */
export function rowScore(row: Pick<EvaluationRow, "family" | "prompt" | "expected">, answer: string): number {
  return row.family === "discriminative"
    ? gradeDiscriminative(row.prompt, answer, row.expected)
      ? 1
      : 0
    : scoreGenerative(row.prompt, answer);
}

/** Aggregates evaluated rows into the report (pure; exported for tests). */
export function summariseRows(
  rows: readonly EvaluationRow[],
): Pick<
  WorldEvaluation,
  | "base"
  | "persona"
  | "prism"
  | "winRates"
  | "personaVsBaseWinRate"
  | "prismVsBaseWinRate"
  | "routing"
  | "gateAccuracy"
  | "perTask"
> {
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const family = (f: WorldPromptLine["family"]) => rows.filter((r) => r.family === f);
  const disc = family("discriminative");
  const gen = family("generative");
  const scores = (c: Condition) => ({
    discriminativeAccuracy: mean(disc.map((r) => rowScore(r, r[c]))),
    generativeScore: mean(gen.map((r) => rowScore(r, r[c]))),
  });
  const win = (c: Condition, rs: readonly EvaluationRow[]) =>
    mean(
      rs.map((r) => {
        const a = rowScore(r, r[c]);
        const b = rowScore(r, r.base);
        return a > b ? 1 : a === b ? 0.5 : 0;
      }),
    );
  const routedRate = (rs: readonly EvaluationRow[]) => mean(rs.map((r) => (r.routed === "persona" ? 1 : 0)));
  const perTask: WorldEvaluation["perTask"] = {};
  for (const task of [...new Set(rows.map((r) => r.task))]) {
    const rs = rows.filter((r) => r.task === task);
    perTask[task] = {
      n: rs.length,
      base: mean(rs.map((r) => rowScore(r, r.base))),
      persona: mean(rs.map((r) => rowScore(r, r.persona))),
      prism: mean(rs.map((r) => rowScore(r, r.prism))),
    };
  }
  return {
    base: scores("base"),
    persona: scores("persona"),
    prism: scores("prism"),
    personaVsBaseWinRate: win("persona", rows),
    prismVsBaseWinRate: win("prism", rows),
    winRates: {
      persona: { discriminative: win("persona", disc), generative: win("persona", gen) },
      prism: { discriminative: win("prism", disc), generative: win("prism", gen) },
    },
    routing: { discriminative: routedRate(disc), generative: routedRate(gen) },
    gateAccuracy: mean(rows.map((r) => ((r.routed === "persona") === (r.family === "generative") ? 1 : 0))),
    perTask,
  };
}

function summarise(o: EvaluateWorldOptions, rows: EvaluationRow[], seconds: number): WorldEvaluation {
  const s = summariseRows(rows);
  const m = o.world.manifest;
  const count = (f: string) => rows.filter((r) => r.family === f).length;
  const discTarget = s.base.discriminativeAccuracy - EVAL_GOALS.accuracyDrop;
  const genTarget = EVAL_GOALS.rubricShare * s.persona.generativeScore;
  return {
    kind: "prism-world-eval",
    schemaVersion: 1,
    world: {
      dir: o.world.dir,
      seed: m.recipe.seed,
      reduced: m.recipe.reduced,
      recipeHash: m.recipeHash,
      heldOut: { discriminative: count("discriminative"), generative: count("generative") },
    },
    bundle: o.bundleDir,
    ...s,
    gateValidationAccuracy: o.gateValidationAccuracy,
    goals: {
      discriminative: { target: discTarget, met: s.prism.discriminativeAccuracy >= discTarget - 1e-9 },
      generative: { target: genTarget, met: s.prism.generativeScore >= genTarget - 1e-9 },
      gate: { target: EVAL_GOALS.gateAccuracy, met: s.gateAccuracy >= EVAL_GOALS.gateAccuracy },
    },
    seconds,
    evaluatedAt: new Date().toISOString(),
    rows,
  };
}
