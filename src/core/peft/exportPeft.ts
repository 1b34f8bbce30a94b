import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { readBundle } from "../bundle/readBundle.js";
import { AppError } from "../errors.js";
import { readGateFile } from "../gate/gateFile.js";
import { modelIdentity } from "../model/modelIdentity.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import { peftConfigJson } from "./peftConfig.js";
import { peftArchitecture, peftModule, peftTensorName, ropePermuteHeads } from "./peftTensorNames.js";
import { permuteRopeRows } from "./permuteRopeRows.js";
import { readBaseModelFacts } from "./readBaseModelFacts.js";
import { checkLoraAgainstModel } from "./checkLoraAgainstModel.js";
import { readGgufLora } from "./readGgufLora.js";
import type { SafetensorsTensor } from "./safetensorsDtypes.js";
import { writeGatePeft } from "./writeGatePeft.js";
import { writeSafetensors } from "./writeSafetensors.js";

/** File names of a PEFT adapter directory, as `PeftModel.from_pretrained` looks for them. */
export const PEFT_FILES = { weights: "adapter_model.safetensors", config: "adapter_config.json" } as const;

/** Options of {@link exportPeft}. */
export interface ExportPeftOptions {
  /** The bundle's base model; the bundle is validated against it. */
  modelPath: string;
  /** `base_model_name_or_path`. Defaults to the model's Hugging Face repository, `general.name` or file name. */
  baseModelName?: string;
  /** A model content-hash cache file (`modelIdentity`). Defaults to none. */
  hashCacheFile?: string;
  signal?: AbortSignal;
}

/** What {@link exportPeft} wrote. */
export interface ExportPeftResult {
  /** The files written, in `outDir`. */
  files: string[];
  architecture: string;
  rank: number;
  alpha: number;
  /** PEFT `target_modules`. */
  targetModules: string[];
  /** LoRA pairs exported. */
  pairs: number;
}

/**
 * Writes a bundle as a Hugging Face PEFT LoRA directory (docs/peft.md): `adapter_model.safetensors` with PEFT's
 * tensor names (Llama's q/k `lora_B` rows put back into Hugging Face's RoPE order), `adapter_config.json`, and
 * the gate as `gate.safetensors` + `gate.json`. The bundle is first validated against the model like any bundle
 * that is loaded, and the adapter's shapes against the model's weights. Each file is written atomically.
 *
 * @throws AppError `bundle/*`, `gate/*`, `gguf/*` (validation); `peft/unsupportedArchitecture`;
 *   `peft/unknownTensor` (a LoRA target PEFT has no name for); `peft/unsupportedDtype` (quantised LoRA tensors);
 *   `peft/unsupportedConfig` (pairs of different ranks); `peft/shapeMismatch`; `io/writeFailed`.
 */
export async function exportPeft(
  bundleDir: string,
  outDir: string,
  options: ExportPeftOptions,
): Promise<ExportPeftResult> {
  const { signal } = options;
  const model = await readBaseModelFacts(options.modelPath, { signal });
  const arch = peftArchitecture(model.architecture);
  const identity = await modelIdentity(options.modelPath, { cacheFile: options.hashCacheFile, signal });
  const bundle = await readBundle(bundleDir, { identity, embeddingSize: model.embeddingLength });
  const lora = await readGgufLora(bundle.adapterPath, { signal });
  checkLoraAgainstModel(lora, model, bundle.adapterPath);
  const rank = lora.pairs[0]?.rank ?? 0;
  const uneven = lora.pairs.find((p) => p.rank !== rank);
  if (uneven) {
    throw new AppError(
      "peft/unsupportedConfig",
      `${bundle.adapterPath} mixes ranks (${rank} and ${uneven.rank}); the export writes one rank for all modules.`,
    );
  }

  const tensors: SafetensorsTensor[] = [];
  const modules = new Set<string>();
  const layers = new Set<number>();
  for (const p of lora.pairs) {
    signal?.throwIfAborted();
    const module = peftModule(arch, p.target);
    modules.add(module.slice(module.indexOf(".") + 1));
    layers.add(p.block);
    const heads = ropePermuteHeads(arch, p.target, model);
    const b = heads === undefined ? p.b.data : permuteRopeRows(p.b.data, p.nOut, heads, "toHf");
    const site = { block: p.block, module };
    tensors.push(
      { name: peftTensorName(site, "a"), dtype: p.a.dtype, shape: [p.rank, p.nIn], data: p.a.data },
      { name: peftTensorName(site, "b"), dtype: p.b.dtype, shape: [p.nOut, p.rank], data: b },
    );
  }
  // llama.cpp reads a missing alpha as "scale by 1", which PEFT expresses as lora_alpha = r.
  const alpha = lora.alpha || rank;
  const targetModules = [...modules].sort();
  const allLayers = layers.size === model.blocks;
  const config = peftConfigJson({
    baseModel: options.baseModelName ?? model.displayName,
    rank,
    alpha,
    targetModules,
    // PEFT would otherwise wrap every layer's modules, and vLLM would expect weights for all of them.
    layers: allLayers ? null : [...layers].sort((x, y) => x - y),
  });

  await mkdir(outDir, { recursive: true });
  await writeSafetensors(join(outDir, PEFT_FILES.weights), { metadata: { format: "pt" }, tensors }, { signal });
  await writeFileAtomic(join(outDir, PEFT_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
  const gate = await readGateFile(join(bundle.dir, bundle.manifest.gateFile));
  await writeGatePeft(outDir, gate, { manifest: bundle.manifest, report: await readReport(bundle.dir) }, { signal });
  return {
    files: [PEFT_FILES.weights, PEFT_FILES.config, "gate.safetensors", "gate.json"],
    architecture: arch,
    rank,
    alpha,
    targetModules,
    pairs: lora.pairs.length,
  };
}

async function readReport(dir: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(join(dir, "report.json"), "utf8")) as unknown;
  } catch {
    return null; // the report is provenance; a bundle without a readable one still exports
  }
}
