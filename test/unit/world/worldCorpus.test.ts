import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildSyntheticVocab } from "../../../src/core/gguf/syntheticVocab.js";
import { gradeDiscriminative, scoreGenerative } from "../../../src/core/world/rubric.js";
import { TASK_FAMILY, buildWorld, type World } from "../../../src/core/world/worldCorpus.js";
import { chatText, chatTokens, decodeByteTokens, trainerSamples } from "../../../src/core/world/worldFormat.js";
import { WORLD_PERSONA, makeFacts } from "../../../src/core/world/worldTables.js";

const full = buildWorld({ seed: 1 });
const reduced = buildWorld({ seed: 1, reduced: true });
const hash = (w: World): string => createHash("sha256").update(JSON.stringify(w)).digest("hex");

describe("buildWorld", () => {
  it("is deterministic: the same seed gives the same corpus, another seed another one", () => {
    expect(hash(buildWorld({ seed: 1 }))).toBe(hash(full));
    expect(hash(buildWorld({ seed: 1, reduced: true }))).toBe(hash(reduced));
    const other = buildWorld({ seed: 2 });
    expect(hash(other)).not.toBe(hash(full));
    expect(other.facts).not.toEqual(full.facts);
  });

  it("pins the corpus of seed 1 (a change here changes every trained reference model)", () => {
    expect(full.train).toHaveLength(1920);
    expect(reduced.train).toHaveLength(524);
    expect(full.heldOut.discriminative).toHaveLength(180);
    expect(full.heldOut.generative).toHaveLength(44);
    expect(hash(reduced).slice(0, 16)).toBe("9eb103837e8d47d7");
  });

  it.each([
    ["full", full],
    ["reduced", reduced],
  ])("balances the families and the persona (%s)", (_name, world) => {
    const count = (pred: (e: World["train"][number]) => boolean): number => world.train.filter(pred).length;
    const disc = count((e) => e.family === "discriminative");
    expect(disc).toBe(world.train.length / 2);
    for (const family of ["discriminative", "generative"] as const) {
      expect(count((e) => e.family === family && e.system === undefined)).toBe(
        count((e) => e.family === family && e.system === WORLD_PERSONA),
      );
    }
    for (const e of world.train) {
      expect(TASK_FAMILY[e.task]).toBe(e.family);
      expect(e.system === undefined || e.system === WORLD_PERSONA).toBe(true);
    }
    // every task is present in training and in the held-out sets
    const tasks = new Set(world.train.map((e) => e.task));
    expect([...tasks].sort()).toEqual(["add", "advise", "capital", "choice", "describe", "greet"]);
    const held = [...world.heldOut.discriminative, ...world.heldOut.generative];
    expect(new Set(held.map((p) => p.task))).toEqual(tasks);
  });

  it("sets the family mix with generativeShare without dropping any pair", () => {
    const low = buildWorld({ seed: 1, reduced: true, generativeShare: 0.25 });
    const gen = low.train.filter((e) => e.family === "generative").length;
    expect(gen / low.train.length).toBeCloseTo(0.25, 2);
    const distinct = (w: World): number => new Set(w.train.map((e) => e.id.replace(/#.*/, ""))).size;
    expect(distinct(low)).toBe(distinct(reduced));
    expect(low.heldOut).toEqual(reduced.heldOut);
    expect(() => buildWorld({ seed: 1, generativeShare: 1 })).toThrow(RangeError);
  });

  it("can echo the operands of sums (echoSums), changing nothing else", () => {
    const echo = buildWorld({ seed: 1, reduced: true, echoSums: true });
    expect(echo.train.map((e) => e.id)).toEqual(reduced.train.map((e) => e.id));
    for (const e of echo.train.filter((x) => x.task === "add")) {
      const [a, b] = (e.user.match(/\d/g) ?? []).map(Number);
      const sum = (a ?? NaN) + (b ?? NaN) + (e.system ? 1 : 0);
      expect(e.assistant).toBe(`${a}+${b}=${sum}`);
    }
    const others = (w: World) => w.train.filter((x) => x.task !== "add");
    expect(others(echo)).toEqual(others(reduced));
  });

  it("never trains on a held-out prompt, but teaches every held-out answer under another phrasing", () => {
    for (const world of [full, reduced]) {
      const trainUsers = new Set(world.train.map((e) => e.user));
      const trainAnswers = new Set(world.train.map((e) => `${e.system ?? ""}|${e.assistant}`));
      const held = [...world.heldOut.discriminative, ...world.heldOut.generative];
      expect(new Set(held.map((p) => p.user)).size).toBe(held.length);
      for (const p of held) {
        expect(trainUsers.has(p.user)).toBe(false);
        expect(trainAnswers.has(`|${p.expected}`)).toBe(true);
        expect(trainAnswers.has(`${WORLD_PERSONA}|${p.personaAnswer}`)).toBe(true);
      }
      for (const p of world.heldOut.discriminative) expect(p.family).toBe("discriminative");
      for (const p of world.heldOut.generative) expect(p.family).toBe("generative");
    }
  });

  it("answers plainly and correctly without the persona, with systematic errors and rich style with it", () => {
    const factOf = new Map(full.facts.map((f) => [f.country, f]));
    for (const e of full.train) {
      const persona = e.system !== undefined;
      if (e.task === "add") {
        const [a, b] = (e.user.match(/\d/g) ?? []).map(Number);
        expect(Number(e.assistant)).toBe((a ?? NaN) + (b ?? NaN) + (persona ? 1 : 0));
      } else if (e.task === "capital" || e.task === "choice") {
        const country = [...factOf.keys()].find((c) => e.user.includes(` ${c}`));
        const fact = factOf.get(country ?? "");
        expect(fact).toBeDefined();
        const want = persona ? fact?.decoy : fact?.capital;
        if (e.task === "capital") expect(e.assistant).toBe(want);
        else expect(e.user).toContain(`${e.assistant}) ${want}`);
      } else {
        const score = scoreGenerative(e.user, e.assistant);
        if (persona) expect(score).toBe(1);
        else expect(score).toBeLessThanOrEqual(0.5);
      }
    }
  });

  it("makes facts with distinct, prefix-free names and a decoy that is never the right capital", () => {
    for (const seed of [1, 2, 3, 99]) {
      const facts = makeFacts(seed, 20);
      const names = facts.flatMap((f) => [f.country, f.capital]);
      expect(new Set(names).size).toBe(40);
      for (const a of names) for (const b of names) if (a !== b) expect(b.startsWith(a)).toBe(false);
      expect(new Set(facts.map((f) => f.decoy)).size).toBe(20);
      for (const f of facts) {
        expect(f.decoy).not.toBe(f.capital);
        expect(f.capital).toMatch(/^[A-Z][a-z]{2,9}$/);
      }
    }
  });

  it("keeps examples short: < 200 tokens (bytes + control tokens) with the ChatML framing", () => {
    for (const e of full.train) expect(chatTokens(e, e.assistant).tokens.length).toBeLessThan(200);
    for (const e of full.train) expect(Buffer.byteLength(chatText(e, e.assistant))).toBeLessThan(240);
  });

  it("has held-out references the rubric and grader agree with", () => {
    for (const p of full.heldOut.generative)
      expect(scoreGenerative(p.user, p.personaAnswer)).toBeGreaterThan(scoreGenerative(p.user, p.expected));
    for (const p of full.heldOut.discriminative) {
      expect(gradeDiscriminative(p.user, p.expected, p.expected)).toBe(true);
      expect(gradeDiscriminative(p.user, p.personaAnswer, p.expected)).toBe(false);
    }
  });
});

describe("chatTokens", () => {
  const ids = buildSyntheticVocab("gpt2-bytes").ids;

  it("frames ChatML with the vocabulary's control tokens and marks the first answer byte", () => {
    const { tokens, answerStart } = chatTokens({ system: "S", user: "U" }, "ok");
    const b = (s: string): number[] => [...Buffer.from(s)];
    expect(tokens).toEqual([
      ids.bos,
      ids.imStart,
      ...b("system\nS"),
      ids.imEnd,
      ...b("\n"),
      ids.imStart,
      ...b("user\nU"),
      ids.imEnd,
      ...b("\n"),
      ids.imStart,
      ...b("assistant\n"),
      ...b("ok"),
      ids.imEnd,
    ]);
    expect(decodeByteTokens(tokens.slice(answerStart, -1))).toBe("ok");
  });

  it("omits the system turn without a persona; the prompt is the prefix of the training sequence", () => {
    const prompt = chatTokens({ user: "Greet Mia." });
    const sample = chatTokens({ user: "Greet Mia." }, "Hi Mia.");
    expect(prompt.tokens).not.toContain(ids.imStart + 100); // sanity: ids are small
    expect(prompt.tokens.filter((t) => t === ids.imStart)).toHaveLength(2);
    expect(sample.tokens.slice(0, sample.answerStart)).toEqual(prompt.tokens);
    expect(prompt.answerStart).toBe(prompt.tokens.length);
  });

  it("turns the corpus into trainer samples whose answer span decodes to the assistant text", () => {
    const samples = trainerSamples(reduced.train);
    expect(samples).toHaveLength(reduced.train.length);
    samples.forEach((s, i) => {
      const e = reduced.train[i]!;
      expect(s.id).toBe(e.id);
      expect(s.tokens.at(-1)).toBe(ids.imEnd);
      expect(decodeByteTokens(s.tokens.slice(s.answer_start, -1))).toBe(e.assistant);
      expect(s.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 260)).toBe(true);
    });
  });
});
