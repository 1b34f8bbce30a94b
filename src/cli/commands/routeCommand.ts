import { parseArgs } from "node:util";
import { join } from "node:path";
import { createRouter } from "../../core/routing/createRouter.js";
import { ROUTE_MODES, type RouteMode } from "../../core/routing/Router.js";
import { RoutingLog } from "../../core/routing/RoutingLog.js";
import { defaultThreadCount } from "../../core/util/defaultThreadCount.js";
import { intFlag, UsageError, type CliContext } from "../CliContext.js";
import { openBundle } from "../openBundle.js";
import { gpuFlag } from "./gpuFlag.js";

export const ROUTE_USAGE =
  'prism route --bundle <dir.prism> [--model <m.gguf>] [--mode hard|soft|base|persona|compare] [--json] [--max-tokens N] [--threads N] [--context N] [--log <file.jsonl>] [--gpu …] "<prompt>"';

/** `prism route`: the gate decides, the chosen side answers (or both, in compare mode). */
export async function routeCommand(args: string[], ctx: CliContext): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      bundle: { type: "string" },
      model: { type: "string" },
      mode: { type: "string" },
      json: { type: "boolean" },
      "max-tokens": { type: "string" },
      threads: { type: "string" },
      context: { type: "string" },
      log: { type: "string" },
      gpu: { type: "string" },
    },
  });
  if (!v.bundle) throw new UsageError("--bundle is required.");
  if (positionals.length !== 1) throw new UsageError("route takes exactly one prompt (quote it).");
  const mode = (v.mode ?? "hard") as RouteMode;
  if (!ROUTE_MODES.includes(mode)) throw new UsageError(`--mode must be one of ${ROUTE_MODES.join(", ")}.`);
  const threads = intFlag("threads", v.threads, 1, 1024) ?? defaultThreadCount();
  const { bundle, session } = await openBundle(ctx.engine(), v.bundle, {
    model: v.model,
    threads,
    gpu: gpuFlag(v.gpu),
    signal: ctx.signal,
  });
  const info = await session.model(ctx.signal);
  const router = createRouter({
    session,
    bundle,
    featureCacheDir: join(bundle.dir, ".cache"),
    contextSize: intFlag("context", v.context, 256, 1_048_576) ?? Math.min(info.contextLength || 4096, 4096),
    threads,
    gpu: gpuFlag(v.gpu),
    log: v.log ? new RoutingLog(v.log) : undefined,
  });
  const single = mode !== "compare" && !v.json;
  const result = await router.route(positionals[0]!, {
    mode,
    signal: ctx.signal,
    maxTokens: intFlag("max-tokens", v["max-tokens"], 1, 1_048_576) ?? 256,
    onDecision: (g) => {
      if (!v.json)
        ctx.stderr.write(
          `gate: p=${g.probability.toFixed(3)} threshold ${g.threshold} → ${g.decision} (${(g.featureMs + g.gateMs).toFixed(1)} ms)\n`,
        );
    },
    onChunk: (_side, text) => {
      if (single) ctx.stdout.write(text);
    },
  });
  if (v.json) {
    const out = {
      gate: result.gate,
      served: result.served,
      outputs: Object.fromEntries(Object.entries(result.outputs).map(([side, o]) => [side, o.text])),
      timings: {
        totalMs: result.totalMs,
        ...Object.fromEntries(
          Object.entries(result.outputs).map(([side, o]) => [side, { ...o.timings, scale: o.scale }]),
        ),
      },
    };
    ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (mode === "compare") {
    for (const side of ["base", "persona"] as const) {
      const mark = side === result.served ? " (served by PRISM)" : "";
      ctx.stdout.write(`=== ${side}${mark}\n${result.outputs[side]?.text ?? ""}\n`);
    }
  } else {
    ctx.stdout.write("\n");
  }
}
