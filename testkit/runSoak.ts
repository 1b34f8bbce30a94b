import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readBundle } from "../src/core/bundle/readBundle.js";
import { EngineProcess } from "../src/core/engine/EngineProcess.js";
import { ModelSession } from "../src/core/engine/ModelSession.js";
import { isCancellation } from "../src/core/errors.js";
import { TINY_MODEL, writeSyntheticModel } from "../src/core/gguf/syntheticModel.js";
import { modelIdentity } from "../src/core/model/modelIdentity.js";
import { createRouter } from "../src/core/routing/createRouter.js";
import { RoutingLog } from "../src/core/routing/RoutingLog.js";
import { SeededRandom } from "../src/core/util/SeededRandom.js";
import { makeBundle } from "./makeBundle.js";

/** One measurement during a soak. */
export interface SoakSample {
  prompts: number;
  hostRssMb: number;
  engineRssMb: number;
  hostHandles: number;
  engineFds: number;
}

/** What a soak did. */
export interface SoakResult {
  samples: SoakSample[];
  completed: number;
  cancelled: number;
  seconds: number;
}

function engineMemory(pid: number | undefined): { rssMb: number; fds: number } {
  if (!pid) return { rssMb: 0, fds: 0 };
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const fds = (() => {
      try {
        return readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        return 0;
      }
    })();
    return { rssMb: kb / 1024, fds };
  } catch {
    return { rssMb: 0, fds: 0 };
  }
}

/**
 * Routes `prompts` prompts in compare mode (base and persona generated concurrently) through a real engine on a
 * generated model and bundle, cancelling a seeded ~20 % of them mid-stream, and samples host and engine memory
 * and handles every `sampleEvery` prompts.
 */
export async function runSoak(o: {
  prompts: number;
  seed?: number;
  sampleEvery?: number;
  log?: (line: string) => void;
}): Promise<SoakResult> {
  const dir = await mkdtemp(join(tmpdir(), "prism-soak-"));
  const engine = new EngineProcess({ enginePath: resolve("dist/engine.mjs") });
  const rng = new SeededRandom(o.seed ?? 7);
  const started = performance.now();
  try {
    const modelPath = join(dir, "model.gguf");
    await writeSyntheticModel(modelPath, { ...TINY_MODEL, seed: 1, contextLength: 1024 });
    await makeBundle(join(dir, "b.prism"), modelPath);
    const identity = await modelIdentity(modelPath);
    const bundle = await readBundle(join(dir, "b.prism"), { identity, embeddingSize: 64 });
    const session = new ModelSession(engine, { modelPath, gpu: "false", threads: 1 });
    const router = createRouter({
      session,
      bundle,
      featureCacheDir: dir,
      contextSize: 512,
      threads: 1,
      gpu: "false",
      log: new RoutingLog(join(dir, "routing.jsonl"), { maxBytes: 256 * 1024 }),
    });
    const samples: SoakSample[] = [];
    const sample = (prompts: number): void => {
      const e = engineMemory(engine.pid);
      const s = {
        prompts,
        hostRssMb: process.memoryUsage().rss / 2 ** 20,
        engineRssMb: e.rssMb,
        hostHandles: process.getActiveResourcesInfo().length,
        engineFds: e.fds,
      };
      samples.push(s);
      o.log?.(
        `${prompts} prompts: host RSS ${s.hostRssMb.toFixed(1)} MB, engine RSS ${s.engineRssMb.toFixed(1)} MB, host handles ${s.hostHandles}, engine fds ${s.engineFds}`,
      );
    };
    let completed = 0;
    let cancelled = 0;
    await session.model();
    sample(0);
    for (let i = 1; i <= o.prompts; i++) {
      const controller = new AbortController();
      const cancelAfter = rng.float() < 0.2 ? 1 + rng.int(6) : -1;
      let chunks = 0;
      try {
        await router.route(`Soak prompt ${i}: ${"tell me something ".repeat(1 + rng.int(5))}`, {
          mode: "compare",
          maxTokens: 24,
          signal: controller.signal,
          onChunk: () => {
            if (++chunks === cancelAfter) controller.abort();
          },
        });
        completed++;
      } catch (err) {
        if (!isCancellation(err)) throw err;
        cancelled++;
      }
      if (i % (o.sampleEvery ?? 50) === 0) sample(i);
    }
    return { samples, completed, cancelled, seconds: (performance.now() - started) / 1000 };
  } finally {
    await engine.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
