import type { WorldEvaluation } from "../../core/world/worldEvaluation.js";
import { esc, pct } from "./reportFormat.js";

/**
 * The reference-world evaluation (`prism eval`) as a report section: the base / persona prompt / PRISM table,
 * routing per family, gate accuracy, the issue's goals, and a few held-out answers. Model text is escaped: it is
 * shown inert, never as markup.
 */
export function renderEvaluationHtml(e: WorldEvaluation): string {
  const row = (name: string, s: WorldEvaluation["base"], win?: number) =>
    `<tr><th>${name}</th><td>${pct(s.discriminativeAccuracy)}</td><td>${s.generativeScore.toFixed(3)}</td><td>${win === undefined ? "—" : pct(win)}</td></tr>`;
  const goal = (label: string, g: { met: boolean }) =>
    `<li class="${g.met ? "met" : "missed"}">${g.met ? "✓" : "✗"} ${label}</li>`;
  const tasks = Object.entries(e.perTask)
    .map(
      ([task, t]) =>
        `<tr><td>${esc(task)}</td><td>${t.n}</td><td>${t.base.toFixed(2)}</td><td>${t.persona.toFixed(2)}</td><td>${t.prism.toFixed(2)}</td></tr>`,
    )
    .join("");
  const examples = (e.rows ?? [])
    .filter((_, i, rows) => rows.length <= 8 || i % Math.ceil(rows.length / 8) === 0)
    .map(
      (r) =>
        `<tr><td>${esc(r.prompt)}</td><td>${esc(r.base)}</td><td>${esc(r.persona)}</td><td>${esc(r.prism)}</td><td>${r.routed === "persona" ? "adapter" : "base"} (p = ${r.probability.toFixed(2)})</td></tr>`,
    )
    .join("");
  return `<section data-testid="report-evaluation"><h2>Reference world evaluation</h2>
<p>${e.world.reduced ? "Reduced" : "Full"} world, seed ${e.world.seed}: held-out ${e.world.heldOut.discriminative} discriminative and ${e.world.heldOut.generative} generative prompts (never seen in training or distillation). Greedy decoding. Win rate: the world's judge prefers the answer to the base model's (a tie counts half).</p>
<table data-testid="report-eval-table"><thead><tr><th></th><th>Discriminative accuracy</th><th>Generative rubric</th><th>Win rate vs base</th></tr></thead><tbody>
${row("Base", e.base)}${row("Persona prompt", e.persona, e.personaVsBaseWinRate)}${row("PRISM", e.prism, e.prismVsBaseWinRate)}
</tbody></table>
<p data-testid="report-eval-routing">Routed to the adapter: discriminative ${pct(e.routing.discriminative)}, generative ${pct(e.routing.generative)} · gate accuracy on held-out prompts ${pct(e.gateAccuracy)}${e.gateValidationAccuracy !== null ? ` (stage-4 validation ${pct(e.gateValidationAccuracy)})` : ""}</p>
<ul class="goals">${goal(`PRISM accuracy ≥ base − 1 point (${pct(e.goals.discriminative.target)})`, e.goals.discriminative)}${goal(`PRISM rubric ≥ 90 % of the persona prompt's (${e.goals.generative.target.toFixed(3)})`, e.goals.generative)}${goal("gate accuracy ≥ 90 %", e.goals.gate)}</ul>
<h3>Per task (mean score)</h3>
<table><thead><tr><th>Task</th><th>n</th><th>Base</th><th>Persona prompt</th><th>PRISM</th></tr></thead><tbody>${tasks}</tbody></table>
${examples ? `<h3>Examples</h3><table class="examples"><thead><tr><th>Prompt</th><th>Base</th><th>Persona prompt</th><th>PRISM</th><th>Gate</th></tr></thead><tbody>${examples}</tbody></table>` : ""}
</section>`;
}
