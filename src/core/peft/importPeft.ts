import { existsSync, statSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { BUNDLE_SCHEMA_VERSION, type BundleManifest } from "../bundle/bundleManifest.js";
import { readBundle } from "../bundle/readBundle.js";
import { AppError } from "../errors.js";
import { writeGateFile } from "../gate/gateFile.js";
import { modelIdentity } from "../model/modelIdentity.js";
import { replaceDirectory } from "../util/replaceDirectory.js";
import { writeFailed, writeFileAtomic } from "../util/writeFileAtomic.js";
import { checkLoraAgainstModel } from "./checkLoraAgainstModel.js";
import { PEFT_FILES } from "./exportPeft.js";
import { readPeftConfig, type PeftLoraConfig } from "./peftConfig.js";
import { ggufTarget, parsePeftTensorName, peftArchitecture, ropePermuteHeads } from "./peftTensorNames.js";
import { permuteRopeRows } from "./permuteRopeRows.js";
import { readBaseModelFacts, type BaseModelFacts } from "./readBaseModelFacts.js";
import { readGatePeft } from "./readGatePeft.js";
import type { GgufLora, LoraMatrix, LoraPair } from "./readGgufLora.js";
import { readSafetensors } from "./readSafetensors.js";
import type { SafetensorsTensor } from "./safetensorsDtypes.js";
import { GATE_PEFT_FILES } from "./writeGatePeft.js";
import { writeGgufLora } from "./writeGgufLora.js";

/** Options of {@link importPeft}. */
export interface ImportPeftOptions {
  /** The base GGUF the adapter is for; the new bundle is bound to it and validated against it. */
  modelPath: string;
  /**
   * The exported gate: a directory holding `gate.json` + `gate.safetensors`, or the path of such a `gate.json`
   * (its weights beside it). Defaults to the PEFT directory.
   */
  gate?: string;
  /** A model content-hash cache file (`modelIdentity`). Defaults to none. */
  hashCacheFile?: string;
  signal?: AbortSignal;
}

/** What {@link importPeft} made. */
export interface ImportPeftResult {
  /** The bundle directory. */
  outDir: string;
  architecture: string;
  rank: number;
  alpha: number;
  /** LoRA pairs imported. */
  pairs: number;
}

/**
 * Reads a PEFT LoRA directory (`adapter_config.json` + `adapter_model.safetensors`) and an exported PRISM gate back
 * into a `.prism` bundle for `modelPath` (docs/peft.md §6): tensors are mapped to llama.cpp names (Llama's q/k
 * `lora_B` rows into ggml's RoPE order), checked against the model's weights, and written as `adapter.gguf` with
 * their dtype (F32 and F16 kept bit for bit, BF16 widened to F32 exactly); the gate and the bundle's manifest and
 * report are restored from the gate export. The bundle is assembled in a sibling temp directory, validated with
 * `readBundle` against the model, and only then renamed over `outDir`.
 *
 * @throws AppError `peft/*` (config, safetensors, names, shapes, gate); `gguf/*`; `bundle/*` and `gate/*` (the
 *   assembled bundle fails validation, e.g. a gate trained for another model); `io/writeFailed` (including an
 *   `outDir` that exists and is not a bundle, which is never replaced).
 */
export async function importPeft(
  peftDir: string,
  outDir: string,
  options: ImportPeftOptions,
): Promise<ImportPeftResult> {
  const { signal } = options;
  const config = await readPeftConfig(join(peftDir, PEFT_FILES.config));
  const weights = await readSafetensors(join(peftDir, PEFT_FILES.weights), { signal });
  const model = await readBaseModelFacts(options.modelPath, { signal });
  const lora = toGgufLora(weights.tensors, config, model, join(peftDir, PEFT_FILES.weights));
  checkLoraAgainstModel(lora, model, join(peftDir, PEFT_FILES.weights));
  const gateDir = options.gate ?? peftDir;
  const gateJson = gateDir.endsWith(".json") ? gateDir : join(gateDir, GATE_PEFT_FILES.json);
  const saved = await readGatePeft(gateJson, join(dirname(gateJson), GATE_PEFT_FILES.weights));
  const identity = await modelIdentity(options.modelPath, { cacheFile: options.hashCacheFile, signal });

  if (existsSync(outDir) && !(statSync(outDir).isDirectory() && existsSync(join(outDir, "manifest.json")))) {
    throw writeFailed(outDir, new Error("it exists and is not a PRISM bundle, so it is not replaced"));
  }
  const present = [...new Set(lora.pairs.map((p) => p.target))];
  const savedTargets = saved.bundle.manifest.adapter.targets;
  const sameTargets = present.length === savedTargets.length && present.every((t) => savedTargets.includes(t));
  const manifest: BundleManifest = {
    ...saved.bundle.manifest,
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    name: basename(outDir).replace(/\.prism$/, ""),
    baseModel: { ...identity, fileName: basename(options.modelPath) },
    adapter: {
      file: "adapter.gguf",
      rank: config.rank,
      alpha: config.alpha,
      firstBlock: saved.bundle.manifest.adapter.firstBlock,
      // Keep the bundle's own order when the adapter still covers the same targets.
      targets: sameTargets ? savedTargets : present,
    },
    threshold: saved.gate.threshold,
    gateFile: "gate.json",
  };

  const tmp = join(dirname(outDir), `.${basename(outDir)}.partial-${process.pid}`);
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await writeGgufLora(join(tmp, "adapter.gguf"), lora, { signal });
    await writeGateFile(join(tmp, "gate.json"), saved.gate, { signal });
    await writeFileAtomic(join(tmp, "report.json"), JSON.stringify(saved.bundle.report ?? {}, null, 2));
    // The manifest goes last: a directory without one is never mistaken for a bundle.
    await writeFileAtomic(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2));
    await readBundle(tmp, { identity, embeddingSize: model.embeddingLength });
    await replaceDirectory(tmp, outDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err instanceof AppError ? err : writeFailed(outDir, err);
  }
  return { outDir, architecture: lora.architecture, rank: config.rank, alpha: config.alpha, pairs: lora.pairs.length };
}

