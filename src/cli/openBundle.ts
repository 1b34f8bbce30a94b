import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { readBundle, type LoadedBundle } from "../core/bundle/readBundle.js";
import type { EngineClient } from "../core/engine/EngineClient.js";
import { ModelSession } from "../core/engine/ModelSession.js";
import { AppError } from "../core/errors.js";
import { FeatureExtractor } from "../core/features/FeatureExtractor.js";
import { modelFingerprint, modelIdentity } from "../core/model/modelIdentity.js";
import type { GpuChoice } from "../protocol/engineProtocol.js";
import { cliCacheDir } from "./cliCacheDir.js";

/** A bundle opened against its base model in the engine. */
export interface OpenBundle {
  bundle: LoadedBundle;
  session: ModelSession;
  features: FeatureExtractor;
  modelPath: string;
}

/**
 * Loads the base model (`--model`, else the path the bundle was distilled from), checks that the bundle was made
 * for exactly this model, and prepares the gate's feature extractor (its truncated model cached in the bundle).
 */
export async function openBundle(
  engine: EngineClient,
  bundleDir: string,
  options: { model?: string; threads: number; gpu: GpuChoice; signal: AbortSignal },
): Promise<OpenBundle> {
  const dir = resolve(bundleDir);
  const modelPath = options.model ? resolve(options.model) : await distilledFrom(dir);
  const session = new ModelSession(engine, { modelPath, gpu: options.gpu, threads: options.threads });
  const info = await session.model(options.signal);
  const identity = await modelIdentity(modelPath, {
    cacheFile: join(cliCacheDir(), "model-hashes.json"),
    signal: options.signal,
  });
  const bundle = await readBundle(dir, { identity, embeddingSize: info.embeddingSize });
  const features = new FeatureExtractor({
    engine,
    basePath: modelPath,
    baseFingerprint: modelFingerprint(identity),
    spec: bundle.manifest.featureSpec,
    cacheDir: join(dir, ".cache"),
    threads: options.threads,
    gpu: options.gpu,
  });
  return { bundle, session, features, modelPath };
}

/**
 * The model the bundle at `dir` was distilled from (its manifest's `training.model.path`), when that file still
 * exists; `cli/usage` asking for `--model` otherwise.
 */
export async function distilledFrom(dir: string): Promise<string> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as {
      training?: { model?: { path?: unknown } };
    };
    const path = manifest.training?.model?.path;
    if (typeof path === "string" && existsSync(path)) return path;
  } catch {
    // readBundle reports a bad manifest properly; here we only look for a hint
  }
  throw new AppError("cli/usage", `Pass --model: the model ${dir} was distilled from is not at its recorded path.`);
}
