import type { RoutingRecord } from "../../src/protocol/routingRecord.js";
import { el } from "./el.js";

/** What the banner asks of the app. */
export interface ReopenedBannerHandlers {
  onRunAgain(record: RoutingRecord): void;
  onClose(): void;
}

/** Says that a history entry (not the live run) is on screen, and offers to run it again or go back. */
export class ReopenedBanner {
  readonly element: HTMLElement;
  private readonly text: HTMLElement;
  private readonly runAgain: HTMLElement & { disabled: boolean };
  private record: RoutingRecord | undefined;

  constructor(handlers: ReopenedBannerHandlers) {
    this.text = el("span");
    this.runAgain = el("vscode-button", { "data-testid": "run-again" }, "Run again");
    this.runAgain.addEventListener("click", () => {
      if (this.record?.prompt !== undefined && !this.runAgain.disabled) handlers.onRunAgain(this.record);
    });
    const close = el("vscode-button", { "data-testid": "reopen-close", secondary: true }, "Back to the current run");
    close.addEventListener("click", () => handlers.onClose());
    this.element = el(
      "div",
      { class: "reopened", "data-testid": "reopened", role: "status", hidden: true },
      this.text,
      this.runAgain,
      close,
    );
  }

  /** Shows the banner for `record`, or hides it. `blocked` disables Run again. */
  show(record: RoutingRecord | undefined, blocked: boolean): void {
    this.record = record;
    this.element.hidden = record === undefined;
    if (!record) return;
    const when = new Date(record.time);
    const time = Number.isNaN(when.getTime()) ? record.time : when.toLocaleString();
    this.text.textContent =
      `Showing the history entry of ${time} (${record.mode} mode) without re-running it.` +
      (record.prompt === undefined ? " Its prompt was not kept, so it cannot run again." : "");
    this.runAgain.disabled = blocked || record.prompt === undefined;
  }
}
