import { writeFile } from "node:fs/promises";
import * as vscode from "vscode";
import { AppError, isCancellation, toWireError } from "../../core/errors.js";
import type { RouteMode, Side } from "../../core/routing/Router.js";
import type { RoutingRecord } from "../../protocol/routingRecord.js";
import { Messenger } from "../../protocol/Messenger.js";
import {
  webviewRequests,
  WEBVIEW_PROTOCOL_VERSION,
  type HostNotifications,
  type RouteModeWire,
  type RunSnapshot,
  type WebviewRequests,
} from "../../protocol/webviewProtocol.js";
import type { PrismService } from "../PrismService.js";
import { historyToCsv } from "./historyToCsv.js";
import { renderHtml } from "./renderHtml.js";

type PanelMessenger = Messenger<WebviewRequests, Record<string, never>, Record<string, never>, HostNotifications>;

/**
 * The compare panel (one per window): base and persona answers side by side, the gate card, and the routing
 * history. The host owns all results; the webview renders snapshots and is rebuilt from a bootstrap snapshot
 * whenever it becomes visible again (no retainContextWhenHidden) or the window reloads (serializer).
 */
export class ComparePanel implements vscode.Disposable {
  static readonly viewType = "prism.compare";
  private static current: ComparePanel | undefined;

  private readonly messenger: PanelMessenger;
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private pendingPrompt?: { prompt: string; mode?: RouteModeWire; run: boolean };
  private run?: { snapshot: RunSnapshot; controller: AbortController };
  private lastRun?: RunSnapshot;
  private nextRunId = 1;
  private lastUpdate = 0;

