import { join, resolve } from "node:path";
import { exportPeft } from "../../core/peft/exportPeft.js";
import { cliCacheDir } from "../cliCacheDir.js";
import { distilledFrom } from "../openBundle.js";
import { choiceOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import { BUNDLE_MODEL_OPTION, BUNDLE_OPTION, jsonOption } from "../options/commonOptions.js";

/** `prism export`: a bundle as a Hugging Face PEFT LoRA directory plus its gate (docs/peft.md). */
export const exportCommand = cliCommand(
  {
    name: "export",
    summary: "write a bundle's adapter as a Hugging Face PEFT LoRA, with its gate",
    description:
      "Validates the bundle against its base model, then writes adapter_model.safetensors and adapter_config.json " +
      "with the tensor names PEFT uses for the model's architecture (llama, qwen2, qwen3, gemma3, phi3), and the " +
      "gate as gate.safetensors + gate.json, so that prism import can rebuild the bundle (docs/peft.md).",
    options: {
      bundle: BUNDLE_OPTION,
      model: BUNDLE_MODEL_OPTION,
      format: choiceOption({ description: "the format to write", choices: ["peft"] as const, default: "peft" }),
      out: stringOption({ valueName: "<dir>", description: "the directory to write into", required: true }),
      "base-model-name": stringOption({
        valueName: "<name>",
        description: "base_model_name_or_path in adapter_config.json, e.g. a Hugging Face repository",
        defaultText: "the model's recorded repository, general.name or file name",
      }),
      json: jsonOption("what was written"),
    },
  },
  async ({ values: v }, ctx) => {
    const bundle = resolve(v.bundle);
    const modelPath = v.model ? resolve(v.model) : await distilledFrom(bundle);
    const result = await exportPeft(bundle, resolve(v.out), {
      modelPath,
      baseModelName: v["base-model-name"],
      hashCacheFile: join(cliCacheDir(), "model-hashes.json"),
      signal: ctx.signal,
    });
    if (v.json) {
      ctx.stdout.write(`${JSON.stringify({ out: resolve(v.out), ...result }, null, 2)}\n`);
      return;
    }
    ctx.stdout.write(
      `${result.architecture}: ${result.pairs} LoRA pairs, r=${result.rank}, alpha=${result.alpha}, ` +
        `target_modules ${result.targetModules.join(", ")}\n` +
        result.files.map((f) => `wrote ${join(resolve(v.out), f)}\n`).join(""),
    );
  },
);
