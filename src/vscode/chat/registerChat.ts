import * as vscode from "vscode";
import { isCancellation, toWireError } from "../../core/errors.js";
import { FirstTurnDecisions } from "../../core/routing/FirstTurnDecisions.js";
import type { GateDecision, RouteResult, Router } from "../../core/routing/Router.js";
import { withAbortSignal } from "../withAbortSignal.js";
import type { PrismService } from "../PrismService.js";
import { historyToChatMessages, lmToChatMessages, messageText } from "./toChatMessages.js";

/** What a `@prism` reply remembers, so follow-up turns reuse the first turn's decision (docs/method.md §4). */
interface PrismChatMetadata {
  gate?: GateDecision;
  served?: "base" | "persona";
}

/** Words for a decision, shown under every answer. */
export function describeDecision(result: Pick<RouteResult, "gate" | "served" | "mode">, hasBundle: boolean): string {
  if (!hasBundle)
    return '_PRISM: no bundle is active, so the base model answered. Run "PRISM: Select Bundle" to route._';
  const g = result.gate;
  const rel = g.probability >= g.threshold ? "≥" : "<";
  const branch = result.served === "persona" ? "persona adapter (LoRA)" : "base model";
  return `_PRISM: ${branch} · gate p = ${g.probability.toFixed(3)} ${rel} threshold ${g.threshold} · ${result.mode} mode · gate ${(g.featureMs + g.gateMs).toFixed(1)} ms_`;
}

/**
 * The `@prism` chat participant (`/compare`, `/why`) and the `prism` language-model provider, through which any
 * chat feature or extension can use the PRISM-routed local model. Registered at activation (cheap: nothing
 * loads until a request arrives) because VS Code only offers a participant when the chat has a model.
 */
export function registerChat(context: vscode.ExtensionContext, service: PrismService): void {
  const participant = vscode.chat.createChatParticipant("prism.prism", (request, chatContext, stream, token) =>
    withAbortSignal(token, async (signal) => {
      if (request.command === "why") {
        const last = service.lastRoute;
        if (!last) {
          stream.markdown("No prompt has been routed in this window yet.");
          return {};
        }
        const g = last.result.gate;
        const bundle = service.status().bundle;
        stream.markdown(
          [
            `**Last prompt:** ${quote(last.prompt)}`,
            "",
            `- Gate probability **${g.probability.toFixed(3)}**, threshold ${g.threshold} → **${g.decision}**`,
            `- Served: **${last.result.served}** (${last.result.mode} mode)`,
            `- Feature ${g.featureMs.toFixed(1)} ms, gate MLP ${g.gateMs.toFixed(2)} ms${bundle ? `, feature: ${bundle.featureSpec}` : ""}`,
            bundle
              ? `- The gate was trained on ${bundle.personas.length} persona(s) (${bundle.personas.join(", ")}): it sends a prompt to the adapter when the persona's answers won the self-judge on similar prompts.`
              : "- No bundle is active: every prompt goes to the base model.",
          ].join("\n"),
        );
        stream.button({ command: "prism.openCompare", title: "Compare side by side", arguments: [last.prompt] });
        return {};
      }
      const compare = request.command === "compare";
      const config = service.config();
      const first = chatContext.history.find((t): t is vscode.ChatResponseTurn => t instanceof vscode.ChatResponseTurn);
      const reuse = (first?.result.metadata as PrismChatMetadata | undefined)?.gate;
      stream.progress(compare ? "Generating the base and persona answers…" : "Routing…");
      try {
        const result = await service.route(request.prompt, {
          mode: compare ? "compare" : config.chatMode,
          signal,
          messages: historyToChatMessages(chatContext, request.prompt),
          decision: compare ? undefined : reuse,
          maxTokens: config.maxTokens,
          temperature: config.temperature,
          onChunk: compare ? undefined : (_side, text) => stream.markdown(text),
        });
        const hasBundle = service.status().bundle !== undefined;
        if (compare) {
          for (const side of ["base", "persona"] as const) {
            const out = result.outputs[side];
            if (!out) continue;
            const mark = side === result.served ? " — served by PRISM" : "";
            stream.markdown(`\n\n**${side === "base" ? "Base model" : "Persona adapter"}${mark}**\n\n`);
            stream.markdown(out.text);
          }
        }
        stream.markdown(`\n\n${describeDecision(result, hasBundle)}`);
        stream.button({ command: "prism.openCompare", title: "Compare side by side", arguments: [request.prompt] });
        const metadata: PrismChatMetadata = { gate: result.gate, served: result.served };
        return { metadata };
      } catch (err) {
        if (isCancellation(err)) return {};
        const wire = toWireError(err);
        return { errorDetails: { message: `${wire.message} [${wire.code}]` } };
      }
    }),
  );
  participant.iconPath = new vscode.ThemeIcon("git-compare");
  context.subscriptions.push(participant);

  // The provider gets the whole conversation on every call and no conversation id: decisions are remembered per
  // first user turn, and forgotten when the router (bundle, model) changes.
  const decisions = new FirstTurnDecisions();
  let decisionsRouter: Router | undefined;
  const provider: vscode.LanguageModelChatProvider = {
    provideLanguageModelChatInformation: () => {
      const config = service.config();
      return [
        {
          id: "prism-routed",
          name: "PRISM (local, routed)",
          family: "prism",
          version: "1",
          detail: config.modelPath ? "local GGUF via PRISM" : "no model configured",
          tooltip:
            "The configured local GGUF model; each prompt is routed between the base model and the PRISM adapter.",
          maxInputTokens: config.contextSize,
          maxOutputTokens: config.maxTokens,
          // Agent mode's picker hides models without tool calling; tools are accepted and ignored.
          capabilities: { toolCalling: true, imageInput: false },
        },
      ];
    },
    provideLanguageModelChatResponse: (_model, messages, _options, progress, token) =>
      withAbortSignal(token, async (signal) => {
        const chat = lmToChatMessages(messages);
        const lastUser = [...chat].reverse().find((m) => m.role === "user");
        if (!lastUser) throw new Error("PRISM needs at least one user message.");
        while (chat.length && chat[chat.length - 1]!.role !== "user") chat.pop();
        const configured = service.config().chatMode;
        const mode = configured === "compare" ? "hard" : configured;
        const router = await service.router(signal);
        if (router !== decisionsRouter) {
          decisions.clear();
          decisionsRouter = router;
        }
        // The first user turn decides, once per conversation (as `@prism` does with its first reply's metadata).
        const decision = router
          ? await decisions.decide(chat, mode, (first) => router.decide(first, signal))
          : undefined;
        await service.route(lastUser.content, {
          mode,
          signal,
          messages: chat,
          decision,
          onChunk: (_side, text) => progress.report(new vscode.LanguageModelTextPart(text)),
        });
      }),
    provideTokenCount: async (_model, text) => {
      const value = typeof text === "string" ? text : messageText(text);
      // Exact when the model is already loaded; a cheap estimate otherwise (never start the engine for this).
      if (service.engine.state === "ready") {
        try {
          const { modelId } = await service.modelSession().model();
          return (await service.engine.request("engine/countTokens", { modelId, text: value })).tokens;
        } catch {
          // fall through to the estimate
        }
      }
      return Math.ceil(value.length / 3.5);
    },
  };
  context.subscriptions.push(vscode.lm.registerLanguageModelChatProvider("prism", provider));
}

function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return `“${oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine}”`;
}
