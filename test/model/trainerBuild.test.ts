/**
 * scripts/buildTrainer.mjs: silent when up to date, a stable binary path, a clear message when the toolchain is
 * missing, a shell recipe of the same build for machines without node, and patches that document the upstream
 * change that makes them unnecessary. How long an up-to-date check takes is bench's business, not a test's.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, trainerBinary } from "../../testkit/trainerKit.js";

const script = join(ROOT, "scripts/buildTrainer.mjs");
let bin = "";

beforeAll(() => {
  bin = trainerBinary();
}, 15 * 60_000);

describe("build:trainer", () => {
  it("is silent when up to date, and leaves no lock behind", () => {
    const r = spawnSync(process.execPath, [script], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toBe("");
    const keyDir = dirname(dirname(bin));
    expect(existsSync(join(dirname(keyDir), `.${basename(keyDir)}.lock`))).toBe(false);
  });

  it("prints the binary path, keyed by source commit + patches + backend", () => {
    const path = execFileSync(process.execPath, [script, "--print-path"], { encoding: "utf8" }).trim();
    expect(path).toBe(bin);
    expect(relative(ROOT, path)).toMatch(/^\.cache\/trainer\/[0-9a-f]{16}\/bin\/prism-trainer$/);
    accessSync(path, constants.X_OK);
    expect(execFileSync(path, ["--version"], { encoding: "utf8" })).toMatch(
      /llama\.cpp v0\.4\.0, [0-9a-f]{12}, (cpu|cuda|vulkan|metal), patches 0001,0002,0003,0004,0005,0006,0007,0008,0009,0010,0011,0012, cpu x86-64-v3\)/,
    );
  });

  it("targets a portable instruction set, not the build machine's (docs/trainer.md §13)", () => {
    const recipe = execFileSync(process.execPath, [script, "--backend", "cpu", "--print-recipe"], {
      encoding: "utf8",
    });
    expect(recipe).toContain("-DGGML_NATIVE=OFF");
    expect(recipe).toMatch(/-DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF/);
    expect(recipe).toContain(`'-DPRISM_CPU_VARIANT="x86-64-v3"'`);
    // the binary ran its CPU check already (--version above runs before it; check runs after it)
    const check = spawnSync(bin, ["check"], { encoding: "utf8" });
    expect(check.status, check.stderr.slice(-1000)).toBe(0);
    expect(check.stdout).toContain('"cpuVariant":"x86-64-v3"');
  });

  it("says what to install when cmake or the compiler is missing", () => {
    // a PATH with git and node only, and an empty cache so the libraries must be built
    const fakeBin = mkdtempSync(join(tmpdir(), "prism-nocmake-"));
    const cache = mkdtempSync(join(tmpdir(), "prism-nocache-"));
    try {
      for (const tool of ["git", "node"]) {
        const where = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim();
        symlinkSync(where, join(fakeBin, tool));
      }
      const r = spawnSync(process.execPath, [script, "--backend", "cpu"], {
        encoding: "utf8",
        env: { PATH: fakeBin, PRISM_TRAINER_CACHE: cache, HOME: process.env.HOME ?? "/tmp" },
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("needs cmake");
      expect(r.stderr).toContain("apt-get install cmake g++");
    } finally {
      rmSync(fakeBin, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("prints the same build as a shell recipe for a machine without node", () => {
    const recipe = execFileSync(process.execPath, [script, "--backend", "cuda", "--print-recipe"], {
      encoding: "utf8",
    });
    expect(spawnSync("sh", ["-n"], { input: recipe }).status).toBe(0);
    const patches = readdirSync(join(ROOT, "src/trainer/patches")).filter((f) => f.endsWith(".patch"));
    const sources = readdirSync(join(ROOT, "src/trainer")).filter((f) => /\.(cpp|h)$/.test(f));
    // Every patch and source is pinned by its checksum, so a recipe generated from other sources refuses to build.
    for (const f of [...patches.map((p) => `src/trainer/patches/${p}`), ...sources.map((c) => `src/trainer/${c}`)]) {
      const sha = createHash("sha256")
        .update(readFileSync(join(ROOT, f)))
        .digest("hex");
      expect(recipe, f).toContain(`${sha}  ${f}\n`);
    }
    for (const p of patches) expect(recipe).toContain(`apply --whitespace=nowarn "$PWD"/src/trainer/patches/${p}`);
    expect(recipe).toContain('"-DCMAKE_CUDA_ARCHITECTURES=${PRISM_TRAINER_CUDA_ARCH:-native}" -DGGML_CUDA_FA=OFF');
    expect(recipe).toMatch(
      /-DPRISM_BACKEND="cuda"' '-DPRISM_PATCHES="0001,0002,0003,0004,0005,0006,0007,0008,0009,0010,0011,0012"'/,
    );
    expect(recipe.trimEnd().split("\n").at(-1)).toBe("echo .cache/trainer/recipe-cuda/bin/prism-trainer");
  });

  it("refuses to run a recipe whose sources changed", () => {
    const recipe = execFileSync(process.execPath, [script, "--backend", "cpu", "--print-recipe"], {
      encoding: "utf8",
    });
    const stale = recipe.replace(/^[0-9a-f]{64}(?= {2}src\/trainer\/main\.cpp$)/m, "0".repeat(64));
    expect(stale).not.toBe(recipe);
    // Run where a missed check could not build anything: a scratch root (src/ linked) and a PATH without git.
    const scratch = mkdtempSync(join(tmpdir(), "prism-recipe-"));
    try {
      symlinkSync(join(ROOT, "src"), join(scratch, "src"));
      mkdirSync(join(scratch, "bin"));
      const where = execFileSync("sh", ["-c", "command -v sha256sum"], { encoding: "utf8" }).trim();
      symlinkSync(where, join(scratch, "bin", "sha256sum"));
      const r = spawnSync("/bin/sh", ["-s"], {
        cwd: scratch,
        input: stale,
        encoding: "utf8",
        env: { PATH: join(scratch, "bin") },
      });
      expect(r.stderr).toContain("sources changed since this recipe was generated");
      expect(r.status).toBe(3);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it("builds llama.cpp once: quantization is a trainer subcommand, not a second build", () => {
    const r = spawnSync(process.execPath, [script, "--print-quantize-path"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("unknown option --print-quantize-path");
    const usage = spawnSync(bin, ["--help"], { encoding: "utf8" });
    expect(usage.stderr).toMatch(
      /prism-trainer quantize --in <model\.gguf> --out <quantized\.gguf> --type Q8_0\|Q4_K_M/,
    );
  });

  it("keeps small, documented patches that name their upstream replacement", () => {
    const dir = join(ROOT, "src/trainer/patches");
    const patches = readdirSync(dir)
      .filter((f) => f.endsWith(".patch"))
      .sort();
    expect(patches.map((p) => p.slice(0, 4))).toEqual(
      Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(4, "0")),
    );
    const upstream: Record<string, RegExp> = {
      "0001": /PR #22704/,
      "0002": /PR #28520/,
      "0003": /Upstream: none yet/,
      "0004": /Upstream: none known/,
      "0005": /Upstream: none known/,
      "0006": /Upstream: none known/,
      "0007": /Upstream: none known/,
      "0008": /Upstream: none known/,
      "0009": /Upstream: none known/,
      "0010": /Upstream: none known/,
      "0011": /Upstream: none known/,
      "0012": /Upstream: none known/,
    };
    for (const p of patches) {
      const text = readFileSync(join(dir, p), "utf8");
      expect(text, p).toMatch(upstream[p.slice(0, 4)]!);
      const added = text.split("\n").filter((l) => l.startsWith("+") && !l.startsWith("+++")).length;
      expect(added, p).toBeLessThan(80);
    }
  });
});
