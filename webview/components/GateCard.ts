import type { GateDecisionWire } from "../../src/protocol/webviewProtocol.js";
import { el, formatMs, formatP } from "./el.js";

const percent = (value: number): string => `${(Math.min(1, Math.max(0, value)) * 100).toFixed(1)}%`;

/**
 * The gate's decision: probability as a 0–1 bar with a threshold marker, the numbers, the decision and the
 * gate's cost. Positions are set through the CSSOM (`element.style.width`), which CSP allows; a `style`
 * attribute in markup would need 'unsafe-inline'.
 */
export class GateCard {
  readonly element: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly marker: HTMLElement;
  private readonly probability: HTMLElement;
  private readonly threshold: HTMLElement;
  private readonly decision: HTMLElement;
  private readonly timings: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly details: HTMLElement;

  constructor() {
    this.fill = el("div", { class: "gate-fill" });
    this.marker = el("div", { class: "gate-threshold", "data-testid": "gate-threshold" });
    this.bar = el(
      "div",
      {
        class: "gate-bar",
        "data-testid": "gate-bar",
        role: "meter",
        "aria-label": "Gate probability of the persona",
        "aria-valuemin": 0,
        "aria-valuemax": 1,
      },
      this.fill,
      this.marker,
    );
    this.probability = el("strong", { "data-testid": "gate-probability" });
    this.threshold = el("strong", { "data-testid": "gate-threshold-value" });
    this.decision = el("strong", { "data-testid": "gate-decision", class: "decision" });
    this.timings = el("span", { "data-testid": "gate-timings", class: "muted" });
    this.empty = el("p", { class: "muted", "data-testid": "gate-empty" });
    this.details = el(
      "div",
      { class: "gate-details" },
      this.bar,
      el(
        "p",
        { class: "gate-numbers" },
        "p = ",
        this.probability,
        " · threshold ",
        this.threshold,
        " · decision ",
        this.decision,
      ),
      el("p", {}, this.timings),
    );
    this.element = el(
      "section",
      { class: "card gate-card", "data-testid": "gate-card", "aria-label": "Gate" },
      el("h2", {}, "Gate"),
      this.empty,
      this.details,
    );
    this.show(undefined, "No gate decision yet.");
  }

  /** Shows a decision, or `emptyMessage` when there is none (e.g. a base-only run). */
  show(gate: GateDecisionWire | undefined, emptyMessage = "No gate decision for this run."): void {
    this.empty.hidden = gate !== undefined;
    this.details.hidden = gate === undefined;
    if (!gate) {
      this.empty.textContent = emptyMessage;
      return;
    }
    this.fill.style.width = percent(gate.probability);
    this.marker.style.left = percent(gate.threshold);
    this.marker.title = `threshold ${formatP(gate.threshold)}`;
    this.bar.setAttribute("aria-valuenow", String(gate.probability));
    this.bar.setAttribute("aria-valuetext", `${formatP(gate.probability)} (threshold ${formatP(gate.threshold)})`);
    this.probability.textContent = formatP(gate.probability);
    this.threshold.textContent = formatP(gate.threshold);
    this.decision.textContent = gate.decision;
    this.decision.dataset.decision = gate.decision;
    this.element.dataset.decision = gate.decision;
    this.timings.textContent = `features ${formatMs(gate.featureMs)} · gate ${formatMs(gate.gateMs)}`;
  }
}
