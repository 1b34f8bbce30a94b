import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createRouter } from "../../core/routing/createRouter.js";
import { writeFileAtomic } from "../../core/util/writeFileAtomic.js";
import { evaluateWorld } from "../../core/world/evaluateWorld.js";
import { readWorld } from "../../core/world/readWorld.js";
import type { WorldEvaluation } from "../../core/world/worldEvaluation.js";
import { openBundle } from "../openBundle.js";
import { flagOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import { BUNDLE_OPTION, jsonOption, maxTokensOption } from "../options/commonOptions.js";

/**
 * `prism eval`: base, persona prompt and PRISM on the world's held-out prompts of both families. Saves the result
 * with every answer as `<bundle>/evaluation.json` (the report view shows it) unless `--no-save`.
 */
export const evalCommand = cliCommand(
  {
    name: "eval",
    summary: "score base, persona prompt and PRISM on a reference world's held-out prompts",
    description:
      "Answers the reference world's held-out prompts of both families with the base model, the persona prompt " +
      "and PRISM (the bundle), and scores them: exact accuracy on discriminative prompts, the rubric on generative " +
      "ones, win rates, and the gate's accuracy. The result, with every answer, is saved as " +
      "<bundle>/evaluation.json, which the report view shows.",
    options: {
      world: stringOption({ valueName: "<dir>", description: "the built reference world", required: true }),
      bundle: BUNDLE_OPTION,
      json: jsonOption("the scores"),
      "max-tokens": maxTokensOption({ max: 4096, defaultText: "96" }),
      "no-save": flagOption("do not write <bundle>/evaluation.json"),
    },
  },
  async ({ values: v }, ctx) => {
    const world = await readWorld(v.world);
    // The world's model is tiny: one thread is fastest (more only add hand-offs), and CPU is exact.
    const threads = 1;
    const { bundle, session } = await openBundle(ctx.engine(), v.bundle, {
      model: world.modelPath,
      threads,
      gpu: "false",
      signal: ctx.signal,
    });
    const router = createRouter({
      session,
      bundle,
      featureCacheDir: join(bundle.dir, ".cache"),
      contextSize: world.manifest.recipe.shape.contextLength,
      threads,
      gpu: "false",
    });
    const tty = (ctx.stderr as NodeJS.WriteStream).isTTY === true;
    const result = await evaluateWorld({
      world,
      router,
      bundleDir: bundle.dir,
      gateValidationAccuracy: await validationAccuracy(bundle.dir),
      maxTokens: v["max-tokens"],
      signal: ctx.signal,
      onProgress: (done, total) => {
        if (tty) ctx.stderr.write(`\r\x1b[Keval: ${done}/${total} held-out prompts`);
        else if (done === total || done % 20 === 0) ctx.stderr.write(`eval: ${done}/${total} held-out prompts\n`);
      },
    });
    if (tty) ctx.stderr.write("\n");
    if (!v["no-save"]) await writeFileAtomic(join(bundle.dir, "evaluation.json"), JSON.stringify(result, null, 2));
    const { rows: _rows, ...summary } = result;
    ctx.stdout.write(v.json ? `${JSON.stringify(summary, null, 2)}\n` : formatEvaluation(result));
  },
);

async function validationAccuracy(bundleDir: string): Promise<number | null> {
  try {
    const report = JSON.parse(await readFile(join(bundleDir, "report.json"), "utf8")) as {
      gate?: { metrics?: { validation?: { accuracy?: unknown } } };
    };
    const a = report.gate?.metrics?.validation?.accuracy;
    return typeof a === "number" ? a : null;
  } catch {
    return null;
  }
}

/** The evaluation as a plain-text table. */
export function formatEvaluation(e: WorldEvaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const row = (name: string, s: WorldEvaluation["base"], win: string) =>
    `${name.padEnd(14)}${pct(s.discriminativeAccuracy).padStart(16)}${s.generativeScore.toFixed(3).padStart(16)}${win.padStart(14)}\n`;
  const yes = (b: boolean) => (b ? "met" : "NOT met");
  return (
    `${e.world.reduced ? "reduced" : "full"} world (seed ${e.world.seed}), held out ${e.world.heldOut.discriminative} discriminative + ${e.world.heldOut.generative} generative prompts\n\n` +
    `${"".padEnd(14)}${"disc. accuracy".padStart(16)}${"gen. rubric".padStart(16)}${"win vs base".padStart(14)}\n` +
    row("base", e.base, "—") +
    row("persona prompt", e.persona, pct(e.personaVsBaseWinRate)) +
    row("PRISM", e.prism, pct(e.prismVsBaseWinRate)) +
    `\nrouted to the adapter: discriminative ${pct(e.routing.discriminative)}, generative ${pct(e.routing.generative)}\n` +
    `gate accuracy (held-out, by family): ${pct(e.gateAccuracy)}` +
    (e.gateValidationAccuracy !== null ? `; stage-4 validation: ${pct(e.gateValidationAccuracy)}\n` : "\n") +
    `goals: accuracy ≥ ${pct(e.goals.discriminative.target)} ${yes(e.goals.discriminative.met)}; ` +
    `rubric ≥ ${e.goals.generative.target.toFixed(3)} ${yes(e.goals.generative.met)}; gate ≥ ${pct(e.goals.gate.target)} ${yes(e.goals.gate.met)}\n`
  );
}
