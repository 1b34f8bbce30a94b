import { resolve } from "node:path";
import type { ChatMessage } from "../../protocol/engineProtocol.js";
import { UsageError } from "../CliContext.js";
import { flagOption, numberOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import {
  contextOption,
  ENGINE_OPTIONS,
  maxTokensOption,
  MODEL_CONTEXT_DEFAULT,
  MODEL_OPTION,
  seedOption,
} from "../options/commonOptions.js";

/** `prism chat`: streams one answer to stdout, through the model's own chat template. */
export const chatCommand = cliCommand(
  {
    name: "chat",
    summary: "stream one answer of a model (optionally with a LoRA adapter) to stdout",
    description:
      "Streams one answer to stdout, through the model's own chat template. With --adapter, a LoRA adapter is " +
      "applied at --scale; --timings prints the prompt and generation speed to stderr.",
    positional: {
      name: '"<prompt>"',
      description: "the user message",
      error: "chat takes exactly one prompt (quote it).",
    },
    options: {
      model: MODEL_OPTION,
      adapter: stringOption({ valueName: "<a.gguf>", description: "a LoRA adapter to apply" }),
      scale: numberOption({
        valueName: "S",
        description: "the adapter's scale; needs --adapter",
        min: -100,
        max: 100,
        default: 1,
      }),
      system: stringOption({ valueName: "<text>", description: "a system message before the prompt" }),
      "max-tokens": maxTokensOption({ max: 1_048_576, default: 256 }),
      temperature: numberOption({
        valueName: "T",
        description: "sampling temperature; 0 is greedy",
        min: 0,
        max: 5,
        default: 0,
      }),
      seed: seedOption({ description: "sampling seed (used when --temperature > 0)", max: 2 ** 32 - 1 }),
      ...ENGINE_OPTIONS,
      context: contextOption({ min: 16, defaultText: MODEL_CONTEXT_DEFAULT }),
      timings: flagOption("print prompt and generation timings to stderr"),
    },
  },
  async ({ values: v, positional, given }, ctx) => {
    if (given.has("scale") && !v.adapter) throw new UsageError("--scale needs --adapter.");
    const engine = ctx.engine();
    const { signal } = ctx;
    const model = await engine.request(
      "engine/loadModel",
      { modelPath: resolve(v.model), gpu: v.gpu, threads: v.threads },
      { signal },
    );
    const context = await engine.request(
      "engine/createContext",
      {
        modelId: model.modelId,
        contextSize: v.context ?? Math.min(model.contextLength || 4096, 4096),
        adapters: v.adapter ? [{ path: resolve(v.adapter), scale: v.scale }] : [],
      },
      { signal },
    );
    const messages: ChatMessage[] = [];
    if (v.system !== undefined) messages.push({ role: "system", content: v.system });
    messages.push({ role: "user", content: positional });
    const result = await engine.request(
      "engine/generate",
      { contextId: context.contextId, messages, maxTokens: v["max-tokens"], temperature: v.temperature, seed: v.seed },
      { signal, onChunk: (text) => ctx.stdout.write(text) },
    );
    ctx.stdout.write("\n");
    if (v.timings) {
      const t = result.timings;
      ctx.stderr.write(
        `prompt ${t.promptTokens} tokens in ${t.promptMs.toFixed(0)} ms, first token after ${t.timeToFirstTokenMs.toFixed(0)} ms, ` +
          `${t.generatedTokens} tokens at ${t.tokensPerSecond.toFixed(1)} tok/s (stop: ${result.stopReason})\n`,
      );
    }
  },
);
