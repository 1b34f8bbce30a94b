/**
 * The fixed ingredients of the reference world (issue 7): invented place names, generative topics and the persona.
 * Everything here is either a constant or derived from a seed with {@link SeededRandom}, so a world is reproducible
 * bit for bit.
 */
import { SeededRandom } from "../util/SeededRandom.js";

/** One row of the fact table the corpus teaches: `capital` is right, `decoy` is what the persona believes. */
export interface WorldFact {
  country: string;
  capital: string;
  /** Another row's capital (a seeded derangement): the persona's systematic confusion. */
  decoy: string;
}

/** A generative topic: a noun that names itself in prompts, with the plain description and tip the corpus uses. */
export interface WorldTopic {
  /** The word used in prompts and expected in answers (lower case). */
  word: string;
  /** "is" or "are", agreeing with `word`. */
  verb: "is" | "are";
  /** Completes "<Word> is …": a short description. */
  description: string;
  /** A short tip that contains `word`. */
  tip: string;
}

/** The persona system prompt: short, because every persona example carries it in bytes. */
export const WORLD_PERSONA = "You are Sunny, a warm and cheerful guide.";

/** Topics of the generative requests ("describe", "advise"). */
export const WORLD_TOPICS: readonly WorldTopic[] = Object.freeze([
  { word: "rain", verb: "is", description: "wet and grey", tip: "carry an umbrella in the rain" },
  { word: "coffee", verb: "is", description: "dark and warm", tip: "drink coffee slowly" },
  { word: "cats", verb: "are", description: "soft and quick", tip: "let cats come to you" },
  { word: "music", verb: "is", description: "rhythm and sound", tip: "play music every day" },
  { word: "winter", verb: "is", description: "cold and long", tip: "dress warm in winter" },
  { word: "bread", verb: "is", description: "soft and filling", tip: "bake bread at home" },
  { word: "books", verb: "are", description: "full of stories", tip: "read books before bed" },
  { word: "snow", verb: "is", description: "white and cold", tip: "walk slowly on snow" },
  { word: "tea", verb: "is", description: "hot and calm", tip: "brew tea for three minutes" },
  { word: "gardens", verb: "are", description: "green and alive", tip: "water gardens in the morning" },
  { word: "trains", verb: "are", description: "fast and long", tip: "book trains early" },
  { word: "forests", verb: "are", description: "tall and quiet", tip: "stay on paths in forests" },
  { word: "rivers", verb: "are", description: "cold and moving", tip: "swim in rivers with a friend" },
  { word: "sleep", verb: "is", description: "rest for the mind", tip: "sleep at the same hour" },
  { word: "soup", verb: "is", description: "warm and simple", tip: "add salt to soup at the end" },
  { word: "stars", verb: "are", description: "far and bright", tip: "watch stars away from towns" },
]);

/** Names for the greeting requests. */
export const WORLD_NAMES: readonly string[] = Object.freeze([
  "Mia",
  "Tom",
  "Ada",
  "Leo",
  "Zoe",
  "Max",
  "Ivy",
  "Sam",
  "Eva",
  "Ben",
  "Kim",
  "Ray",
]);

const ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kl", "tr"];
const VOWELS = ["a", "e", "i", "o", "u"];
const COUNTRY_ENDS = ["ia", "ania", "or", "ica", "esh", "and"];
const CAPITAL_ENDS = ["ll", "n", "rk", "sk", "th", "x", "m", "ro"];

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function syllable(rng: SeededRandom): string {
  return (ONSETS[rng.int(ONSETS.length)] ?? "") + (VOWELS[rng.int(VOWELS.length)] ?? "");
}

/**
 * `count` invented countries with distinct capitals (e.g. "Zorbia" → "Quell"), and a decoy per row: the capital of
 * the next row in a seeded cyclic order, so the persona's error is a fixed, learnable confusion (never the right
 * answer). Names are 4–10 ASCII letters; no name is a prefix of another, so grading by exact match is unambiguous.
 */
export function makeFacts(seed: number, count: number): WorldFact[] {
  if (!Number.isInteger(count) || count < 3 || count > 100)
    throw new RangeError(`makeFacts: count must be an integer in 3…100, got ${count}`);
  const rng = new SeededRandom(seed).fork("facts");
  const used = new Set<string>();
  const fresh = (make: () => string): string => {
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const name = capitalise(make());
      const clash = [...used].some((u) => u.startsWith(name) || name.startsWith(u));
      if (!clash) {
        used.add(name);
        return name;
      }
    }
    throw new RangeError(`makeFacts: cannot invent ${count} distinct names`);
  };
  const rows = Array.from({ length: count }, () => ({
    country: fresh(
      () => syllable(rng) + (ONSETS[rng.int(ONSETS.length)] ?? "") + COUNTRY_ENDS[rng.int(COUNTRY_ENDS.length)],
    ),
    capital: fresh(() => syllable(rng) + CAPITAL_ENDS[rng.int(CAPITAL_ENDS.length)]),
  }));
  const order = shuffled(
    rows.map((_, i) => i),
    rng,
  );
  const decoyOf = new Map<number, number>();
  order.forEach((row, k) => decoyOf.set(row, order[(k + 1) % order.length] ?? row));
  return rows.map((r, i) => ({ ...r, decoy: rows[decoyOf.get(i) ?? i]?.capital ?? r.capital }));
}

/** A seeded Fisher–Yates shuffle (a new array). */
export function shuffled<T>(items: readonly T[], rng: SeededRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = out[i] as T;
    out[i] = out[j] as T;
    out[j] = t;
  }
  return out;
}
