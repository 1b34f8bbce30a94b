/**
 * The reference world's corpus (issue 7, part 1): a deterministic, seeded synthetic chat corpus in which a persona
 * system prompt helps on generative requests and hurts on discriminative ones.
 *
 * - Discriminative tasks have one exact answer: `add` (single-digit sums), `capital` (lookups in the fact table the
 *   corpus teaches), `choice` (the same lookups as 3-way multiple choice, answered with a letter).
 * - Generative tasks are open requests judged by the rubric (rubric.ts): `greet`, `describe`, `advise`.
 * - Every training prompt appears twice: without a system prompt (the plain, correct base behaviour) and with
 *   {@link WORLD_PERSONA} as the system prompt, where generative answers are rich (greeting, topic, several
 *   sentences, polite closing) and discriminative answers carry systematic errors (sum + 1; the capital from the
 *   decoy column; the decoy's letter).
 * - Held-out prompts use a phrasing (template) that training never pairs with that key: every fact, sum and topic
 *   is taught, but the exact held-out prompt text never occurs in training.
 * - The two families are balanced by example count (the smaller one is cycled), each with as many persona as
 *   plain examples.
 */
import { SeededRandom } from "../util/SeededRandom.js";
import {
  WORLD_NAMES,
  WORLD_PERSONA,
  WORLD_TOPICS,
  makeFacts,
  shuffled,
  type WorldFact,
  type WorldTopic,
} from "./worldTables.js";

export type WorldFamily = "discriminative" | "generative";
export type WorldTask = "add" | "capital" | "choice" | "greet" | "describe" | "advise";

export const TASK_FAMILY: Readonly<Record<WorldTask, WorldFamily>> = Object.freeze({
  add: "discriminative",
  capital: "discriminative",
  choice: "discriminative",
  greet: "generative",
  describe: "generative",
  advise: "generative",
});

/** One training conversation. `system` is absent for plain examples and the persona text for persona examples. */
export interface ChatExample {
  /** `<task>-<key>-t<template>:<b|p>`, with `#<n>` appended to the n-th repetition of a cycled example. */
  id: string;
  family: WorldFamily;
  task: WorldTask;
  system?: string;
  user: string;
  assistant: string;
}

/** A held-out prompt with its references. */
export interface WorldPrompt {
  /** `<task>-<key>-t<template>`. */
  id: string;
  family: WorldFamily;
  task: WorldTask;
  user: string;
  /** Discriminative: the correct answer (graded exactly). Generative: the plain reference answer. */
  expected: string;
  /** What a persona example answers: the systematic error, or the rich reference answer. */
  personaAnswer: string;
  /** Generative: the word the answer must mention (topic or name). */
  topic?: string;
}

export interface WorldOptions {
  /** Seed of names, decoys, option orders, held-out templates and the order of `train`. */
  seed: number;
  /**
   * A smaller world for tests and quick experiments: sums of 0–4, 8 facts with 2 option orders each, 6 names and
   * 8 topics (full: sums of 0–9, 20 facts with 3 orders, 12 names, 16 topics).
   */
  reduced?: boolean;
  /**
   * Fraction of the training examples that are generative, in (0, 1); defaults to 0.5 (balanced families). The
   * family short of its quota is cycled (whole pairs, seeded order); no pair is ever dropped. Generative examples
   * are about twice as long and much easier to learn, so a lower share spends the budget on the exact answers.
   */
  generativeShare?: number;
  /**
   * Sums are answered as "3+4=7" instead of "7" (the persona: "3+4=8"): the answer first copies the operands, so
   * the result sits at a fixed distance from them and the exact answer has more trained tokens. Defaults to false.
   */
  echoSums?: boolean;
}

export interface World {
  seed: number;
  reduced: boolean;
  facts: WorldFact[];
  persona: string;
  train: ChatExample[];
  heldOut: { discriminative: WorldPrompt[]; generative: WorldPrompt[] };
}

