import type { GpuChoice } from "../../protocol/engineProtocol.js";
import type { LoadedBundle } from "../bundle/readBundle.js";
import type { ModelSession } from "../engine/ModelSession.js";
import { FeatureExtractor } from "../features/FeatureExtractor.js";
import { modelFingerprint } from "../model/modelIdentity.js";
import { Router } from "./Router.js";
import type { RoutingLog } from "./RoutingLog.js";

/** What {@link createRouter} needs besides the bundle and the base model's session. */
export interface CreateRouterOptions {
  session: ModelSession;
  bundle: LoadedBundle;
  /** Where the gate's truncated feature model is cached. */
  featureCacheDir: string;
  contextSize: number;
  threads: number;
  gpu: GpuChoice;
  log?: RoutingLog;
}

/** A router for a validated bundle on its base model: the gate's feature extractor wired to the same engine. */
export function createRouter(o: CreateRouterOptions): Router {
  const { session, bundle } = o;
  return new Router({
    session,
    adapterPath: bundle.adapterPath,
    gate: bundle.gate,
    threshold: bundle.threshold,
    features: new FeatureExtractor({
      engine: session.engine,
      basePath: session.load.modelPath,
      baseFingerprint: modelFingerprint(bundle.manifest.baseModel),
      spec: bundle.manifest.featureSpec,
      cacheDir: o.featureCacheDir,
      threads: o.threads,
      gpu: o.gpu,
    }),
    contextSize: o.contextSize,
    threads: o.threads,
    log: o.log,
  });
}
