import type { ChatMessage } from "../../protocol/engineProtocol.js";

/**
 * The student prompt of a query: the user turn alone, no persona (docs/method.md §2). The ONE function that builds
 * it, used for gate training, gate inference and the LoRA's training input, so the three can never drift apart
 * (defect D2 of the authors' code: the gate was trained on prompt + answer but queried on the prompt).
 * The engine applies the model's chat template and the generation prompt.
 */
export function studentMessages(query: string): ChatMessage[] {
  return [{ role: "user", content: query }];
}

/** The teacher's (and stage 2's persona answer's) prompt: the full persona as the system message, then the query. */
export function personaMessages(persona: string, query: string): ChatMessage[] {
  return [
    { role: "system", content: persona },
    { role: "user", content: query },
  ];
}