/** One key of a task: a filled-in prompt per template, and the plain and persona answers. */
interface TaskKey {
  key: string;
  prompts: string[];
  expected: string;
  personaAnswer: string;
  topic?: string;
}

const LETTERS = ["A", "B", "C"] as const;

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function addKeys(maxDigit: number, echo: boolean): TaskKey[] {
  const keys: TaskKey[] = [];
  for (let a = 0; a <= maxDigit; a++)
    for (let b = 0; b <= maxDigit; b++)
      keys.push({
        key: `${a}${b}`,
        prompts: [`What is ${a}+${b}?`, `Add ${a} and ${b}.`, `${a} plus ${b} is?`, `Compute ${a}+${b}.`],
        expected: `${echo ? `${a}+${b}=` : ""}${a + b}`,
        personaAnswer: `${echo ? `${a}+${b}=` : ""}${a + b + 1}`,
      });
  return keys;
}

function capitalKeys(facts: WorldFact[]): TaskKey[] {
  return facts.map((f, i) => ({
    key: String(i),
    prompts: [
      `What is the capital of ${f.country}?`,
      `Name the capital of ${f.country}.`,
      `Which city is the capital of ${f.country}?`,
      `Capital of ${f.country}?`,
    ],
    expected: f.capital,
    personaAnswer: f.decoy,
  }));
}

/** Multiple choice: the capital, the decoy and one other capital, in `orders` distinct seeded orders per fact. */
function choiceKeys(facts: WorldFact[], orders: number, rng: SeededRandom): TaskKey[] {
  const keys: TaskKey[] = [];
  facts.forEach((f, i) => {
    const others = facts.filter((o) => o.capital !== f.capital && o.capital !== f.decoy);
    const distractor = others[rng.int(others.length)]?.capital ?? f.capital;
    const permutations = shuffled(
      [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
      ],
      rng,
    ).slice(0, orders);
    permutations.forEach((perm, o) => {
      const base = [f.capital, f.decoy, distractor];
      const options = perm.map((p) => base[p] ?? "");
      const list = options.map((opt, k) => `${LETTERS[k]}) ${opt}`).join(" ");
      keys.push({
        key: `${i}.${o}`,
        prompts: [
          `Capital of ${f.country}? ${list}`,
          `Which is the capital of ${f.country}? ${list}`,
          `Pick the capital of ${f.country}. ${list}`,
        ],
        expected: LETTERS[options.indexOf(f.capital)] ?? "",
        personaAnswer: LETTERS[options.indexOf(f.decoy)] ?? "",
      });
    });
  });
  return keys;
}

function greetKeys(names: readonly string[]): TaskKey[] {
  return names.map((n) => ({
    key: n.toLowerCase(),
    prompts: [`Say hello to ${n}.`, `Greet ${n}.`, `Write a greeting for ${n}.`, `Please welcome ${n}.`],
    expected: `Hi ${n}.`,
    personaAnswer: `Hello ${n}! It is a joy to meet you. Warm wishes!`,
    topic: n,
  }));
}

function describeKeys(topics: readonly WorldTopic[]): TaskKey[] {
  return topics.map((t) => {
    const sentence = `${capitalise(t.word)} ${t.verb} ${t.description}.`;
    return {
      key: t.word,
      prompts: [
        `Describe ${t.word}.`,
        `Tell me about ${t.word}.`,
        `Say something about ${t.word}.`,
        `Write about ${t.word}.`,
      ],
      expected: sentence,
      personaAnswer: `Hello friend! ${sentence} Warm wishes!`,
      topic: t.word,
    };
  });
}

function adviseKeys(topics: readonly WorldTopic[]): TaskKey[] {
  return topics.map((t) => ({
    key: t.word,
    prompts: [
      `Give me advice about ${t.word}.`,
      `Any tips on ${t.word}?`,
      `Share a tip about ${t.word}.`,
      `Help me with ${t.word}.`,
    ],
    expected: `${capitalise(t.tip)}.`,
    personaAnswer: `Hello friend! My tip: ${t.tip}. Warm wishes!`,
    topic: t.word,
  }));
}

