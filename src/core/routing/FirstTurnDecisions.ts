import { createHash } from "node:crypto";
import type { ChatMessage } from "../../protocol/engineProtocol.js";
import type { GateDecision, RouteMode } from "./Router.js";

/** Options of {@link FirstTurnDecisions}. */
export interface FirstTurnDecisionsOptions {
  /** Conversations remembered; the least recently used is forgotten first. Defaults to 256. */
  capacity?: number;
}

/**
 * The gate decides once per conversation, on its first user turn, and every later turn reuses that decision:
 * switching the adapter mid-conversation would change the answering model between turns (and invalidate the KV
 * cache). Chat APIs that resend the whole conversation on every call (VS Code's language-model provider) have no
 * conversation id, so a conversation is identified by its first user message and the routing mode. Bounded, least
 * recently used first out; keys are hashes, so long first messages are not kept.
 */
export class FirstTurnDecisions {
  private readonly capacity: number;
  private readonly decisions = new Map<string, GateDecision>();

  constructor(options: FirstTurnDecisionsOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 256);
  }

  /** Conversations remembered now. */
  get size(): number {
    return this.decisions.size;
  }

  /**
   * The decision for the conversation `messages` belongs to: the remembered one, or `decide(firstUserText)`'s,
   * remembered for the next call. An undefined decision (no gate to ask) and a failed one are not remembered.
   * Undefined when the conversation has no user message.
   */
  async decide(
    messages: readonly ChatMessage[],
    mode: RouteMode,
    decide: (firstUserText: string) => Promise<GateDecision | undefined>,
  ): Promise<GateDecision | undefined> {
    const first = messages.find((m) => m.role === "user")?.content;
    if (first === undefined) return undefined;
    const key = createHash("sha256").update(mode).update("\0").update(first).digest("hex");
    const known = this.decisions.get(key);
    if (known) {
      // Most recently used last, so the oldest entry is the first one out.
      this.decisions.delete(key);
      this.decisions.set(key, known);
      return known;
    }
    const decision = await decide(first);
    if (decision === undefined) return undefined;
    this.decisions.set(key, decision);
    while (this.decisions.size > this.capacity) this.decisions.delete(this.decisions.keys().next().value!);
    return decision;
  }

  /** Forgets every conversation (another bundle or model makes the decisions stale). */
  clear(): void {
    this.decisions.clear();
  }
}
