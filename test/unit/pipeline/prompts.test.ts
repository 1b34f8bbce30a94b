import { describe, expect, it } from "vitest";
import { cleanQuery } from "../../../src/core/pipeline/cleanQuery.js";
import {
  judgeMessages,
  JUDGE_ANSWER_CHARS,
  parseVerdict,
  queryGenerationMessages,
} from "../../../src/core/pipeline/prompts.js";
import { DEFAULT_PERSONAS } from "../../../src/core/pipeline/personas.js";
import { personaMessages, studentMessages } from "../../../src/core/pipeline/studentPrompt.js";

describe("stage 1 query cleaning", () => {
  it.each([
    [
      "1. How do I prove that there are infinitely many primes?",
      "How do I prove that there are infinitely many primes?",
    ],
    ["Q1: What is the derivative of x^x with respect to x?", "What is the derivative of x^x with respect to x?"],
    [
      'Question #3: "Which sorting algorithm is stable and O(n log n)?"',
      "Which sorting algorithm is stable and O(n log n)?",
    ],
    [
      "\n\n  “Explain the causes of the French Revolution.”\nsecond line",
      "Explain the causes of the French Revolution.",
    ],
  ])("%j → %j", (raw, clean) => expect(cleanQuery(raw).query).toBe(clean));

  it("drops queries of 15 characters or fewer", () => {
    expect(cleanQuery("1. Why is it so?").drop).toBe("tooShort"); // 13 characters after stripping
    expect(cleanQuery("   \n\n").drop).toBe("empty");
    expect(cleanQuery("exactly sixteen!").query).toBe("exactly sixteen!");
    expect(cleanQuery("fifteen chars!!").drop).toBe("tooShort");
  });
});

describe("stage 3 verdict parsing", () => {
  it.each([
    ["A", "A"],
    ["B.", "B"],
    [" tie", "TIE"],
    ["a", "A"],
    ["**B**", "B"],
    ["[[A]]", "A"],
    ['"B"', "B"],
    ["`TIE`", "TIE"],
    ["B\n\nAnswer B explains the base case correctly.", "B"],
    ["Answer B", "B"],
    ["Answer B is better", "B"],
    ["A is better than B.", "A"],
    ["Verdict: B", "B"],
    ["**Verdict:** A", "A"],
    ["Final answer: TIE", "TIE"],
    ["The better answer is B.", "B"],
    ["It's a tie.", "TIE"],
    ["Both are correct, but Answer A is more accurate.", "A"],
    // Qwen3 thinks first; the verdict follows the thoughts.
    ["<think>\nAnswer A has an error in step 2, so B is better.\n</think>\n\nB", "B"],
    ["<think>\n\n</think>\n\n**A**", "A"],
    ["<think>\nLet me compare. Answer A says", "TIE"],
    // The article is not a verdict; mentioning both, or neither, is a tie.
    ["a better answer would explain the base case", "TIE"],
    ["A better answer would explain the base case.", "TIE"],
    ["A better answer is B.", "B"],
    ["A and B are equal", "TIE"],
    ["Answer A is better in style, but answer B is better in substance.", "TIE"],
    ["neither", "TIE"],
    ["", "TIE"],
    ["Bob", "TIE"],
  ])("%j → %s", (raw, verdict) => expect(parseVerdict(raw)).toBe(verdict));
});

describe("prompt templates", () => {
  it("puts the full persona into the query-generation prompt and numbers the question", () => {
    const m = queryGenerationMessages(DEFAULT_PERSONAS[0]!.text, 7);
    expect(m[0]!.role).toBe("system");
    expect(m[1]!.content).toContain(DEFAULT_PERSONAS[0]!.text);
    expect(m[1]!.content.endsWith("Question 7:")).toBe(true);
  });

  it("truncates each judged answer to 1,500 characters", () => {
    const m = judgeMessages("q?", "a".repeat(3000), "b".repeat(10));
    expect(m[1]!.content).toContain(`Answer A:\n${"a".repeat(JUDGE_ANSWER_CHARS)}\n\nAnswer B:`);
  });

  it("D1: teacher and student prompts differ exactly by the persona system message", () => {
    const persona = DEFAULT_PERSONAS[3]!.text;
    const student = studentMessages("What is 17 × 23?");
    const teacher = personaMessages(persona, "What is 17 × 23?");
    expect(teacher.slice(1)).toEqual(student);
    expect(teacher[0]).toEqual({ role: "system", content: persona });
  });
});

describe("default personas", () => {
  it("has the 12 personas of the method, full text = half + extension, unique ids", () => {
    expect(DEFAULT_PERSONAS.map((p) => p.id)).toEqual([
      "writing",
      "roleplay",
      "reasoning",
      "math",
      "coding",
      "extraction",
      "stem",
      "humanities",
      "critic",
      "safety_monitor",
      "helpful",
      "compliant",
    ]);
    for (const p of DEFAULT_PERSONAS) {
      expect(p.text.startsWith(p.half)).toBe(true);
      expect(p.text.split(/\s+/).length).toBeGreaterThan(120);
      expect(p.half.split(/\s+/).length).toBeGreaterThan(35);
    }
  });
});
