import { describe, expect, it, vi } from "vitest";
import { FirstTurnDecisions } from "../../../src/core/routing/FirstTurnDecisions.js";
import type { GateDecision } from "../../../src/core/routing/Router.js";
import type { ChatMessage } from "../../../src/protocol/engineProtocol.js";

const gate = (probability: number): GateDecision => ({
  probability,
  threshold: 0.5,
  decision: probability >= 0.5 ? "persona" : "base",
  featureMs: 1,
  gateMs: 0.1,
});

const FIRST = "Write a haiku about autumn leaves in Kyoto.";
/** What VS Code's language-model API sends on each call of one conversation: everything so far. */
const turn1: ChatMessage[] = [{ role: "user", content: FIRST }];
const turn2: ChatMessage[] = [
  ...turn1,
  { role: "assistant", content: "Crimson maples fall / on the stones of Kiyomizu / a temple bell hums" },
  { role: "user", content: "Now explain the kigo you used." },
];
const turn3: ChatMessage[] = [
  ...turn2,
  { role: "assistant", content: "The kigo is momiji, autumn maple leaves." },
  { role: "user", content: "What is 17 × 23?" },
];

describe("the first user turn decides, once per conversation", () => {
  it("runs the gate on the first user message and reuses its decision on every later call", async () => {
    const decisions = new FirstTurnDecisions();
    const decide = vi.fn(async (first: string) => gate(first === FIRST ? 0.9 : 0.1));
    expect(await decisions.decide(turn1, "hard", decide)).toEqual(gate(0.9));
    expect(await decisions.decide(turn2, "hard", decide)).toEqual(gate(0.9));
    expect(await decisions.decide(turn3, "hard", decide)).toEqual(gate(0.9)); // not the maths question's 0.1
    expect(decide).toHaveBeenCalledTimes(1);
    expect(decide).toHaveBeenCalledWith(FIRST);
  });

  it("decides on the first user turn even when the conversation is new to it", async () => {
    const decide = vi.fn(async (first: string) => gate(first === FIRST ? 0.9 : 0.1));
    expect(await new FirstTurnDecisions().decide(turn3, "hard", decide)).toEqual(gate(0.9));
    expect(decide).toHaveBeenCalledWith(FIRST);
  });

  it("keys on the first user message and the mode", async () => {
    const decisions = new FirstTurnDecisions();
    const decide = vi.fn(async () => gate(0.7));
    await decisions.decide(turn1, "hard", decide);
    await decisions.decide(turn1, "soft", decide);
    await decisions.decide([{ role: "user", content: "Another conversation entirely." }], "hard", decide);
    expect(decide).toHaveBeenCalledTimes(3);
    await decisions.decide(turn2, "soft", decide);
    expect(decide).toHaveBeenCalledTimes(3);
  });

  it("is bounded, least recently used out first", async () => {
    const decisions = new FirstTurnDecisions({ capacity: 2 });
    const decide = vi.fn(async () => gate(0.2));
    const conv = (n: number): ChatMessage[] => [{ role: "user", content: `conversation ${n}` }];
    await decisions.decide(conv(1), "hard", decide);
    await decisions.decide(conv(2), "hard", decide);
    await decisions.decide(conv(1), "hard", decide); // 1 is now the most recent
    await decisions.decide(conv(3), "hard", decide); // evicts 2
    expect(decisions.size).toBe(2);
    expect(decide).toHaveBeenCalledTimes(3);
    await decisions.decide(conv(1), "hard", decide);
    expect(decide).toHaveBeenCalledTimes(3);
    await decisions.decide(conv(2), "hard", decide);
    expect(decide).toHaveBeenCalledTimes(4);
  });

  it("remembers neither a missing decision nor a failed one, and forgets all on clear", async () => {
    const decisions = new FirstTurnDecisions();
    expect(await decisions.decide(turn1, "hard", async () => undefined)).toBeUndefined();
    await expect(
      decisions.decide(turn1, "hard", async () => {
        throw new Error("cancelled");
      }),
    ).rejects.toThrow("cancelled");
    expect(decisions.size).toBe(0);
    expect(await decisions.decide([{ role: "assistant", content: "hi" }], "hard", async () => gate(1))).toBeUndefined();
    await decisions.decide(turn1, "hard", async () => gate(0.9));
    decisions.clear();
    const decide = vi.fn(async () => gate(0.1));
    expect(await decisions.decide(turn2, "hard", decide)).toEqual(gate(0.1));
  });
});
