import type { VscodeSingleSelect } from "@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js";
import type { VscodeTextfield } from "@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js";
import type { RoutingRecord } from "../../src/protocol/routingRecord.js";
import { decisionFilterSchema, type DecisionFilter } from "../uiState.js";
import { el, formatP } from "./el.js";

/** What the history list asks of the app. */
export interface HistoryListHandlers {
  onSelect(record: RoutingRecord): void;
  onFilterChange(decision: DecisionFilter, text: string): void;
  onExport(format: "jsonl" | "csv"): void;
}

/** The longest prompt excerpt an entry shows; the full prompt is in its tooltip. */
const EXCERPT_CHARS = 160;

function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** The routing history: filters, export buttons and the entries, newest first. */
export class HistoryList {
  readonly element: HTMLElement;
  private readonly text: VscodeTextfield;
  private readonly decision: VscodeSingleSelect;
  private readonly list: HTMLOListElement;
  private readonly count: HTMLElement;
  private selected: RoutingRecord | undefined;
  /** The records shown, in display order; entries carry their index here. */
  private shown: RoutingRecord[] = [];

  constructor(private readonly handlers: HistoryListHandlers) {
    this.text = el("vscode-textfield", {
      "data-testid": "history-filter-text",
      placeholder: "Filter by prompt",
      "aria-label": "Filter history by prompt text",
    });
    this.text.addEventListener("input", () => this.filterChanged());
    this.decision = el("vscode-single-select", {
      "data-testid": "history-filter-decision",
      "aria-label": "Filter history by decision",
    });
    for (const value of decisionFilterSchema.options) this.decision.append(el("vscode-option", { value }, value));
    this.decision.addEventListener("change", () => this.filterChanged());

    const exportButton = (format: "jsonl" | "csv", label: string): HTMLElement => {
      const button = el("vscode-button", { "data-testid": `export-${format}`, secondary: true }, label);
      button.addEventListener("click", () => handlers.onExport(format));
      return button;
    };
    this.count = el("span", { class: "muted", "data-testid": "history-count" });
    this.list = el("ol", { class: "history-list", "data-testid": "history-list", "aria-label": "Routing history" });
    // One delegated listener instead of one per entry: the history holds up to 1000 records.
    this.list.addEventListener("click", (event) => {
      const item = event.target instanceof Element ? event.target.closest<HTMLElement>("[data-index]") : null;
      const record = item ? this.shown[Number(item.dataset.index)] : undefined;
      if (record) handlers.onSelect(record);
    });
    this.element = el(
      "section",
      { class: "card history", "aria-label": "History" },
      el(
        "header",
        { class: "history-header" },
        el("h2", {}, "History"),
        this.count,
        el("span", { class: "spacer" }),
        exportButton("jsonl", "Export JSONL"),
        exportButton("csv", "Export CSV"),
      ),
      el("div", { class: "history-filters" }, this.text, el("label", {}, "Decision ", this.decision)),
      this.list,
    );
  }

  /** Sets the filter controls (restored UI state) without reporting a change. */
  setFilter(decision: DecisionFilter, text: string): void {
    this.text.value = text;
    for (const option of this.decision.querySelectorAll("vscode-option")) option.selected = option.value === decision;
    this.decision.value = decision;
  }

  /** The filter the controls show. */
  getFilter(): { decision: DecisionFilter; text: string } {
    const parsed = decisionFilterSchema.safeParse(this.decision.value);
    return { decision: parsed.success ? parsed.data : "all", text: this.text.value };
  }

  /** Shows `records` (already filtered, newest first) out of `total`, highlighting `selected`. */
  show(records: RoutingRecord[], total: number, selected: RoutingRecord | undefined): void {
    this.shown = records;
    this.selected = selected;
    this.count.textContent = records.length === total ? `${total}` : `${records.length} of ${total}`;
    if (records.length === 0) {
      this.list.replaceChildren(
        el("li", { class: "muted empty" }, total === 0 ? "No routed prompts yet." : "No entry matches the filter."),
      );
      return;
    }
    this.list.replaceChildren(...records.map((record, index) => this.item(record, index)));
  }

  private item(record: RoutingRecord, index: number): HTMLElement {
    const prompt = record.prompt;
    const excerpt =
      prompt === undefined
        ? "(prompt not kept)"
        : prompt.length > EXCERPT_CHARS
          ? `${prompt.slice(0, EXCERPT_CHARS)}…`
          : prompt;
    const button = el(
      "button",
      { type: "button", class: "history-entry", title: prompt ?? `sha256 ${record.promptHash}` },
      el("span", { class: "time" }, formatTime(record.time)),
      el("span", { class: "decision", "data-decision": record.decision }, record.decision),
      el("span", { class: "p" }, `p ${formatP(record.probability)}`),
      el("span", { class: prompt === undefined ? "prompt muted" : "prompt" }, excerpt),
    );
    // Compared by identity fields: every history/didChange brings new objects.
    const selected =
      this.selected !== undefined &&
      record.time === this.selected.time &&
      record.promptHash === this.selected.promptHash;
    if (selected) button.setAttribute("aria-current", "true");
    return el(
      "li",
      { "data-testid": "history-item", "data-index": index, class: selected ? "selected" : undefined },
      button,
    );
  }

  private filterChanged(): void {
    const { decision, text } = this.getFilter();
    this.handlers.onFilterChange(decision, text);
  }
}
