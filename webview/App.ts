import { isCancellation } from "../src/protocol/errors.js";
import type { RoutingRecord } from "../src/protocol/routingRecord.js";
import {
  WEBVIEW_PROTOCOL_VERSION,
  type PanelBootstrap,
  type PanelStatus,
  type RouteModeWire,
  type RunSnapshot,
} from "../src/protocol/webviewProtocol.js";
import { el } from "./components/el.js";
import { GateChart } from "./components/GateChart.js";
import { HistoryList } from "./components/HistoryList.js";
import { PromptArea } from "./components/PromptArea.js";
import { ReopenedBanner } from "./components/ReopenedBanner.js";
import { RunView } from "./components/RunView.js";
import { StatusLine } from "./components/StatusLine.js";
import type { HostApi, HostNotification } from "./hostApi.js";
import { filterHistory, type UiState } from "./uiState.js";

/** The components, which exist only once the bootstrap has arrived. */
interface View {
  status: StatusLine;
  notice: HTMLElement;
  prompt: PromptArea;
  banner: ReopenedBanner;
  run: RunView;
  chart: GateChart;
  history: HistoryList;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Starts a task from a UI event. The tasks report their own failures in the page; this logs what slips by. */
const detach = (task: Promise<void>): void => {
  task.catch((err: unknown) => console.error("[prism]", err));
};

/**
 * The compare panel. It shows "Connecting…" until the host answers `webview/ready`, then renders everything
 * from that bootstrap and from the host's snapshots; the only state of its own is UI state (draft, mode,
 * filters, scroll), persisted through the host API.
 */
export class App {
  private ui: UiState;
  private view: View | undefined;
  private status: PanelStatus = { engine: "idle" };
  private run: RunSnapshot | undefined;
  private history: RoutingRecord[] = [];
  /** A history entry shown instead of the live run (no re-run). */
  private reopened: RoutingRecord | undefined;
  /** `compare/run` requests sent and not yet answered; Stop is enabled while there are any. */
  private inFlight = 0;
  private disposed = false;
  private readonly disposers: (() => void)[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly api: HostApi,
  ) {
    this.ui = api.loadUiState();
  }

  /** Sends the handshake and renders the panel from the bootstrap. */
  async start(): Promise<void> {
    this.root.replaceChildren(
      el("p", { class: "connecting", "data-testid": "connecting", role: "status" }, "Connecting…"),
    );
    this.disposers.push(this.api.onNotification((n) => this.onNotification(n)));
    let bootstrap: PanelBootstrap;
    try {
      bootstrap = await this.api.ready();
    } catch (err) {
      if (!this.disposed) this.showFatal(err);
      return;
    }
    if (this.disposed) return;
    if (bootstrap.protocolVersion !== WEBVIEW_PROTOCOL_VERSION) {
      this.showFatal({ code: "protocol/versionMismatch" });
      return;
    }
    this.mount(bootstrap);
  }

  /** Removes listeners and timers; the page is going away (or a test is done with it). */
  dispose(): void {
    this.disposed = true;
    for (const dispose of this.disposers.splice(0)) dispose();
    this.view?.chart.dispose();
    this.view?.run.dispose();
    this.api.dispose();
  }

  private showFatal(err: unknown): void {
    const mismatch = (err as { code?: unknown } | null)?.code === "protocol/versionMismatch";
    const text = mismatch
      ? "This panel is out of date with the PRISM extension. Reload it: close and reopen the panel, or run “Developer: Reload Window”."
      : `Could not connect to the PRISM extension: ${messageOf(err)}`;
    this.root.replaceChildren(
      el(
        "p",
        { class: "connecting error", "data-testid": mismatch ? "reload-hint" : "connect-error", role: "alert" },
        text,
      ),
    );
  }

  private mount(bootstrap: PanelBootstrap): void {
    const view: View = {
      status: new StatusLine(),
      notice: el("p", { class: "notice", "data-testid": "notice", role: "status", hidden: true }),
      prompt: new PromptArea({
        onRun: (prompt, mode) => detach(this.startRun(prompt, mode)),
        onStop: () => detach(this.stop()),
        onUseSelection: () => detach(this.useSelection()),
        onDraftChange: (draft) => this.saveUi({ draft }),
        onModeChange: (mode) => this.saveUi({ mode }),
      }),
      banner: new ReopenedBanner({
        onRunAgain: (record) => detach(this.startRun(record.prompt!, record.mode)),
        onClose: () => this.reopen(undefined),
      }),
      run: new RunView(),
      chart: new GateChart(),
      history: new HistoryList({
        onSelect: (record) => this.reopen(record),
        onFilterChange: (historyDecision, historyText) => {
          this.saveUi({ historyDecision, historyText });
          this.renderHistory();
        },
        onExport: (format) => detach(this.exportHistory(format)),
      }),
    };
    this.view = view;
    this.root.replaceChildren(
      el(
        "div",
        { class: "app" },
        view.status.element,
        view.notice,
        view.prompt.element,
        view.banner.element,
        view.run.state,
        view.run.columns,
        el("div", { class: "insights" }, view.run.gate.element, view.chart.element),
        view.history.element,
      ),
    );
    view.prompt.setMode(this.ui.mode);
    view.prompt.setPrompt(this.ui.draft ?? bootstrap.run?.prompt ?? "");
    view.history.setFilter(this.ui.historyDecision, this.ui.historyText);
    this.status = bootstrap.status;
    this.run = bootstrap.run;
    this.history = bootstrap.history;
    this.renderStatus();
    this.renderRun();
    this.renderHistory();
    this.trackScroll();
  }

