import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { writeGguf } from "../../../src/core/gguf/writeGguf.js";
import { ggufValue } from "../../../src/core/gguf/ggufTypes.js";
import { JsonlLog } from "../../../src/core/jobs/JsonlLog.js";
import { writeFileAtomic } from "../../../src/core/util/writeFileAtomic.js";

/**
 * Write failures on real file systems: a tiny tmpfs that fills up (ENOSPC) and a read-only tmpfs (EROFS; root
 * ignores permission bits, so chmod cannot simulate this). Needs mount rights: as root (CI) a failed mount fails
 * the suite; without root the suite is reported as skipped, with the reason in its name.
 */
const base = mkdtempSync(join(tmpdir(), "prism-io-"));
const full = join(base, "full");
const readonly = join(base, "ro");

function mount(dir: string, options: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: ["ignore", "ignore", "pipe"] });
}

/** Mounts both file systems; returns why it could not. At collection time, so the skip is decided up front. */
function mountAll(): string | undefined {
  try {
    mount(full, "size=64k");
    mount(readonly, "size=64k");
    writeFileSync(join(readonly, "previous.txt"), "old");
    execFileSync("mount", ["-o", "remount,ro", readonly], { stdio: ["ignore", "ignore", "pipe"] });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split("\n")[0];
    return stderr || (err as Error).message;
  }
}

const mountError = mountAll();
const isRoot = process.getuid?.() === 0;
const skipReason = mountError && !isRoot ? `skipped: mounting a tmpfs needs root (${mountError})` : undefined;

beforeAll(() => {
  if (mountError && isRoot) throw new Error(`root could not mount the test file systems: ${mountError}`);
});
afterAll(() => {
  for (const dir of [full, readonly]) {
    try {
      execFileSync("umount", [dir], { stdio: "ignore" });
    } catch {
      // not mounted
    }
  }
});

describe.skipIf(skipReason !== undefined)(
  `write failures give coded errors and leave nothing partial${skipReason ? ` (${skipReason})` : ""}`,
  () => {
    it("writeFileAtomic on a full disk: io/writeFailed, no temp file, old content intact", async () => {
      const path = join(full, "state.json");
      await writeFileAtomic(path, "old");
      const err = await writeFileAtomic(path, "x".repeat(200_000)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "io/writeFailed", message: expect.stringContaining("disk is full") });
      expect(readFileSync(path, "utf8")).toBe("old");
      expect(readdirSync(full)).toEqual(["state.json"]);
    });

    it("writeFileAtomic on a read-only file system: io/writeFailed naming the path", async () => {
      const err = await writeFileAtomic(join(readonly, "previous.txt"), "new").catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "io/writeFailed", message: expect.stringContaining("read-only") });
      expect(readFileSync(join(readonly, "previous.txt"), "utf8")).toBe("old");
      expect(readdirSync(readonly)).toEqual(["previous.txt"]);
    });

    it("a JSONL log that fills the disk keeps only whole lines", async () => {
      const path = join(full, "items.jsonl");
      const log = await JsonlLog.open(path, z.object({ id: z.number(), pad: z.string() }));
      let err: unknown;
      for (let i = 0; i < 100 && !err; i++)
        err = await log.append({ id: i, pad: "p".repeat(3000) }).catch((e: unknown) => e);
      await log.close();
      expect(err).toMatchObject({ code: "io/writeFailed" });
      const lines = readFileSync(path, "utf8").split("\n");
      expect(lines.at(-1)).toBe("");
      for (const line of lines.slice(0, -1)) expect(() => JSON.parse(line)).not.toThrow();
      const again = await JsonlLog.open(path, z.object({ id: z.number(), pad: z.string() }));
      expect(again.items.length).toBe(lines.length - 1);
      await again.close();
    });

    it("a GGUF that does not fit: gguf/writeFailed and no temp file", async () => {
      const before = readdirSync(full).sort();
      const err = await writeGguf(join(full, "big.gguf"), {
        kvs: [{ key: "general.architecture", value: ggufValue.string("llama") }],
        tensors: [{ name: "t", dims: [100_000], type: 0, data: new Float32Array(100_000) }],
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "gguf/writeFailed" });
      expect(readdirSync(full).sort()).toEqual(before);
    });
  },
);
