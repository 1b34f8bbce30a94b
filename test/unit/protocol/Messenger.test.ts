import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Envelope } from "../../../src/protocol/envelope.js";
import { AppError, toWireError } from "../../../src/protocol/errors.js";
import { Messenger } from "../../../src/protocol/Messenger.js";

const requests = {
  "math/add": { params: z.object({ a: z.number(), b: z.number().default(1) }), result: z.object({ sum: z.number() }) },
  "math/slow": { params: z.object({}), result: z.object({ done: z.boolean() }) },
  "math/fail": { params: z.object({}), result: z.object({}) },
};
const notes = { "math/didTick": z.object({ n: z.number() }) };

/** Two messengers wired back to back, with every message recorded; delivery is async like real IPC. */
function pair() {
  const wire: Envelope[] = [];
  const invalid: string[] = [];
  const peer: { server?: Messenger<typeof requests, Record<string, never>, Record<string, never>, typeof notes> } = {};
  const client = new Messenger<Record<string, never>, typeof requests, typeof notes, Record<string, never>>({
    incoming: {},
    outgoing: requests,
    incomingNotifications: notes,
    send: (m) => {
      wire.push(m);
      queueMicrotask(() => peer.server!.receive(JSON.parse(JSON.stringify(m))));
    },
    toWire: toWireError,
    fromWire: (w) => AppError.fromWire(w),
    onInvalidMessage: (e) => invalid.push(e.message),
  });
  const server = new Messenger<typeof requests, Record<string, never>, Record<string, never>, typeof notes>({
    incoming: requests,
    outgoing: {},
    incomingNotifications: {},
    send: (m) => {
      wire.push(m);
      queueMicrotask(() => client.receive(JSON.parse(JSON.stringify(m))));
    },
    toWire: toWireError,
    fromWire: (w) => AppError.fromWire(w),
    invalidParamsCode: "engine/invalidOptions",
    onInvalidMessage: (e) => invalid.push(e.message),
  });
  peer.server = server;
  return { client, server, wire, invalid };
}

describe("Messenger", () => {
  it("round-trips a request with validated params and defaults", async () => {
    const { client, server } = pair();
    server.setHandlers({ "math/add": async (p) => ({ sum: p.a + p.b }) });
    await expect(client.request("math/add", { a: 2 })).resolves.toEqual({ sum: 3 });
    await expect(client.request("math/add", { a: 2, b: 5 })).resolves.toEqual({ sum: 7 });
    expect(client.pendingCount).toBe(0);
  });

  it("answers invalid params with the configured code and the field path", async () => {
    const { client, server } = pair();
    server.setHandlers({ "math/add": async (p) => ({ sum: p.a + p.b }) });
    const err = await client.request("math/add", { a: "x" as unknown as number }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("engine/invalidOptions");
    expect((err as AppError).message).toMatch(/math\/add at a/);
  });

  it("answers an unknown method with protocol/unknownMethod", async () => {
    const { client } = pair();
    // A peer built from a newer protocol may call methods this side does not know.
    const call = client.request("nope/x" as "math/slow", {});
    await expect(call).rejects.toMatchObject({ code: "protocol/unknownMethod" });
  });

  it("carries handler errors as coded data", async () => {
    const { client, server } = pair();
    server.setHandlers({
      "math/fail": async () => {
        throw new AppError("engine/promptTooLong", "too long", { tokens: 9 });
      },
    });
    const err = (await client.request("math/fail", {}).catch((e: unknown) => e)) as AppError;
    expect(err.code).toBe("engine/promptTooLong");
    expect(err.detail).toEqual({ tokens: 9 });
  });

  it("cancels: the caller rejects at once, the handler's signal aborts, late answers are ignored", async () => {
    const { client, server, wire } = pair();
    let handlerSignal: AbortSignal | undefined;
    server.setHandlers({
      "math/slow": (_p, ctx) =>
        new Promise((resolve) => {
          handlerSignal = ctx.signal;
          ctx.signal.addEventListener("abort", () => setTimeout(() => resolve({ done: false }), 5));
        }),
    });
    const controller = new AbortController();
    const call = client.request("math/slow", {}, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: "AbortError" });
    await new Promise((r) => setTimeout(r, 20));
    expect(handlerSignal?.aborted).toBe(true);
    expect(wire.some((m) => m.kind === "cancel")).toBe(true);
    expect(wire.filter((m) => m.kind === "response")).toHaveLength(1);
    expect(client.pendingCount).toBe(0);
  });

  it("routes tagged notifications to their request and untagged ones to listeners", async () => {
    const { client, server } = pair();
    const untagged: unknown[] = [];
    client.onNotification((_m, p) => untagged.push(p));
    server.setHandlers({
      "math/add": async (p, ctx) => {
        ctx.notify("math/didTick", { n: 1 });
        ctx.notify("math/didTick", { n: 2 });
        server.notify("math/didTick", { n: 99 });
        return { sum: p.a + p.b };
      },
    });
    const seen: unknown[] = [];
    await client.request("math/add", { a: 1 }, { onNotification: (_m, p) => seen.push(p) });
    await new Promise((r) => setTimeout(r, 0));
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    expect(untagged).toEqual([{ n: 99 }]);
  });

  it("drops malformed, unknown, invalid and oversized messages without throwing", () => {
    const { client, invalid } = pair();
    client.receive(null);
    client.receive({ kind: "bogus" });
    client.receive({ kind: "notify", method: "math/unknown", params: {} });
    client.receive({ kind: "notify", method: "math/didTick", params: { n: "one" } });
    client.receive({ kind: "notify", method: "math/didTick", params: { n: 1, pad: "x".repeat(17 * 1024 * 1024) } });
    expect(invalid).toHaveLength(5);
    expect(invalid[4]).toMatch(/exceeds the limit/);
  });

  it("rejects results that fail their schema", async () => {
    const { client, server } = pair();
    server.setHandlers({ "math/add": async () => ({ sum: "NaN" }) as unknown as { sum: number } });
    const err = (await client.request("math/add", { a: 1 }).catch((e: unknown) => e)) as AppError;
    expect(err.code).toBe("protocol/invalidMessage");
  });

  it("rejectAll fails every pending request with the given error", async () => {
    const { client, server } = pair();
    server.setHandlers({ "math/slow": () => new Promise(() => undefined) });
    const a = client.request("math/slow", {});
    const b = client.request("math/slow", {});
    client.rejectAll(new AppError("engine/crashed", "boom"));
    await expect(a).rejects.toMatchObject({ code: "engine/crashed" });
    await expect(b).rejects.toMatchObject({ code: "engine/crashed" });
  });
});