  private onNotification(notification: HostNotification): void {
    if (!this.view) return; // the host posts nothing before the bootstrap; a stray message changes nothing
    switch (notification.method) {
      case "compare/didUpdate":
        this.applyRun(notification.params.run);
        return;
      case "panel/didChangeStatus":
        this.status = notification.params.status;
        this.renderStatus();
        return;
      case "history/didChange":
        this.history = notification.params.history;
        this.renderHistory();
        return;
      case "compare/didRequestPrompt": {
        const { prompt, mode, run } = notification.params;
        this.view.prompt.setPrompt(prompt);
        if (mode) this.view.prompt.setMode(mode);
        this.saveUi({ draft: prompt, ...(mode ? { mode } : {}) });
        if (run) detach(this.startRun(prompt, mode ?? this.view.prompt.getMode()));
        return;
      }
    }
  }

  /** Takes a run snapshot unless it is older than the one shown (a stale result of a superseded run). */
  private applyRun(run: RunSnapshot): void {
    if (this.run && run.runId < this.run.runId) return;
    if (this.run?.runId !== run.runId) this.reopened = undefined;
    this.run = run;
    this.renderRun();
  }

  private async startRun(prompt: string, mode: RouteModeWire): Promise<void> {
    const view = this.view!;
    if (this.status.blocked !== undefined) {
      view.prompt.showNotice(`Cannot run: ${this.status.blocked}`);
      return;
    }
    this.reopen(undefined);
    this.showNotice(undefined);
    this.inFlight++;
    this.renderRunning();
    try {
      this.applyRun(await this.api.run(prompt, mode, (run) => this.applyRun(run)));
    } catch (err) {
      if (!isCancellation(err) && !this.disposed) this.showNotice(`Run failed: ${messageOf(err)}`, true);
    } finally {
      this.inFlight--;
      if (!this.disposed) this.renderRunning();
    }
  }

  private async stop(): Promise<void> {
    try {
      await this.api.stop();
    } catch (err) {
      if (!isCancellation(err)) this.showNotice(`Stop failed: ${messageOf(err)}`, true);
    }
  }

  private async useSelection(): Promise<void> {
    try {
      const text = await this.api.getSelection();
      if (!text) {
        this.view?.prompt.showNotice("The active editor has no selection.");
        return;
      }
      this.view?.prompt.setPrompt(text);
      this.view?.prompt.showNotice(undefined);
      this.saveUi({ draft: text });
    } catch (err) {
      if (!isCancellation(err)) this.showNotice(`Could not read the selection: ${messageOf(err)}`, true);
    }
  }

  private async exportHistory(format: "jsonl" | "csv"): Promise<void> {
    try {
      const result = await this.api.exportHistory(format);
      if (result.saved) this.showNotice(`History saved${result.path ? ` to ${result.path}` : ""}.`);
    } catch (err) {
      if (!isCancellation(err)) this.showNotice(`Export failed: ${messageOf(err)}`, true);
    }
  }

  /** Shows a history entry in place of the live run (`undefined`: back to the live run). */
  private reopen(record: RoutingRecord | undefined): void {
    this.reopened = record;
    if (record?.prompt !== undefined) {
      this.view!.prompt.setPrompt(record.prompt);
      this.view!.prompt.setMode(record.mode);
      this.saveUi({ draft: record.prompt, mode: record.mode });
    }
    this.renderRun();
    this.renderHistory();
  }

  private renderStatus(): void {
    const view = this.view!;
    view.status.show(this.status);
    view.prompt.setBlocked(this.status.blocked);
    view.banner.show(this.reopened, this.status.blocked !== undefined);
    this.renderHistory(); // the chart's threshold follows the bundle
  }

  private renderRunning(): void {
    this.view!.prompt.setRunning(this.inFlight > 0 || this.run?.state === "running");
  }

  private renderRun(): void {
    const view = this.view!;
    view.banner.show(this.reopened, this.status.blocked !== undefined);
    this.renderRunning();
    if (this.reopened) view.run.showRecord(this.reopened);
    else view.run.showRun(this.run);
  }

  private renderHistory(): void {
    const view = this.view!;
    const shown = filterHistory(this.history, this.ui.historyDecision, this.ui.historyText);
    view.history.show(shown, this.history.length, this.reopened);
    const threshold = this.status.bundle?.threshold ?? this.history.at(-1)?.threshold;
    view.chart.update(
      shown.map((r) => r.probability),
      threshold,
    );
  }

  private showNotice(message: string | undefined, error = false): void {
    const notice = this.view!.notice;
    notice.textContent = message ?? "";
    notice.hidden = message === undefined;
    notice.classList.toggle("error", error);
  }

  private saveUi(patch: Partial<UiState>): void {
    this.ui = { ...this.ui, ...patch };
    this.api.saveUiState(this.ui);
  }

  /** Persists the scroll position (debounced) and restores the saved one. */
  private trackScroll(): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onScroll = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => this.saveUi({ scrollY: window.scrollY }), 200);
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    this.disposers.push(() => {
      clearTimeout(timer);
      window.removeEventListener("scroll", onScroll);
    });
    const y = this.ui.scrollY;
    if (y > 0) requestAnimationFrame(() => window.scrollTo(0, y));
  }
}
