import type { Side, SideView } from "../uiState.js";
import { el, formatMs } from "./el.js";
import { linkGuard, renderMarkdown } from "./renderMarkdown.js";

/** Per-side speed numbers, from a live snapshot or a history record. */
export interface SideMetrics {
  timeToFirstTokenMs?: number;
  tokensPerSecond?: number;
  generatedTokens?: number;
}

const TITLES: Record<Side, string> = { base: "Base", persona: "Persona (LoRA)" };

/** One column of the comparison: title, served badge, metrics and the side's answer as Markdown. */
export class SideColumn {
  readonly element: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly ttft: HTMLElement;
  private readonly tps: HTMLElement;
  private readonly tokens: HTMLElement;
  private readonly output: HTMLElement;
  private readonly placeholder: HTMLElement;
  /** The text last rendered, so a snapshot that did not change this side costs no Markdown pass. */
  private renderedText: string | undefined;
  private readonly removeGuard: () => void;

  constructor(readonly side: Side) {
    this.badge = el(
      "vscode-badge",
      { "data-testid": "served-badge", class: "served-badge", hidden: true },
      "served by PRISM",
    );
    this.ttft = el("span", { "data-testid": "metric-ttft" });
    this.tps = el("span", { "data-testid": "metric-tps" });
    this.tokens = el("span", { "data-testid": "metric-tokens" });
    this.output = el("div", { "data-testid": "side-output", class: "markdown", "aria-live": "off" });
    this.placeholder = el("p", { "data-testid": "side-placeholder", class: "muted", hidden: true });
    this.element = el(
      "section",
      { "data-testid": `side-${side}`, class: "side", "aria-label": TITLES[side] },
      el("header", { class: "side-header" }, el("h2", {}, TITLES[side]), this.badge),
      el(
        "p",
        { class: "metrics", "data-testid": "side-metrics" },
        "TTFT ",
        this.ttft,
        " · ",
        this.tps,
        " tok/s · ",
        this.tokens,
        " tokens",
      ),
      this.placeholder,
      this.output,
    );
    this.removeGuard = linkGuard(this.output);
    this.setMetrics({});
  }

  /** Marks this column as the one PRISM serves (badge + accent border), or not. */
  setServed(served: boolean): void {
    this.badge.hidden = !served;
    this.element.classList.toggle("served", served);
    this.element.dataset.served = String(served);
  }

  /** Shows a live run's view of this side. */
  show(view: SideView): void {
    if (view.kind === "placeholder") {
      this.showPlaceholder(view.message);
      this.setMetrics({});
      return;
    }
    const { snapshot } = view;
    this.placeholder.hidden = true;
    this.output.hidden = false;
    if (snapshot.text !== this.renderedText) {
      renderMarkdown(this.output, snapshot.text);
      this.renderedText = snapshot.text;
    }
    this.element.classList.toggle("streaming", !snapshot.done);
    this.setMetrics(snapshot);
  }

  /** Shows a history record's numbers; records keep no output text. */
  showRecord(metrics: SideMetrics | undefined, mode: string): void {
    if (!metrics) {
      this.showPlaceholder(`not generated in ${mode} mode`);
      this.setMetrics({});
      return;
    }
    this.showPlaceholder("The history keeps no answers. Run again to see this side's output.");
    this.setMetrics(metrics);
  }

  /** Removes listeners. */
  dispose(): void {
    this.removeGuard();
  }

  private showPlaceholder(message: string): void {
    this.placeholder.textContent = message;
    this.placeholder.hidden = false;
    this.output.hidden = true;
    this.output.replaceChildren();
    this.renderedText = undefined;
    this.element.classList.remove("streaming");
  }

  private setMetrics(metrics: SideMetrics): void {
    this.ttft.textContent = formatMs(metrics.timeToFirstTokenMs);
    this.tps.textContent = metrics.tokensPerSecond === undefined ? "—" : metrics.tokensPerSecond.toFixed(1);
    this.tokens.textContent = metrics.generatedTokens === undefined ? "—" : String(metrics.generatedTokens);
  }
}
