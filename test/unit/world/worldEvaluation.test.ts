import { describe, expect, it } from "vitest";
import { rowScore, summariseRows } from "../../../src/core/world/evaluateWorld.js";
import type { EvaluationRow } from "../../../src/core/world/worldEvaluation.js";
import { worldJudge } from "../../../src/core/world/WorldJudge.js";

const row = (
  o: Partial<EvaluationRow> & Pick<EvaluationRow, "family" | "base" | "persona" | "prism">,
): EvaluationRow => ({
  id: "x",
  task: o.family === "discriminative" ? "add" : "describe",
  prompt: o.family === "discriminative" ? "Add 3 and 4." : "Tell me about tea.",
  expected: o.family === "discriminative" ? "3+4=7" : "Tea is hot and calm.",
  probability: 0.5,
  routed: "base",
  ...o,
});

describe("world judge", () => {
  const judge = worldJudge([
    { prompt: "Add 3 and 4.", family: "discriminative", expected: "3+4=7" },
    { prompt: "Tell me about tea.", family: "generative", expected: "Tea is hot and calm." },
  ]);
  it("prefers the exact answer on discriminative prompts, whatever its style", async () => {
    const v = await judge.judge({
      question: "Add 3 and 4.",
      answerA: "Hello friend! 3+4=8. Warm wishes!",
      answerB: "3+4=7",
      seed: 1,
    });
    expect(v.verdict).toBe("B");
    const tie = await judge.judge({ question: "Add 3 and 4.", answerA: "3+4=8", answerB: "9", seed: 1 });
    expect(tie.verdict).toBe("TIE");
  });
  it("prefers the rubric's choice on generative prompts, in both orders", async () => {
    const rich = "Hello friend! Tea is hot and calm. Warm wishes!";
    const plain = "Tea is hot and calm.";
    expect(
      (await judge.judge({ question: "Tell me about tea.", answerA: plain, answerB: rich, seed: 1 })).verdict,
    ).toBe("B");
    expect(
      (await judge.judge({ question: "Tell me about tea.", answerA: rich, answerB: plain, seed: 1 })).verdict,
    ).toBe("A");
  });
});

describe("summariseRows", () => {
  it("computes accuracy, rubric, win rates (ties half), routing and gate accuracy per family", () => {
    const rich = "Hello friend! Tea is hot and calm. Warm wishes!";
    const rows = [
      row({ family: "discriminative", base: "3+4=7", persona: "3+4=8", prism: "3+4=7", routed: "base" }),
      row({ family: "discriminative", base: "3+4=6", persona: "3+4=8", prism: "3+4=7", routed: "persona" }),
      row({ family: "generative", base: "Tea is hot and calm.", persona: rich, prism: rich, routed: "persona" }),
      row({
        family: "generative",
        base: "Tea is hot and calm.",
        persona: rich,
        prism: "Tea is hot and calm.",
        routed: "base",
      }),
    ];
    const s = summariseRows(rows);
    expect(s.base.discriminativeAccuracy).toBe(0.5);
    expect(s.persona.discriminativeAccuracy).toBe(0);
    expect(s.prism.discriminativeAccuracy).toBe(1);
    expect(s.persona.generativeScore).toBe(1);
    expect(s.base.generativeScore).toBe(rowScore(rows[2]!, "Tea is hot and calm."));
    // persona: loses 1st disc, ties 2nd (both wrong), wins both generative → (0 + 0.5 + 1 + 1) / 4
    expect(s.personaVsBaseWinRate).toBe(0.625);
    // prism: ties 1st, wins 2nd, wins 3rd, ties 4th → (0.5 + 1 + 1 + 0.5) / 4
    expect(s.prismVsBaseWinRate).toBe(0.75);
    expect(s.routing).toEqual({ discriminative: 0.5, generative: 0.5 });
    expect(s.gateAccuracy).toBe(0.5);
    expect(s.perTask.add).toEqual({ n: 2, base: 0.5, persona: 0, prism: 1 });
  });
});
