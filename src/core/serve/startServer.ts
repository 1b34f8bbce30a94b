import type { AddressInfo } from "node:net";
import { AppError } from "../errors.js";
import { createServeApp, type ServeAppOptions } from "./createServeApp.js";
import { isLoopbackHost } from "./isLoopbackHost.js";

/** Options of {@link startServer}: the app's, and where it listens. */
export interface StartServerOptions extends ServeAppOptions {
  /** Interface to bind. A non-loopback one needs `apiKey`. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/** A listening `prism serve`. */
export interface RunningServer {
  /** The OpenAI base URL clients use, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  host: string;
  /** The port actually bound (the chosen one when 0 was asked for). */
  port: number;
  /** Aborts the requests in flight, stops listening and disposes the backend. */
  close(): Promise<void>;
}

/**
 * Starts the routed endpoint on `host:port`. Refuses a non-loopback host without an API key
 * (`serve/apiKeyRequired`: anyone on the network could otherwise use the model) and reports a port in use or a
 * host it cannot bind as `serve/listenFailed`.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { host, port } = options;
  if (!isLoopbackHost(host) && !options.apiKey) {
    throw new AppError(
      "serve/apiKeyRequired",
      `Binding ${host} makes the server reachable from other machines: set an API key, or bind 127.0.0.1.`,
    );
  }
  const app = createServeApp(options);
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    const code = (err as { code?: unknown }).code;
    const reason = code === "EADDRINUSE" ? "the port is in use" : String((err as Error).message ?? err);
    throw new AppError("serve/listenFailed", `Cannot listen on ${host}:${port}: ${reason}.`, undefined, { cause: err });
  }
  const address = app.server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://${shown}:${address.port}/v1`,
    host: address.address,
    port: address.port,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await options.backend.dispose();
      })()),
  };
}
