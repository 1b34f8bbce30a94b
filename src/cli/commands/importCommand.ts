import { join, resolve } from "node:path";
import { importPeft } from "../../core/peft/importPeft.js";
import { cliCacheDir } from "../cliCacheDir.js";
import { stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import { jsonOption, MODEL_OPTION } from "../options/commonOptions.js";

/** `prism import`: a Hugging Face PEFT LoRA directory and an exported gate back into a bundle (docs/peft.md). */
export const importCommand = cliCommand(
  {
    name: "import",
    summary: "make a bundle from a Hugging Face PEFT LoRA and an exported gate",
    description:
      "Reads adapter_config.json and adapter_model.safetensors, maps the tensors to llama.cpp's names for the " +
      "model's architecture, checks them against the model, and writes a bundle with the gate that prism export " +
      "wrote (gate.json + gate.safetensors). The bundle is validated against the model before it replaces --out " +
      "(docs/peft.md).",
    options: {
      peft: stringOption({ valueName: "<dir>", description: "the PEFT adapter directory", required: true }),
      model: MODEL_OPTION,
      gate: stringOption({
        valueName: "<dir|gate.json>",
        description: "the exported gate: a directory with gate.json + gate.safetensors, or its gate.json",
        defaultText: "the PEFT directory",
      }),
      out: stringOption({ valueName: "<b.prism>", description: "the bundle to write", required: true }),
      json: jsonOption("what was imported"),
    },
  },
  async ({ values: v }, ctx) => {
    const result = await importPeft(resolve(v.peft), resolve(v.out), {
      modelPath: resolve(v.model),
      gate: v.gate === undefined ? undefined : resolve(v.gate),
      hashCacheFile: join(cliCacheDir(), "model-hashes.json"),
      signal: ctx.signal,
    });
    if (v.json) {
      ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    ctx.stdout.write(
      `${result.architecture}: ${result.pairs} LoRA pairs, r=${result.rank}, alpha=${result.alpha}\n` +
        `wrote ${result.outDir}\n`,
    );
  },
);
