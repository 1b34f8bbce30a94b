import { vi } from "vitest";
import type * as z from "zod";
import { AppError, toWireError, type ErrorCode } from "../../src/protocol/errors.js";
import { Messenger, type HandlerContext } from "../../src/protocol/Messenger.js";
import {
  webviewRequests,
  type HostNotifications,
  type PanelBootstrap,
  type RunSnapshot,
  type WebviewRequests,
} from "../../src/protocol/webviewProtocol.js";
import type { VsCodeApi } from "../../webview/hostApi.js";
import { installDomShims } from "./domShims.js";
import { bootstrap } from "./fixtures.js";

/** A `compare/run` the fake host received and has not answered: the test drives it. */
export interface RunCall {
  params: z.output<WebviewRequests["compare/run"]["params"]>;
  /** Sends `compare/didUpdate` tagged with this request (how a real host streams). */
  update(run: RunSnapshot): void;
  finish(run: RunSnapshot): void;
  fail(code: ErrorCode, message: string): void;
  signal: AbortSignal;
}

type HostMessenger = Messenger<WebviewRequests, Record<never, never>, Record<never, never>, HostNotifications>;

/**
 * The extension-host side of the compare-panel protocol, for webview tests: a real {@link Messenger} whose
 * `send` dispatches `message` events on `window` and whose `receive` is fed by the stubbed
 * `acquireVsCodeApi().postMessage`. Both directions are structured-cloned and delivered asynchronously, as in
 * VS Code.
 */
export class FakeHost {
  /** Every request the webview sent, in order. */
  readonly requests: { method: string; params: unknown }[] = [];
  /** Unanswered `compare/run` requests, oldest first. */
  readonly runs: RunCall[] = [];
  /** What `webview/ready` answers. */
  bootstrap: PanelBootstrap = bootstrap();
  /** When set, `webview/ready` fails with this code (e.g. `protocol/versionMismatch`). */
  readyError: ErrorCode | undefined;
  /** What `editor/getSelection` answers. */
  selection = "";
  /** The state the webview persisted with `setState` (start a test with a value to simulate a re-shown panel). */
  uiState: unknown;
  /** How often the webview called `acquireVsCodeApi`. */
  acquired = 0;
  private readonly messenger: HostMessenger;
  private bootstrapGate: Promise<void> | undefined;
  private app: { dispose(): void } | undefined;

  constructor() {
    this.messenger = new Messenger({
      incoming: webviewRequests,
      outgoing: {},
      incomingNotifications: {},
      send: (message) => this.postRaw(message),
      toWire: toWireError,
      fromWire: (error) => AppError.fromWire(error),
    });
    this.messenger.setHandlers({
      "webview/ready": async (params) => {
        this.requests.push({ method: "webview/ready", params });
        await this.bootstrapGate;
        if (this.readyError) throw new AppError(this.readyError, "The panel speaks another protocol version.");
        return this.bootstrap;
      },
      "compare/run": (params, ctx) => {
        this.requests.push({ method: "compare/run", params });
        return new Promise((resolve, reject) => this.runs.push(this.runCall(params, ctx, resolve, reject)));
      },
      "compare/stop": async (params) => {
        this.requests.push({ method: "compare/stop", params });
        return { stopped: this.runs.length > 0 };
      },
      "editor/getSelection": async (params) => {
        this.requests.push({ method: "editor/getSelection", params });
        return { text: this.selection };
      },
      "history/export": async (params) => {
        this.requests.push({ method: "history/export", params });
        return { saved: true, path: `/tmp/history.${params.format}` };
      },
    });
  }

  /** Stubs `acquireVsCodeApi`, loads the webview entry fresh and waits for the handshake to be answered. */
  async start(): Promise<void> {
    installDomShims();
    document.body.replaceChildren();
    document.body.className = "vscode-dark";
    const api: VsCodeApi = {
      postMessage: (message) => {
        const copy = structuredClone(message);
        queueMicrotask(() => this.messenger.receive(copy));
      },
      getState: () => structuredClone(this.uiState),
      setState: (state) => {
        this.uiState = structuredClone(state);
        return state;
      },
    };
    globalThis.acquireVsCodeApi = () => {
      if (++this.acquired > 1) throw new Error("An instance of the VS Code API has already been acquired");
      return api;
    };
    vi.resetModules();
    const main = await import("../../webview/main.js");
    this.app = main.app;
    await flush();
  }

  /** Delays the answer to `webview/ready` until the returned function is called. */
  holdBootstrap(): () => void {
    let release!: () => void;
    this.bootstrapGate = new Promise((resolve) => (release = resolve));
    return release;
  }

  /** Disposes the app so its `message` listener does not see the next test's messages. */
  stop(): void {
    this.app?.dispose();
    this.app = undefined;
  }

  /** Sends an untagged notification, as the host does for status, history and runs it started itself. */
  notify<M extends keyof HostNotifications & string>(method: M, params: z.input<HostNotifications[M]>): void {
    this.messenger.notify(method, params);
  }

  /** Posts anything at all to the webview (for invalid-message tests). */
  postRaw(data: unknown): void {
    const copy = structuredClone(data);
    queueMicrotask(() => window.dispatchEvent(new MessageEvent("message", { data: copy })));
  }

  /** The requests of one method, in order. */
  sent(method: string): unknown[] {
    return this.requests.filter((r) => r.method === method).map((r) => r.params);
  }

  private runCall(
    params: RunCall["params"],
    ctx: HandlerContext<HostNotifications>,
    resolve: (run: RunSnapshot) => void,
    reject: (err: unknown) => void,
  ): RunCall {
    const done = (): void => void this.runs.splice(this.runs.indexOf(call), 1);
    const call: RunCall = {
      params,
      signal: ctx.signal,
      update: (run) => ctx.notify("compare/didUpdate", { run }),
      finish: (run) => {
        done();
        resolve(run);
      },
      fail: (code, message) => {
        done();
        reject(new AppError(code, message));
      },
    };
    return call;
  }
}

/** Lets queued messages and the renders they cause happen. */
export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** The element with `data-testid` `id` inside `root` (the document by default); throws when missing. */
export function byTestId<T extends Element = HTMLElement>(id: string, root: ParentNode = document): T {
  const found = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!found) throw new Error(`no element with data-testid="${id}"`);
  return found;
}

/** All elements with `data-testid` `id` inside `root`. */
export function allByTestId<T extends Element = HTMLElement>(id: string, root: ParentNode = document): T[] {
  return [...root.querySelectorAll<T>(`[data-testid="${id}"]`)];
}
