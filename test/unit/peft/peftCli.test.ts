import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { peftFixtureBundle } from "../../../testkit/peftFixtures.js";
import { runCliInProcess, type CliRun } from "../../../testkit/runCliInProcess.js";
import { scratchDirs } from "../../../testkit/scratchDirs.js";

const scratch = scratchDirs("prism-peft-cli-");

/** Runs the CLI in-process (testkit/runCliInProcess.ts). */
function prism(...argv: string[]): Promise<CliRun> {
  return runCliInProcess(argv, "prism export and import must not start the engine");
}

describe("prism export / prism import", () => {
  let f: Awaited<ReturnType<typeof peftFixtureBundle>>;
  const cacheHome = process.env.XDG_CACHE_HOME;
  beforeAll(async () => {
    // The hash cache goes to the scratch directory, not the user's.
    process.env.XDG_CACHE_HOME = await scratch();
    f = await peftFixtureBundle(await scratch(), "gemma3");
  });
  afterAll(() => {
    if (cacheHome === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = cacheHome;
  });

  it("export writes the PEFT directory and import rebuilds the bundle from it", async () => {
    const out = join(f.dir, "peft");
    const exported = await prism("export", "--bundle", f.bundle, "--model", f.model, "--out", out, "--json");
    expect(exported).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(exported.stdout)).toMatchObject({ architecture: "gemma3", rank: 4, alpha: 6, pairs: 7 });
    const config = JSON.parse(await readFile(join(out, "adapter_config.json"), "utf8")) as Record<string, unknown>;
    expect(config.target_modules).toEqual([
      "down_proj",
      "gate_proj",
      "k_proj",
      "o_proj",
      "q_proj",
      "up_proj",
      "v_proj",
    ]);

    const back = join(f.dir, "back.prism");
    const imported = await prism("import", "--peft", out, "--model", f.model, "--out", back);
    expect(imported).toEqual({ code: 0, stdout: `gemma3: 7 LoRA pairs, r=4, alpha=6\nwrote ${back}\n`, stderr: "" });
    expect(await readFile(join(back, "gate.json"), "utf8")).toBe(await readFile(join(f.bundle, "gate.json"), "utf8"));
  });

  it("usage errors exit 2; a coded failure exits 1 naming its code", async () => {
    expect((await prism("export", "--bundle", f.bundle, "--model", f.model)).code).toBe(2);
    const format = await prism("export", "--bundle", f.bundle, "--out", "x", "--format", "onnx");
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("--format must be one of peft");
    expect((await prism("import", "--peft", f.dir, "--out", "x")).code).toBe(2);
    const missing = await prism("import", "--peft", join(f.dir, "none"), "--model", f.model, "--out", join(f.dir, "x"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error \[peft\/notFound\]/);
  });
});
