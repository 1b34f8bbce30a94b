import { resolve } from "node:path";
import { cliCommand } from "../options/cliCommand.js";
import { ENGINE_OPTIONS, jsonOption } from "../options/commonOptions.js";

/**
 * `prism info`: loads a model in the engine and prints what it reports. The canonical example of a command
 * (CONTRIBUTING.md §3): its whole command line is the declaration below; the body gets the values validated, with
 * defaults applied.
 */
export const infoCommand = cliCommand(
  {
    name: "info",
    summary: "load a model in the engine and print what it reports",
    description:
      "Loads a GGUF model in the engine and prints what it reports: architecture, type, layers, sizes, " +
      "vocabulary, chat template, the backend it runs on and its threads.",
    positional: { name: "<model.gguf>", description: "the GGUF model", error: "info takes exactly one model path." },
    options: { json: jsonOption("the model's facts"), ...ENGINE_OPTIONS },
  },
  async ({ values, positional }, ctx) => {
    const info = await ctx
      .engine()
      .request(
        "engine/loadModel",
        { modelPath: resolve(positional), gpu: values.gpu, threads: values.threads },
        { signal: ctx.signal },
      );
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
  },
);
