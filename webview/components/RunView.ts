import type { RoutingRecord } from "../../src/protocol/routingRecord.js";
import type { RunSnapshot } from "../../src/protocol/webviewProtocol.js";
import { sideView } from "../uiState.js";
import { el } from "./el.js";
import { GateCard } from "./GateCard.js";
import { SideColumn } from "./SideColumn.js";

const SIDES = ["base", "persona"] as const;

function runStateText(run: RunSnapshot): string {
  switch (run.state) {
    case "running":
      return `Running in ${run.mode} mode…`;
    case "cancelled":
      return "Stopped.";
    case "error":
      return run.error ? `Run failed: ${run.error.message} (${run.error.code})` : "Run failed.";
    case "done":
      return "";
  }
}

/** What a run (or a re-opened history entry) looks like: its state line, the two columns and the gate card. */
export class RunView {
  /** The run's state line ("Running…", "Stopped.", an error). */
  readonly state: HTMLElement;
  /** The two columns, side by side. */
  readonly columns: HTMLElement;
  readonly gate = new GateCard();
  private readonly sides = { base: new SideColumn("base"), persona: new SideColumn("persona") };

  constructor() {
    this.state = el("p", { class: "run-state", "data-testid": "run-state", role: "status" });
    this.columns = el("div", { class: "sides" }, this.sides.base.element, this.sides.persona.element);
  }

  /** Shows a live run, or the empty state before the first one. */
  showRun(run: RunSnapshot | undefined): void {
    for (const side of SIDES) {
      this.sides[side].setServed(run?.served === side);
      this.sides[side].show(sideView(run, side));
    }
    const noGate = !run
      ? "No gate decision yet."
      : run.state === "running"
        ? "Waiting for the gate…"
        : `No gate decision in ${run.mode} mode.`;
    this.gate.show(run?.gate, noGate);
    this.state.dataset.state = run?.state ?? "none";
    this.state.textContent = run ? runStateText(run) : "";
  }

  /** Shows a history entry: its gate decision, served side and metrics (the history keeps no answers). */
  showRecord(record: RoutingRecord): void {
    for (const side of SIDES) {
      this.sides[side].setServed(record.served === side);
      this.sides[side].showRecord(record.sides[side], record.mode);
    }
    const { probability, threshold, decision, featureMs, gateMs } = record;
    this.gate.show({ probability, threshold, decision, featureMs, gateMs });
    this.state.dataset.state = "history";
    this.state.textContent = "";
  }

  /** Removes listeners. */
  dispose(): void {
    for (const side of SIDES) this.sides[side].dispose();
  }
}
