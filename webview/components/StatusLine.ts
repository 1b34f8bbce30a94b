import type { PanelStatus } from "../../src/protocol/webviewProtocol.js";
import { el, formatP } from "./el.js";

/** The panel's status line: engine state, model, bundle and why runs are blocked, if they are. */
export class StatusLine {
  readonly element: HTMLElement;
  private readonly engine: HTMLElement;
  private readonly model: HTMLElement;
  private readonly bundle: HTMLElement;
  private readonly blocked: HTMLElement;

  constructor() {
    this.engine = el("span", { "data-testid": "status-engine", class: "engine" });
    this.model = el("span", { "data-testid": "status-model" });
    this.bundle = el("span", { "data-testid": "status-bundle" });
    this.blocked = el("span", { "data-testid": "status-blocked", class: "blocked", hidden: true });
    this.element = el(
      "header",
      { class: "status", "data-testid": "status", role: "status" },
      el("span", {}, "Engine ", this.engine),
      el("span", {}, "Model ", this.model),
      el("span", {}, "Bundle ", this.bundle),
      this.blocked,
    );
  }

  /** Shows `status`. */
  show(status: PanelStatus): void {
    this.engine.textContent = status.engine;
    this.engine.dataset.state = status.engine;
    this.model.textContent = status.model ?? "none";
    const bundle = status.bundle;
    this.bundle.textContent = bundle
      ? `${bundle.name} (threshold ${formatP(bundle.threshold)}, features ${bundle.featureSpec})`
      : "none (only base mode works)";
    this.blocked.textContent = status.blocked ?? "";
    this.blocked.hidden = status.blocked === undefined;
  }
}
