import * as vscode from "vscode";
import type { ChatMessage } from "../../protocol/engineProtocol.js";

/** The text of a language-model request message (text parts; tool results as their text). */
export function messageText(m: vscode.LanguageModelChatRequestMessage): string {
  return m.content
    .map((part) => {
      if (part instanceof vscode.LanguageModelTextPart) return part.value;
      if (part instanceof vscode.LanguageModelToolResultPart) {
        return part.content.map((c) => (c instanceof vscode.LanguageModelTextPart ? c.value : "")).join("");
      }
      return "";
    })
    .join("");
}

/** VS Code LM messages → engine chat messages (system text from the caller's first user message stays as is). */
export function lmToChatMessages(messages: readonly vscode.LanguageModelChatRequestMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of messages) {
    const content = messageText(m);
    if (!content) continue;
    out.push({ role: m.role === vscode.LanguageModelChatMessageRole.Assistant ? "assistant" : "user", content });
  }
  return out;
}

/** A chat participant's history (its own turns) plus the new prompt, as engine chat messages. */
export function historyToChatMessages(context: vscode.ChatContext, prompt: string): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const turn of context.history) {
    if (turn instanceof vscode.ChatRequestTurn) out.push({ role: "user", content: turn.prompt });
    else if (turn instanceof vscode.ChatResponseTurn) {
      const text = turn.response
        .map((part) => (part instanceof vscode.ChatResponseMarkdownPart ? part.value.value : ""))
        .join("")
        .trim();
      if (text) out.push({ role: "assistant", content: text });
    }
  }
  out.push({ role: "user", content: prompt });
  return out;
}
