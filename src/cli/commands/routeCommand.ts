import { join } from "node:path";
import { createRouter } from "../../core/routing/createRouter.js";
import { ROUTE_MODES } from "../../core/routing/Router.js";
import { RoutingLog } from "../../core/routing/RoutingLog.js";
import { openBundle } from "../openBundle.js";
import { choiceOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import {
  BUNDLE_MODEL_OPTION,
  BUNDLE_OPTION,
  contextOption,
  ENGINE_OPTIONS,
  jsonOption,
  maxTokensOption,
  MODEL_CONTEXT_DEFAULT,
} from "../options/commonOptions.js";

/** `prism route`: the gate decides, the chosen side answers (or both, in compare mode). */
export const routeCommand = cliCommand(
  {
    name: "route",
    summary: "route one prompt through a bundle's gate to the base model or the persona adapter",
    description:
      "The bundle's gate decides, and the chosen side answers (docs/method.md §4): hard routes to one side, soft " +
      "scales the adapter by the gate's probability, base and persona force a side, compare answers with both. " +
      "The gate's decision goes to stderr, the answer to stdout.",
    positional: { name: '"<prompt>"', description: "the prompt", error: "route takes exactly one prompt (quote it)." },
    options: {
      bundle: BUNDLE_OPTION,
      model: BUNDLE_MODEL_OPTION,
      mode: choiceOption({ description: "the routing mode", choices: ROUTE_MODES, default: "hard" }),
      json: jsonOption("the gate's decision, the answers and their timings"),
      "max-tokens": maxTokensOption({ max: 1_048_576, default: 256 }),
      ...ENGINE_OPTIONS,
      context: contextOption({ min: 256, defaultText: MODEL_CONTEXT_DEFAULT }),
      log: stringOption({ valueName: "<file.jsonl>", description: "append the routing record to this log" }),
    },
  },
  async ({ values: v, positional }, ctx) => {
    const { mode } = v;
    const { bundle, session } = await openBundle(ctx.engine(), v.bundle, {
      model: v.model,
      threads: v.threads,
      gpu: v.gpu,
      signal: ctx.signal,
    });
    const info = await session.model(ctx.signal);
    const router = createRouter({
      session,
      bundle,
      featureCacheDir: join(bundle.dir, ".cache"),
      contextSize: v.context ?? Math.min(info.contextLength || 4096, 4096),
      threads: v.threads,
      gpu: v.gpu,
      log: v.log ? new RoutingLog(v.log) : undefined,
    });
    const single = mode !== "compare" && !v.json;
    const result = await router.route(positional, {
      mode,
      signal: ctx.signal,
      maxTokens: v["max-tokens"],
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
  },
);
