import { fork, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { AppError } from "../../src/protocol/errors.js";

/**
 * The real engine process driven with raw, unvalidated messages — what a buggy or hostile peer could send.
 * `call` resolves with the response, or rejects with the response's error code, or with
 * `protocol/invalidMessage` when the engine reports it dropped the message.
 */
export class RawEngine {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<RawEngine> {
    const child = fork(resolve("dist/engine.mjs"), [], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
    await new Promise<void>((ok, fail) => {
      child.once("error", fail);
      child.on("message", (m: { method?: string }) => {
        if (m.method === "engine/didStart") ok();
      });
    });
    return new RawEngine(child);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.connected;
  }

  call(message: { id?: number } & Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => done(() => fail(new Error("no answer and no drop report"))), timeoutMs);
      const onMessage = (m: {
        kind?: string;
        id?: number;
        method?: string;
        params?: { text?: string };
        error?: { code: string; message: string };
        result?: unknown;
      }) => {
        if (m.kind === "response" && m.id === message.id) {
          done(() =>
            m.error ? fail(new AppError(m.error.code as "protocol/invalidMessage", m.error.message)) : ok(m.result),
          );
        } else if (m.method === "engine/didLog" && /Dropped a message/.test(m.params?.text ?? "")) {
          done(() => fail(new AppError("protocol/invalidMessage", m.params!.text!)));
        }
      };
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.child.off("message", onMessage);
        settle();
      };
      this.child.on("message", onMessage);
      this.child.send(message);
    });
  }

  dispose(): void {
    this.child.kill("SIGKILL");
  }
}
