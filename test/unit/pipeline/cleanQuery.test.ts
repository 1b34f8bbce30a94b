import { describe, expect, it } from "vitest";
import { cleanQuery } from "../../../src/core/pipeline/cleanQuery.js";
import { stripThoughts } from "../../../src/core/pipeline/stripThoughts.js";

const AF =
  "What is the recommended anticoagulation strategy for a 68-year-old with new-onset atrial fibrillation, a CHA₂DS₂-VASc score of 3 and an eGFR of 28 mL/min who is already taking aspirin?";

describe("stage 1 query cleaning on real chat-model output", () => {
  it.each([
    // Qwen3 with its thoughts
    [
      "Qwen3 thoughts",
      "<think>\nOkay, the user wants one question a cardiologist would answer well. Maybe something about anticoagulation in AF with renal impairment...\n</think>\n\n" +
        AF,
      AF,
    ],
    ["Qwen3 empty thoughts (/no_think)", `<think>\n\n</think>\n\n${AF}`, AF],
    [
      "DeepSeek-R1 distill (template opened <think>)",
      `Alright, let me pick a specific clinical scenario.\n</think>\n\n${AF}`,
      AF,
    ],
    // Llama 3 preambles
    ["Llama 3 preamble + quoted question", `Here's a challenging question for a cardiologist:\n\n"${AF}"`, AF],
    [
      "preamble line with a trailing note",
      `Sure! Here is a question:\n\n${AF}\n\nThis question tests knowledge of DOAC dosing in chronic kidney disease.`,
      AF,
    ],
    ["preamble on the same line", `Sure! Here is a question: ${AF}`, AF],
    ["Certainly + here's one", `Certainly! Here's one:\n\n${AF}`, AF],
    // markdown
    ["bold label", `**Question 3:** ${AF}`, AF],
    ["bold label on its own line", `**Question 3:**\n${AF}`, AF],
    ["heading label", `### Question\n\n${AF}`, AF],
    ["titled heading", `## Cardiology\n\n${AF}`, AF],
    ["bold-wrapped question", `**${AF}**`, AF],
    ["dash bullet", `- ${AF}`, AF],
    ["star bullet", `* ${AF}`, AF],
    ["numbered", `1. ${AF}`, AF],
    ["Q: prefix", `Q: ${AF}`, AF],
    ["Question: prefix", `Question: ${AF}`, AF],
    ["echo of the prompt's label", `Question 7: ${AF}`, AF],
    ["curly quotes", `“${AF}”`, AF],
    [
      "a list of questions keeps the first",
      `1. ${AF}\n2. How should rate control be chosen in heart failure with reduced ejection fraction?`,
      AF,
    ],
    [
      "bold labels for several questions keep the first",
      `**Question 1:** ${AF}\n\n**Question 2:** Which patients benefit from left atrial appendage occlusion?`,
      AF,
    ],
    ["inline commentary", `${AF} This question tests DOAC dosing.`, AF],
    ["the model answering its own question", `${AF}\n\n**Answer:** Apixaban 2.5 mg twice daily…`, AF],
    ["separator then notes", `${AF}\n\n---\n\n*Why it's challenging:* renal dosing.`, AF],
  ])("%s", (_name, raw, query) => expect(cleanQuery(raw)).toEqual({ query }));

  it("keeps a code block with its question (not only the first line)", () => {
    const query =
      "I have this Python function:\n\n```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```\n\n" +
      "Why does it crash on an empty list, and what is the idiomatic way to handle that case?";
    expect(cleanQuery(`Here's a challenging question for a Python expert:\n\n${query}`)).toEqual({ query });
    expect(cleanQuery(`${query}\n\nThis question tests edge-case handling.`)).toEqual({ query });
  });

  it("keeps a quoted passage and code that follow the question", () => {
    const passage =
      "Consider this opening from *Moby-Dick*:\n\n> Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse…\n\n" +
      "How does Melville's narrative voice here prepare the reader for the novel's themes?";
    expect(cleanQuery(passage)).toEqual({ query: passage });
    const after =
      'Why does this Rust code not compile?\n\n```rust\nlet s = String::new();\nlet t = s;\nprintln!("{}", s);\n```';
    expect(cleanQuery(`**Question:** ${after}\n\nA Rust expert would immediately spot the move.`)).toEqual({
      query: after,
    });
  });

  it.each([
    [
      "Here is a realistic, challenging question:\n\n**Question:** How does the CAP theorem constrain a globally replicated database during a network partition?\n\n**Why this question is challenging:** it needs depth.",
      "How does the CAP theorem constrain a globally replicated database during a network partition?",
    ],
    [
      "A realistic question would be: How do I migrate a Postgres table with 2 billion rows without downtime?",
      "How do I migrate a Postgres table with 2 billion rows without downtime?",
    ],
    [
      "Sure, here's a question for a Python expert:\n\n```python\nprint([i for i in range(3)][-1:])\n```\nWhat does this print, and why?",
      "```python\nprint([i for i in range(3)][-1:])\n```\n\nWhat does this print, and why?",
    ],
    [
      "Write a function in TypeScript that deep-merges two objects.\n\nRequirements:\n- Handle nested objects\n- Do not mutate inputs",
      "Write a function in TypeScript that deep-merges two objects.\n\nRequirements:\n- Handle nested objects\n- Do not mutate inputs",
    ],
    [
      "Question 12: Explain the Krebs cycle.\n\n(This question tests biochemistry knowledge.)",
      "Explain the Krebs cycle.",
    ],
  ])("more real shapes: %j", (raw, query) => expect(cleanQuery(raw)).toEqual({ query }));

  it("keeps multi-line prose before the question", () => {
    const query =
      "A 45-year-old runner presents with exertional chest tightness.\nHis resting ECG and troponin are normal.\n\nWhat is the most appropriate next investigation, and why?";
    expect(
      cleanQuery(`Here is a realistic question that a cardiologist would answer especially well:\n\n${query}`),
    ).toEqual({
      query,
    });
  });

  it.each([
    ["I'm sorry, but I can't help with creating questions about synthesising controlled substances."],
    ["I cannot fulfill this request."],
    ["Sorry, I can't assist with that."],
    ["As an AI language model, I don't write exam questions about weapons."],
    ["<think>\nThis is about weapons.\n</think>\n\nI’m sorry, but I can’t help with that."],
  ])("drops a refusal: %j", (raw) => expect(cleanQuery(raw)).toEqual({ drop: "refusal" }));

  it("does not mistake a user-voice question for a refusal", () => {
    const a = "I'm sorry if this is basic, but how do closures capture loop variables in JavaScript?";
    const b = "I can't get my React component to stop re-rendering on every keystroke — what am I missing?";
    expect(cleanQuery(a)).toEqual({ query: a });
    expect(cleanQuery(b)).toEqual({ query: b });
  });

  it("names why nothing usable remains", () => {
    expect(cleanQuery("<think>\nOkay, I need a challenging question about renal dosing. Let me consider")).toEqual({
      drop: "thoughtsOnly",
    });
    expect(cleanQuery("<think>\nHmm.\n</think>\n\n")).toEqual({ drop: "empty" });
    expect(cleanQuery("Sure!")).toEqual({ drop: "empty" });
    expect(cleanQuery("   \n\n")).toEqual({ drop: "empty" });
    expect(cleanQuery("**Question 3:**")).toEqual({ drop: "empty" });
    expect(cleanQuery("1. Why is it so?")).toEqual({ drop: "tooShort" }); // 13 characters after stripping
    expect(cleanQuery("fifteen chars!!")).toEqual({ drop: "tooShort" });
    expect(cleanQuery("exactly sixteen!")).toEqual({ query: "exactly sixteen!" });
  });
});

describe("thought stripping", () => {
  it.each([
    ["<think>a</think>\n\nB", "\n\nB"],
    ["<think>\nunterminated", ""],
    ["reasoning</think>answer", "answer"],
    ["no thoughts at all", "no thoughts at all"],
    ["An answer that mentions <think> in passing", "An answer that mentions <think> in passing"],
  ])("%j → %j", (raw, out) => expect(stripThoughts(raw)).toBe(out));
});
