import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/runCli.js";
import { isLoopbackHost } from "../../../src/core/serve/isLoopbackHost.js";
import { startServer } from "../../../src/core/serve/startServer.js";
import { FakeBackend, FakeGate } from "./serveFakes.js";

describe("where prism serve may listen", () => {
  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "128.0.0.1", ""])
      expect(isLoopbackHost(h), h).toBe(false);
  });

  it("refuses a non-loopback host without an API key, before loading anything", async () => {
    await expect(
      startServer({ host: "0.0.0.0", port: 0, gate: new FakeGate(), backend: new FakeBackend() }),
    ).rejects.toMatchObject({ code: "serve/apiKeyRequired" });
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await runCli(["serve", "--bundle", "b.prism", "--host", "0.0.0.0"], {
      stdout: new PassThrough(),
      stderr,
      signal: new AbortController().signal,
      startEngine: () => {
        throw new Error("a usage error must not start the engine");
      },
    });
    expect(code).toBe(2);
    expect(err).toMatch(/^error \[cli\/usage\]: --host 0\.0\.0\.0 .* needs --api-key/);
  });

  it("reports a port in use as serve/listenFailed, and listens on a free one", async () => {
    const first = await startServer({ host: "127.0.0.1", port: 0, gate: new FakeGate(), backend: new FakeBackend() });
    try {
      expect(first.baseUrl).toBe(`http://127.0.0.1:${first.port}/v1`);
      const models = (await (await fetch(`${first.baseUrl}/models`)).json()) as { data: unknown[] };
      expect(models.data).toHaveLength(3);
      await expect(
        startServer({ host: "127.0.0.1", port: first.port, gate: new FakeGate(), backend: new FakeBackend() }),
      ).rejects.toMatchObject({ code: "serve/listenFailed", message: expect.stringContaining("in use") });
    } finally {
      await first.close();
    }
    await expect(fetch(`${first.baseUrl}/models`)).rejects.toThrow();
  });
});
