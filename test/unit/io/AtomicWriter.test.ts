import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AtomicWriter } from "../../../src/core/util/AtomicWriter.js";

describe("AtomicWriter", () => {
  it("appends pieces to a temp file and shows them only on commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prism-atomic-"));
    const path = join(dir, "train.jsonl");
    writeFileSync(path, "old\n");
    const w = new AtomicWriter(path);
    await w.write("one\n");
    await w.write(new TextEncoder().encode("two\n"));
    expect(readFileSync(path, "utf8")).toBe("old\n"); // readers still see the old file
    await w.commit();
    expect(readFileSync(path, "utf8")).toBe("one\ntwo\n");
    expect(readdirSync(dir)).toEqual(["train.jsonl"]);
  });

  it("abort leaves the old file and no temp file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prism-atomic-"));
    const path = join(dir, "train.jsonl");
    writeFileSync(path, "old\n");
    const w = new AtomicWriter(path);
    await w.write("partial");
    await w.abort();
    expect(readFileSync(path, "utf8")).toBe("old\n");
    expect(readdirSync(dir)).toEqual(["train.jsonl"]);
  });

  it("a write into a missing directory is io/writeFailed naming the path", async () => {
    const path = join(tmpdir(), "prism-no-such-dir", "x", "train.jsonl");
    const err = await new AtomicWriter(path).write("x").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "io/writeFailed" });
    expect(String((err as Error).message)).toContain(path);
  });
});
