import { parseArgs } from "node:util";
import { resolve } from "node:path";
import type { ChatMessage } from "../../protocol/engineProtocol.js";
import { defaultThreadCount } from "../../core/util/defaultThreadCount.js";
import { intFlag, numberFlag, UsageError, type CliContext } from "../CliContext.js";
import { gpuFlag } from "./gpuFlag.js";

export const CHAT_USAGE =
  'prism chat --model <m.gguf> [--adapter <a.gguf> [--scale S]] [--system <text>] [--max-tokens N] [--temperature T] [--seed N] [--threads N] [--context N] [--gpu auto|cuda|vulkan|metal|false] [--timings] "<prompt>"';

/** `prism chat`: streams one answer to stdout, through the model's own chat template. */
export async function chatCommand(args: string[], ctx: CliContext): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: "string" },
      adapter: { type: "string" },
      scale: { type: "string" },
      system: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      seed: { type: "string" },
      threads: { type: "string" },
      context: { type: "string" },
      gpu: { type: "string" },
      timings: { type: "boolean" },
    },
  });
  if (!values.model) throw new UsageError("--model is required.");
  if (positionals.length !== 1) throw new UsageError("chat takes exactly one prompt (quote it).");
  if (values.scale !== undefined && !values.adapter) throw new UsageError("--scale needs --adapter.");
  const threads = intFlag("threads", values.threads, 1, 1024) ?? defaultThreadCount();
  const scale = numberFlag("scale", values.scale, -100, 100) ?? 1;
  const engine = ctx.engine();
  const { signal } = ctx;

  const model = await engine.request(
    "engine/loadModel",
    { modelPath: resolve(values.model), gpu: gpuFlag(values.gpu), threads },
    { signal },
  );
  const contextSize = intFlag("context", values.context, 16, 1_048_576) ?? Math.min(model.contextLength || 4096, 4096);
  const context = await engine.request(
    "engine/createContext",
    {
      modelId: model.modelId,
      contextSize,
      adapters: values.adapter ? [{ path: resolve(values.adapter), scale }] : [],
    },
    { signal },
  );
  const messages: ChatMessage[] = [];
  if (values.system !== undefined) messages.push({ role: "system", content: values.system });
  messages.push({ role: "user", content: positionals[0]! });
  const result = await engine.request(
    "engine/generate",
    {
      contextId: context.contextId,
      messages,
      maxTokens: intFlag("max-tokens", values["max-tokens"], 1, 1_048_576) ?? 256,
      temperature: numberFlag("temperature", values.temperature, 0, 5) ?? 0,
      seed: intFlag("seed", values.seed, 0, 2 ** 32 - 1),
    },
    { signal, onChunk: (text) => ctx.stdout.write(text) },
  );
  ctx.stdout.write("\n");
  if (values.timings) {
    const t = result.timings;
    ctx.stderr.write(
      `prompt ${t.promptTokens} tokens in ${t.promptMs.toFixed(0)} ms, first token after ${t.timeToFirstTokenMs.toFixed(0)} ms, ` +
        `${t.generatedTokens} tokens at ${t.tokensPerSecond.toFixed(1)} tok/s (stop: ${result.stopReason})\n`,
    );
  }
}
