import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChunkBatcher } from "../../../src/engine/ChunkBatcher.js";

describe("ChunkBatcher", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] }));
  afterEach(() => vi.useRealTimers());

  it("sends the first chunk at once, then coalesces within the interval", () => {
    const sent: string[] = [];
    const b = new ChunkBatcher((t) => sent.push(t), 30);
    vi.advanceTimersByTime(100);
    b.push("a");
    b.push("b");
    b.push("c");
    expect(sent).toEqual(["a"]);
    vi.advanceTimersByTime(30);
    expect(sent).toEqual(["a", "bc"]);
  });

  it("flush sends what is queued and loses nothing", () => {
    const sent: string[] = [];
    const b = new ChunkBatcher((t) => sent.push(t), 30);
    vi.advanceTimersByTime(100);
    for (const ch of "hello world") b.push(ch);
    b.flush();
    b.flush();
    expect(sent.join("")).toBe("hello world");
    expect(sent.length).toBe(2);
  });
});