/** Maps PEFT tensors to GGUF LoRA pairs, checking names, config and shapes. */
function toGgufLora(
  tensors: readonly SafetensorsTensor[],
  config: PeftLoraConfig,
  model: BaseModelFacts,
  where: string,
): GgufLora {
  const arch = peftArchitecture(model.architecture);
  const halves = new Map<string, { block: number; target: string; a?: SafetensorsTensor; b?: SafetensorsTensor }>();
  for (const t of tensors) {
    const parsed = parsePeftTensorName(t.name);
    const target = parsed && ggufTarget(arch, parsed.module);
    if (!parsed || target === undefined) {
      throw new AppError(
        "peft/unknownTensor",
        `${where}: tensor "${t.name}" is not a LoRA weight PRISM maps to ${arch}'s GGUF tensors ` +
          `(base_model.model.model.layers.N.<module>.lora_A|lora_B.weight).`,
        { name: t.name },
      );
    }
    const shortName = parsed.module.slice(parsed.module.indexOf(".") + 1);
    if (Array.isArray(config.targetModules) && !config.targetModules.includes(shortName)) {
      throw new AppError(
        "peft/invalidConfig",
        `${where}: tensor "${t.name}" adapts ${shortName}, which target_modules does not list.`,
      );
    }
    if (config.layers && !config.layers.includes(parsed.block)) {
      throw new AppError(
        "peft/invalidConfig",
        `${where}: tensor "${t.name}" is in layer ${parsed.block}, which layers_to_transform does not list.`,
      );
    }
    if (parsed.block >= model.blocks) {
      throw new AppError(
        "peft/shapeMismatch",
        `${where}: tensor "${t.name}" is in layer ${parsed.block}; the model has ${model.blocks}.`,
      );
    }
    const key = `${parsed.block}.${target}`;
    const entry = halves.get(key) ?? { block: parsed.block, target };
    if (entry[parsed.half]) throw new AppError("peft/invalid", `${where}: two tensors for ${t.name}.`);
    entry[parsed.half] = t;
    halves.set(key, entry);
  }
  const pairs: LoraPair[] = [];
  for (const { block, target, a, b } of halves.values()) {
    if (!a || !b) {
      throw new AppError("peft/invalid", `${where}: layer ${block} ${target} has only its lora_${a ? "A" : "B"}.`);
    }
    const [rank = 0, nIn = 0] = a.shape;
    const [nOut = 0, rankB = 0] = b.shape;
    if (a.shape.length !== 2 || b.shape.length !== 2 || rank !== config.rank || rankB !== config.rank) {
      throw new AppError(
        "peft/shapeMismatch",
        `${where}: ${a.name} is [${a.shape.join(", ")}] and ${b.name} [${b.shape.join(", ")}]; with r = ` +
          `${config.rank} they must be [${config.rank}, n_in] and [n_out, ${config.rank}].`,
      );
    }
    const bMatrix = matrix(b, where);
    const heads = ropePermuteHeads(arch, target, model);
    if (heads !== undefined) bMatrix.data = permuteRopeRows(bMatrix.data, nOut, heads, "toGguf");
    pairs.push({ block, target, rank, nIn, nOut, a: matrix(a, where), b: bMatrix });
  }
  if (pairs.length === 0) throw new AppError("peft/invalid", `${where} holds no LoRA tensors.`);
  return { architecture: model.architecture, alpha: config.alpha, pairs };
}

/** F32 and F16 stay as they are; BF16 becomes F32 exactly (its bits are the top half of a float32's). */
function matrix(t: SafetensorsTensor, where: string): LoraMatrix {
  if (t.dtype === "F32" || t.dtype === "F16") return { dtype: t.dtype, data: t.data };
  if (t.dtype === "BF16") {
    const out = new Uint8Array(t.data.byteLength * 2);
    for (let i = 0, o = 0; i < t.data.byteLength; i += 2, o += 4) {
      out[o + 2] = t.data[i] ?? 0;
      out[o + 3] = t.data[i + 1] ?? 0;
    }
    return { dtype: "F32", data: out };
  }
  throw new AppError(
    "peft/unsupportedDtype",
    `${where}: tensor "${t.name}" is ${t.dtype}; PRISM imports F32, F16 or BF16.`,
  );
}
