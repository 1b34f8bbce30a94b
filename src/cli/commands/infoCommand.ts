import { parseArgs } from "node:util";
import { resolve } from "node:path";
import type { GpuChoice } from "../../protocol/engineProtocol.js";
import { defaultThreadCount } from "../../core/util/defaultThreadCount.js";
import { intFlag, UsageError, type CliContext } from "../CliContext.js";
import { gpuFlag } from "./gpuFlag.js";

export const INFO_USAGE = "prism info <model.gguf> [--json] [--gpu auto|cuda|vulkan|metal|false] [--threads N]";

/** `prism info`: loads a model in the engine and prints what it reports. */
export async function infoCommand(args: string[], ctx: CliContext): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" }, gpu: { type: "string" }, threads: { type: "string" } },
  });
  if (positionals.length !== 1) throw new UsageError("info takes exactly one model path.");
  const gpu: GpuChoice = gpuFlag(values.gpu);
  const threads = intFlag("threads", values.threads, 1, 1024) ?? defaultThreadCount();
  const info = await ctx
    .engine()
    .request("engine/loadModel", { modelPath: resolve(positionals[0]!), gpu, threads }, { signal: ctx.signal });
  if (values.json) {
    ctx.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  const rows: Array<[string, string]> = [
    ["path", info.path],
    ["architecture", info.architecture],
    ["type", info.typeDescription],
    ["layers", String(info.layers)],
    ["embedding size", String(info.embeddingSize)],
    ["context length", String(info.contextLength)],
    ["vocabulary", String(info.vocabSize)],
    ["file size", `${info.fileSize} bytes`],
    ["chat template", info.hasChatTemplate ? `yes (${info.chatWrapper})` : `no (falls back to ${info.chatWrapper})`],
    ["backend", info.gpu === false ? "CPU" : `${info.gpu} (${info.gpuLayers} layers offloaded)`],
    ["threads", String(info.threads)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) ctx.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}
