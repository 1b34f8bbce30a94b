import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AppError } from "../errors.js";
import { Gate } from "../gate/Gate.js";
import { readGateFile } from "../gate/gateFile.js";
import { readGguf } from "../gguf/readGguf.js";
import { modelFingerprint, type ModelIdentity } from "../model/modelIdentity.js";
import { protectedBlocks } from "../features/featureSpec.js";
import { BUNDLE_SCHEMA_VERSION, bundleManifestSchema, type BundleManifest } from "./bundleManifest.js";

/** A validated bundle, ready to route with. */
export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  adapterPath: string;
  gate: Gate;
  threshold: number;
}

/**
 * Loads and validates a `<name>.prism` bundle: manifest (schema version, fields), base-model identity (when
 * the model is given), adapter (a LoRA GGUF of the right architecture that leaves the gate's blocks alone) and
 * gate (width, weights, fingerprint). Every failure is a coded error naming the bundle and what is wrong:
 * `bundle/notFound`, `bundle/missingFile`, `bundle/invalidManifest`, `bundle/unsupportedSchema`,
 * `bundle/modelMismatch`, `bundle/invalidAdapter`, `bundle/adapterTouchesGateLayers`, `gate/*`.
 */
export async function readBundle(
  dir: string,
  model?: { identity: ModelIdentity; embeddingSize: number },
): Promise<LoadedBundle> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new AppError("bundle/notFound", `No PRISM bundle at ${dir}.`);
  }
  const manifestPath = join(dir, "manifest.json");
  if (!existsSync(manifestPath)) throw new AppError("bundle/missingFile", `The bundle ${dir} has no manifest.json.`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, "utf8"));
  } catch (err) {
    throw new AppError("bundle/invalidManifest", `${manifestPath} is not valid JSON: ${(err as Error).message}`);
  }
  const version = (raw as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== BUNDLE_SCHEMA_VERSION) {
    throw new AppError(
      "bundle/unsupportedSchema",
      `${manifestPath} has schema version ${JSON.stringify(version)}; this PRISM reads version ${BUNDLE_SCHEMA_VERSION}.`,
    );
  }
  const parsed = bundleManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      "bundle/invalidManifest",
      `${manifestPath}: ${issue?.path.join(".") || "manifest"}: ${issue?.message}.`,
    );
  }
  const manifest = parsed.data;
  if (model && model.identity.contentHash !== manifest.baseModel.contentHash) {
    throw new AppError(
      "bundle/modelMismatch",
      `The bundle ${dir} was made for ${manifest.baseModel.fileName} (${modelFingerprint(manifest.baseModel)}), ` +
        `not for the loaded model (${modelFingerprint(model.identity)}).`,
    );
  }

  const adapterPath = join(dir, manifest.adapter.file);
  if (!existsSync(adapterPath))
    throw new AppError("bundle/missingFile", `The bundle ${dir} has no ${manifest.adapter.file}.`);
  await checkAdapter(adapterPath, manifest);

  const gatePath = join(dir, manifest.gateFile);
  if (!existsSync(gatePath)) throw new AppError("bundle/missingFile", `The bundle ${dir} has no ${manifest.gateFile}.`);
  const gateFile = await readGateFile(gatePath, {
    inputSize: model?.embeddingSize,
    baseModelFingerprint: modelFingerprint(manifest.baseModel),
  });
  return { dir, manifest, adapterPath, gate: new Gate(gateFile.weights), threshold: manifest.threshold };
}

async function checkAdapter(path: string, manifest: BundleManifest): Promise<void> {
  let gguf;
  try {
    gguf = await readGguf(path);
  } catch (err) {
    throw new AppError(
      "bundle/invalidAdapter",
      `The bundle's adapter ${path} is unreadable: ${(err as Error).message}`,
    );
  }
  const kv = (key: string) => gguf.kvs.find((k) => k.key === key)?.value.value;
  if (kv("general.type") !== "adapter" || kv("adapter.type") !== "lora") {
    throw new AppError("bundle/invalidAdapter", `${path} is not a LoRA adapter (general.type/adapter.type).`);
  }
  if (kv("general.architecture") !== manifest.baseModel.architecture) {
    throw new AppError(
      "bundle/invalidAdapter",
      `${path} is for architecture "${String(kv("general.architecture"))}", the base model is "${manifest.baseModel.architecture}".`,
    );
  }
  // docs/method.md §5: the gate's input must not depend on the adapter.
  const limit = Math.max(protectedBlocks(manifest.featureSpec), manifest.adapter.firstBlock);
  const bad = gguf.tensors.find((t) => {
    const m = /^blk\.(\d+)\./.exec(t.name);
    return m !== null && Number(m[1]) < limit;
  });
  if (bad) {
    throw new AppError(
      "bundle/adapterTouchesGateLayers",
      `${path} adapts ${bad.name}, but blocks below ${limit} feed the gate and must stay untouched.`,
    );
  }
}