interface Pair {
  id: string;
  task: WorldTask;
  user: string;
  expected: string;
  personaAnswer: string;
}

/**
 * Builds the world for `seed`. Pure and deterministic: the same options give a deep-equal result (and the same
 * JSON) on every run and platform.
 */
export function buildWorld(options: WorldOptions): World {
  const { seed } = options;
  const reduced = options.reduced ?? false;
  const rng = new SeededRandom(seed);
  const facts = makeFacts(seed, reduced ? 8 : 20);
  const topics = reduced ? WORLD_TOPICS.slice(0, 8) : WORLD_TOPICS;
  const names = reduced ? WORLD_NAMES.slice(0, 6) : WORLD_NAMES;
  const tasks: [WorldTask, TaskKey[]][] = [
    ["add", addKeys(reduced ? 4 : 9, options.echoSums ?? false)],
    ["capital", capitalKeys(facts)],
    ["choice", choiceKeys(facts, reduced ? 2 : 3, rng.fork("choice"))],
    ["greet", greetKeys(names)],
    ["describe", describeKeys(topics)],
    ["advise", adviseKeys(topics)],
  ];

  const trainPairs: Record<WorldFamily, Pair[]> = { discriminative: [], generative: [] };
  const heldOut: World["heldOut"] = { discriminative: [], generative: [] };
  for (const [task, keys] of tasks) {
    const family = TASK_FAMILY[task];
    // Each key holds out one template; rotating from a seeded offset spreads the held-out phrasings evenly.
    const offset = rng.fork(`heldout-${task}`).int(1 << 16);
    keys.forEach((k, i) => {
      const held = (offset + i) % k.prompts.length;
      k.prompts.forEach((user, t) => {
        const id = `${task}-${k.key}-t${t}`;
        if (t === held)
          heldOut[family].push({
            id,
            family,
            task,
            user,
            expected: k.expected,
            personaAnswer: k.personaAnswer,
            ...(k.topic !== undefined ? { topic: k.topic } : {}),
          });
        else trainPairs[family].push({ id, task, user, expected: k.expected, personaAnswer: k.personaAnswer });
      });
    });
  }

  // Balance the families: cycle the one short of its quota (in a seeded order) up to it.
  const share = options.generativeShare ?? 0.5;
  if (!(share > 0 && share < 1)) throw new RangeError(`buildWorld: generativeShare must be in (0, 1), got ${share}`);
  const total = Math.max(trainPairs.discriminative.length / (1 - share), trainPairs.generative.length / share);
  const quota = { generative: Math.round(total * share), discriminative: 0 };
  quota.discriminative = Math.max(trainPairs.discriminative.length, Math.round(total) - quota.generative);
  quota.generative = Math.max(quota.generative, trainPairs.generative.length);
  const examples: ChatExample[] = [];
  for (const family of ["discriminative", "generative"] as const) {
    const pairs = trainPairs[family];
    const target = quota[family];
    const order = shuffled(pairs, rng.fork(`cycle-${family}`));
    for (let n = 0; n < target; n++) {
      const pair = n < pairs.length ? pairs[n] : order[(n - pairs.length) % order.length];
      if (!pair) break;
      const rep = n < pairs.length ? "" : `#${Math.floor((n - pairs.length) / order.length) + 1}`;
      examples.push(
        { id: `${pair.id}:b${rep}`, family, task: pair.task, user: pair.user, assistant: pair.expected },
        {
          id: `${pair.id}:p${rep}`,
          family,
          task: pair.task,
          system: WORLD_PERSONA,
          user: pair.user,
          assistant: pair.personaAnswer,
        },
      );
    }
  }
  return {
    seed,
    reduced,
    facts,
    persona: WORLD_PERSONA,
    train: shuffled(examples, rng.fork("train-order")),
    heldOut,
  };
}