  /** Shows the panel (creating it if needed). */
  static createOrShow(context: vscode.ExtensionContext, service: PrismService): ComparePanel {
    if (ComparePanel.current) {
      ComparePanel.current.panel.reveal(vscode.ViewColumn.Beside);
      return ComparePanel.current;
    }
    const panel = vscode.window.createWebviewPanel(ComparePanel.viewType, "PRISM Compare", vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: ComparePanel.resourceRoots(context),
    });
    return new ComparePanel(panel, context, service);
  }

  /** Restores a panel after a window reload (WebviewPanelSerializer). */
  static revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, service: PrismService): ComparePanel {
    panel.webview.options = { enableScripts: true, localResourceRoots: ComparePanel.resourceRoots(context) };
    return new ComparePanel(panel, context, service);
  }

  /** The open panel, if any (tests and commands). */
  static get instance(): ComparePanel | undefined {
    return ComparePanel.current;
  }

  private static resourceRoots(context: vscode.ExtensionContext): vscode.Uri[] {
    return [
      vscode.Uri.joinPath(context.extensionUri, "dist", "webview"),
      vscode.Uri.joinPath(context.extensionUri, "media"),
    ];
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly service: PrismService,
  ) {
    ComparePanel.current = this;
    const webview = panel.webview;
    this.messenger = new Messenger({
      incoming: webviewRequests,
      outgoing: {},
      incomingNotifications: {},
      send: (m) => void webview.postMessage(m),
      toWire: toWireError,
      fromWire: (w) => AppError.fromWire(w),
      // Anything the webview sends that fails validation is dropped and logged, never acted on.
      onInvalidMessage: (e) => service.log.warn(`compare panel: ${e.message}`),
    });
    this.messenger.setHandlers({
      "webview/ready": async (p) => {
        if (p.protocolVersion !== WEBVIEW_PROTOCOL_VERSION) {
          throw new AppError(
            "protocol/versionMismatch",
            `The panel speaks protocol ${p.protocolVersion}; reload the window.`,
          );
        }
        // Build the whole reply before marking the panel ready: anything posted before the webview has its
        // bootstrap is dropped by it (a prompt from "Compare on Selection" included).
        const bootstrap = {
          protocolVersion: WEBVIEW_PROTOCOL_VERSION,
          status: service.status(),
          run: this.run?.snapshot ?? this.lastRun,
          history: await this.history(),
        };
        this.ready = true;
        setImmediate(() => this.flushPendingPrompt());
        // Opening the panel is the user's intent to use the model: validate the bundle now (in the background)
        // so the status shows it before the first run; the status event updates the panel when done.
        void service.activeBundle().catch(() => undefined);
        return bootstrap;
      },
      "compare/run": (p) => this.startRun(p.prompt, p.mode),
      "compare/stop": async () => {
        const running = this.run;
        running?.controller.abort();
        return { stopped: running !== undefined };
      },
      "editor/getSelection": async () => {
        const editor = vscode.window.activeTextEditor;
        return { text: editor ? editor.document.getText(editor.selection) : "" };
      },
      "history/export": (p) => this.exportHistory(p.format),
    });
    webview.html = renderHtml({
      cspSource: webview.cspSource,
      scriptUri: String(webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, "dist", "webview", "main.js"))),
      styleUri: String(webview.asWebviewUri(vscode.Uri.joinPath(context.extensionUri, "media", "compare.css"))),
      title: "PRISM Compare",
    });
    this.disposables.push(
      webview.onDidReceiveMessage((m: unknown) => this.messenger.receive(m)),
      // Hidden panels lose their DOM; the next `webview/ready` re-bootstraps it.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
      panel.onDidDispose(() => this.dispose()),
      service.onDidChangeStatus((status) => this.notify("panel/didChangeStatus", { status })),
    );
  }

  /** Fills the prompt box (and runs it): "Compare on Selection". */
  requestPrompt(prompt: string, mode: RouteModeWire | undefined, run: boolean): void {
    this.pendingPrompt = { prompt, mode, run };
    if (this.ready) this.flushPendingPrompt();
    this.panel.reveal(vscode.ViewColumn.Beside, true);
  }

  /** Runs a prompt directly from the host (commands and tests); resolves with the final snapshot. */
  startRun(prompt: string, mode: RouteMode): Promise<RunSnapshot> {
    this.run?.controller.abort();
    const controller = new AbortController();
    const snapshot: RunSnapshot = { runId: this.nextRunId++, prompt, mode, state: "running", sides: {} };
    const run = { snapshot, controller };
    this.run = run;
    const update = (force = false): void => {
      const now = Date.now();
      if (!force && now - this.lastUpdate < 50) return;
      this.lastUpdate = now;
      this.notify("compare/didUpdate", { run: snapshot });
    };
    const sideOf = (side: Side) =>
      (snapshot.sides[side] ??= { text: "", done: false, scale: side === "persona" ? 1 : 0 });
    update(true);
    const config = this.service.config();
    return this.service
      .route(prompt, {
        mode,
        signal: controller.signal,
        maxTokens: config.maxTokens,
        temperature: config.temperature,
        onDecision: (gate) => {
          snapshot.gate = gate;
          snapshot.served = mode === "base" || mode === "persona" ? mode : gate.decision;
          if (mode === "compare") {
            sideOf("base");
            sideOf("persona");
          } else sideOf(snapshot.served);
          update(true);
        },
        onChunk: (side, text) => {
          sideOf(side).text += text;
          update();
        },
      })
      .then(
        (result) => {
          snapshot.state = "done";
          snapshot.served = result.served;
          for (const [side, out] of Object.entries(result.outputs) as Array<
            [Side, NonNullable<(typeof result.outputs)["base"]>]
          >) {
            snapshot.sides[side] = {
              text: out.text,
              done: true,
              scale: out.scale,
              timeToFirstTokenMs: out.timings.timeToFirstTokenMs,
              tokensPerSecond: out.timings.tokensPerSecond,
              generatedTokens: out.timings.generatedTokens,
            };
          }
          return snapshot;
        },
        (err: unknown) => {
          snapshot.state = isCancellation(err) || controller.signal.aborted ? "cancelled" : "error";
          if (snapshot.state === "error") {
            const wire = toWireError(err);
            snapshot.error = { code: wire.code, message: wire.message };
            this.service.log.error(`compare run failed: [${wire.code}] ${wire.message}`);
          }
          return snapshot;
        },
      )
      .finally(() => {
        if (this.run === run) this.run = undefined;
        this.lastRun = snapshot;
        update(true);
        void this.history().then((history) => this.notify("history/didChange", { history }));
      });
  }

  private flushPendingPrompt(): void {
    const p = this.pendingPrompt;
    if (!p || !this.ready) return;
    this.pendingPrompt = undefined;
    this.notify("compare/didRequestPrompt", { prompt: p.prompt, mode: p.mode, run: p.run });
  }

  private notify<M extends keyof HostNotifications & string>(
    method: M,
    params: Parameters<PanelMessenger["notify"]>[1],
  ): void {
    // The handshake rule: nothing is posted before the webview said it is ready.
    if (this.ready) this.messenger.notify(method, params as never);
  }

  private async history(): Promise<RoutingRecord[]> {
    return this.service.routingLog.recent(500).catch(() => []);
  }

  private async exportHistory(format: "jsonl" | "csv"): Promise<{ saved: boolean; path?: string }> {
    const target = await vscode.window.showSaveDialog({
      filters: format === "csv" ? { CSV: ["csv"] } : { "JSON Lines": ["jsonl"] },
      defaultUri: vscode.Uri.joinPath(this.context.globalStorageUri, `prism-routing.${format}`),
    });
    if (!target) return { saved: false };
    const history = await this.history();
    const text = format === "csv" ? historyToCsv(history) : history.map((r) => JSON.stringify(r)).join("\n") + "\n";
    await writeFile(target.fsPath, text);
    return { saved: true, path: target.fsPath };
  }

  dispose(): void {
    if (ComparePanel.current === this) ComparePanel.current = undefined;
    this.run?.controller.abort();
    this.messenger.rejectAll(new AppError("engine/cancelled", "The panel was closed."));
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
