import type * as z from "zod";
import { AppError, toWireError, type WireError } from "../src/protocol/errors.js";
import { Messenger } from "../src/protocol/Messenger.js";
import {
  hostNotifications,
  WEBVIEW_PROTOCOL_VERSION,
  webviewRequests,
  type HostNotifications,
  type PanelBootstrap,
  type RouteModeWire,
  type RunSnapshot,
  type WebviewRequests,
} from "../src/protocol/webviewProtocol.js";
import { parseUiState, type UiState } from "./uiState.js";

/** The object VS Code's `acquireVsCodeApi()` returns inside a webview. */
export interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState<T>(state: T): T;
}

declare global {
  /** Provided by VS Code in every webview; may be called only once per page. */
  function acquireVsCodeApi(): VsCodeApi;
}

/** One validated host → webview notification, discriminated by method. */
export type HostNotification = {
  [M in keyof HostNotifications]: { method: M; params: z.output<HostNotifications[M]> };
}[keyof HostNotifications];

/** The webview end of the protocol: it handles no requests and sends no notifications. */
type WebviewMessenger = Messenger<Record<never, never>, WebviewRequests, HostNotifications, Record<never, never>>;

/** Options of {@link HostApi}. */
export interface HostApiOptions {
  /** The VS Code API object. Defaults to `acquireVsCodeApi()`. */
  vscode?: VsCodeApi;
  /** Where host messages arrive. Defaults to `window`. */
  target?: Window;
  /** Told about every message the messenger dropped. Defaults to `console.warn`. */
  onInvalidMessage?(error: WireError, raw: unknown): void;
}

/**
 * Typed access to the extension host for the compare panel: the protocol's requests as methods, validated
 * notifications, and the UI-only state VS Code keeps for a hidden panel.
 */
export class HostApi {
  private readonly vscode: VsCodeApi;
  private readonly messenger: WebviewMessenger;
  private readonly target: Window;
  private readonly onMessage = (event: MessageEvent): void => this.messenger.receive(event.data);

  constructor(options: HostApiOptions = {}) {
    this.vscode = options.vscode ?? acquireVsCodeApi();
    this.target = options.target ?? window;
    const onInvalid =
      options.onInvalidMessage ?? ((error: WireError) => console.warn(`[prism] ${error.code}: ${error.message}`));
    this.messenger = new Messenger({
      incoming: {},
      outgoing: webviewRequests,
      incomingNotifications: hostNotifications,
      send: (message) => this.vscode.postMessage(message),
      toWire: toWireError,
      fromWire: (error) => AppError.fromWire(error),
      onInvalidMessage: onInvalid,
    });
    this.target.addEventListener("message", this.onMessage);
  }

  /** The handshake: resolves with the bootstrap, rejects with `protocol/versionMismatch` for a stale panel. */
  ready(): Promise<PanelBootstrap> {
    return this.messenger.request("webview/ready", { protocolVersion: WEBVIEW_PROTOCOL_VERSION });
  }

  /**
   * Runs a comparison. `onUpdate` gets the `compare/didUpdate` snapshots the host tags with this request;
   * untagged ones go to {@link onNotification} listeners.
   */
  run(prompt: string, mode: RouteModeWire, onUpdate: (run: RunSnapshot) => void): Promise<RunSnapshot> {
    return this.messenger.request(
      "compare/run",
      { prompt, mode },
      {
        onNotification: (method, params) => {
          // The messenger validated params against this method's schema before calling us.
          if (method === "compare/didUpdate") onUpdate((params as { run: RunSnapshot }).run);
        },
      },
    );
  }

  /** Stops the running comparison; resolves with whether one was running. */
  async stop(): Promise<boolean> {
    return (await this.messenger.request("compare/stop", {})).stopped;
  }

  /** The active editor's selection ("" when none). */
  async getSelection(): Promise<string> {
    return (await this.messenger.request("editor/getSelection", {})).text;
  }

  /** Asks the host to save the routing history; resolves with whether it was saved. */
  exportHistory(format: "jsonl" | "csv"): Promise<{ saved: boolean; path?: string }> {
    return this.messenger.request("history/export", { format });
  }

  /** Listens to notifications not tied to a request. Returns an unsubscribe function. */
  onNotification(listener: (notification: HostNotification) => void): () => void {
    return this.messenger.onNotification((method, params) => listener({ method, params } as HostNotification));
  }

  /** The persisted UI state, validated (an older panel may have stored another shape). */
  loadUiState(): UiState {
    return parseUiState(this.vscode.getState());
  }

  /** Persists UI-only state; VS Code keeps it while the panel is hidden and across restarts. */
  saveUiState(state: UiState): void {
    this.vscode.setState(state);
  }

  /** Stops listening; pending requests are rejected as cancelled so no promise is left hanging. */
  dispose(): void {
    this.target.removeEventListener("message", this.onMessage);
    const closed = new Error("The panel was closed.");
    closed.name = "AbortError"; // a cancellation, which the UI never shows as an error
    this.messenger.rejectAll(closed);
  }
}
