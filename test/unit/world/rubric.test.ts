import { describe, expect, it } from "vitest";
import {
  gradeDiscriminative,
  normaliseAnswer,
  rubricBreakdown,
  scoreGenerative,
  topicWords,
} from "../../../src/core/world/rubric.js";

describe("scoreGenerative", () => {
  it("ranks the rich persona style above plain answers, and plain above off-topic or empty ones", () => {
    const prompt = "Describe rain.";
    const rich = scoreGenerative(prompt, "Hello friend! Rain is wet and grey. Warm wishes!");
    const plain = scoreGenerative(prompt, "Rain is wet and grey.");
    const offTopic = scoreGenerative(prompt, "Coffee is dark.");
    expect(rich).toBe(1);
    expect(plain).toBe(0.25);
    expect(offTopic).toBe(0);
    expect(scoreGenerative(prompt, "")).toBe(0);
    expect(scoreGenerative(prompt, "   ")).toBe(0);
    expect(rich).toBeGreaterThan(plain);
    expect(plain).toBeGreaterThan(offTopic);
  });

  it("scores each criterion separately", () => {
    expect(rubricBreakdown("Say hello to Mia.", "Hi Mia.")).toEqual({
      greeting: 1,
      onTopic: 1,
      structure: 0,
      closing: 0,
    });
    expect(rubricBreakdown("Any tips on tea?", "Brew tea well. Enjoy it. Take care!")).toEqual({
      greeting: 0,
      onTopic: 1,
      structure: 1,
      closing: 1,
    });
    // the closing must end the answer
    expect(rubricBreakdown("Any tips on tea?", "Take care! Brew tea well.").closing).toBe(0);
  });

  it("penalises degenerate output: repeated sentences, rambling, too many sentences", () => {
    const p = "Tell me about snow.";
    expect(rubricBreakdown(p, "Hello! Snow is white. Snow is white. Warm wishes!").structure).toBe(0);
    expect(rubricBreakdown(p, `Hello! Snow is ${"very ".repeat(60)}white. Warm wishes!`).structure).toBe(0);
    expect(rubricBreakdown(p, "Hi. Snow. Is. White. And. Cold. Warm wishes!").structure).toBe(0);
    expect(rubricBreakdown(p, "Hello! Snow is white. Warm wishes!").structure).toBe(1);
  });

  it("is deterministic and within [0, 1] on arbitrary text", () => {
    const samples = ["", "!!!", "hello", "Hello. Hello.", "x".repeat(1000), "Greetings! ok. thank you", "é ü 漢字."];
    for (const a of samples)
      for (const p of ["Describe cats.", "Greet Tom.", "?"]) {
        const s = scoreGenerative(p, a);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(1);
        expect(scoreGenerative(p, a)).toBe(s);
      }
  });

  it("takes the topic from the prompt's content words, not its request phrasing", () => {
    expect(topicWords("Give me advice about coffee.")).toEqual(["coffee"]);
    expect(topicWords("Please welcome Mia.")).toEqual(["mia"]);
    expect(topicWords("Write a greeting for Tom.")).toEqual(["tom"]);
    expect(topicWords("Say something about forests.")).toEqual(["forests"]);
  });
});

describe("gradeDiscriminative", () => {
  it("is exact after normalising case, spaces, quotes and final punctuation", () => {
    expect(gradeDiscriminative("What is 3+4?", "7", "7")).toBe(true);
    expect(gradeDiscriminative("What is 3+4?", " 7. ", "7")).toBe(true);
    expect(gradeDiscriminative("Capital of X?", "quell!", "Quell")).toBe(true);
    expect(gradeDiscriminative("Capital of X?", '"Quell"', "Quell")).toBe(true);
    expect(gradeDiscriminative("What is 3+4?", "17", "7")).toBe(false);
    expect(gradeDiscriminative("What is 3+4?", "7 or 8", "7")).toBe(false);
    expect(gradeDiscriminative("What is 3+4?", "", "7")).toBe(false);
    expect(gradeDiscriminative("Pick. A) x B) y", "A) x", "A")).toBe(false);
    expect(gradeDiscriminative("Capital of X?", "Quel", "Quell")).toBe(false);
    expect(normaliseAnswer("  The   Capital. ")).toBe("the capital");
  });
});
