import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { GpuChoice } from "../../protocol/engineProtocol.js";
import type { EngineClient } from "../engine/EngineClient.js";
import { ModelSession } from "../engine/ModelSession.js";
import { featureHeadFits } from "../gguf/featureHead.js";
import { writeTruncatedModel } from "../gguf/writeTruncatedModel.js";
import { studentMessages } from "../pipeline/studentPrompt.js";
import type { FeatureSpec } from "./featureSpec.js";

/** Options of {@link FeatureExtractor}. */
export interface FeatureExtractorOptions {
  engine: EngineClient;
  /** The base model GGUF. */
  basePath: string;
  /** Short content fingerprint of the base (names the cached truncated model). */
  baseFingerprint: string;
  spec: FeatureSpec;
  /** Where the truncated k-block model is cached (next to the bundle or job). */
  cacheDir: string;
  threads: number;
  gpu: GpuChoice;
}

/** One gate feature and what it cost. */
export interface Feature {
  vector: number[];
  ms: number;
}

/**
 * Computes gate features of prompts: the student prompt (chat template + generation prompt, exactly as at
 * inference) embedded by the base model (`final`) or by a truncated k-block copy of it (`layer k`), which is
 * written once and cached by base fingerprint and k. A last-token `layer k` feature is read through the copy's
 * feature head (`engine/featureHead`) where the model's shape allows one.
 */
export class FeatureExtractor {
  private session?: Promise<ModelSession>;

  constructor(private readonly options: FeatureExtractorOptions) {}

  /** The feature of one user prompt. */
  async extract(prompt: string, signal?: AbortSignal): Promise<Feature> {
    const session = await this.getSession(signal);
    const info = await session.model(signal);
    const messages = studentMessages(prompt);
    const { engine, threads } = this.options;
    const started = performance.now();
    let r: { embedding: number[] };
    if (this.usesHead() && featureHeadFits(info.embeddingSize, info.vocabSize)) {
      // The state only needs the prompt, as in an embedding context (docs/engine.md §8).
      const contextSize = Math.min(info.contextLength || 4096, 4096);
      const contextId = await session.context("features", { contextSize, threads }, signal);
      r = await engine.request("engine/featureHead", { contextId, messages }, { signal });
    } else {
      r = await engine.request("engine/embed", { modelId: info.modelId, input: { messages } }, { signal });
    }
    return { vector: r.embedding, ms: performance.now() - started };
  }

  /**
   * The path of the model the features come from: the base for `final`, otherwise the truncated copy — with the
   * feature head for last-token features, so they cost one ordinary prompt pass of k blocks.
   */
  async featureModelPath(signal?: AbortSignal): Promise<string> {
    const { spec, basePath, cacheDir, baseFingerprint } = this.options;
    if (spec.source === "final") return basePath;
    const head = this.usesHead() ? "h" : "";
    const name = `gate-features-${baseFingerprint.replace(/[^a-z0-9]/gi, "")}-L${spec.layer}${head}.gguf`;
    const path = join(cacheDir, name);
    if (!existsSync(path)) {
      await mkdir(cacheDir, { recursive: true });
      await writeTruncatedModel(basePath, path, spec.layer, { signal, featureHead: this.usesHead() });
    }
    return path;
  }

  /** Mean pooling needs every token's state, which only an embedding context returns. */
  private usesHead(): boolean {
    return this.options.spec.source === "layer" && this.options.spec.pooling === "last";
  }

  private getSession(signal?: AbortSignal): Promise<ModelSession> {
    this.session ??= this.featureModelPath(signal).then(
      (modelPath) =>
        new ModelSession(this.options.engine, {
          modelPath,
          gpu: this.options.gpu,
          threads: this.options.threads,
          pooling: this.options.spec.pooling,
        }),
    );
    this.session.catch(() => (this.session = undefined));
    return this.session;
  }
}
