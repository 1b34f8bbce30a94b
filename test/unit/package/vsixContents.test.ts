import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { iconPixels } from "../../../scripts/makeIcon.mjs";
import {
  VSIX_TARGETS,
  checkVsixFiles,
  hostTarget,
  ignoreFileFor,
  nodeLlamaCppPackages,
  productionPackages,
} from "../../../scripts/vsixTargets.mjs";

// What a VSIX ships (README "Packaging"): the allow-list of scripts/vsixTargets.mjs against `vsce ls`, the per-target
// binaries against node-llama-cpp's own list, the README's budget table and the release workflow's matrix against
// VSIX_TARGETS, and the committed icon against its generator.

const root = join(import.meta.dirname, "../../..");
const read = (path: string) => readFileSync(join(root, path), "utf8");
const production = productionPackages(read("package-lock.json"));
const targets = Object.keys(VSIX_TARGETS);
const scratch = mkdtempSync(join(tmpdir(), "prism-vsix-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("VSIX targets", () => {
  it("name only prebuilt packages node-llama-cpp itself lists, at its version", () => {
    const llama = JSON.parse(read("node_modules/node-llama-cpp/package.json")) as {
      version: string;
      optionalDependencies: Record<string, string>;
    };
    for (const target of targets)
      for (const name of nodeLlamaCppPackages(target, true))
        expect(llama.optionalDependencies[`@node-llama-cpp/${name}`], `${target}: ${name}`).toBe(llama.version);
  });

  it("refuses an unknown target", () => {
    expect(() => nodeLlamaCppPackages("linux-riscv64")).toThrow(/unknown target "linux-riscv64"/);
  });
});

describe("the VSIX allow-list", () => {
  const good = [
    "package.json",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "PRIVACY.md",
    "media/icon.png",
    "media/compare.css",
    "dist/extension.js",
    "dist/engine.mjs",
    "dist/webview/main.js",
    "dist/trainer/bin/prism-trainer",
    "dist/trainer/lib/libllama.so",
    "node_modules/node-llama-cpp/package.json",
    "node_modules/node-llama-cpp/dist/index.js",
    "node_modules/@node-llama-cpp/linux-x64/package.json",
    "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node",
    "node_modules/@node-llama-cpp/linux-x64-vulkan/package.json",
  ];

  it("accepts a complete linux-x64 VSIX", () => {
    expect(checkVsixFiles(good, "linux-x64", production, { trainer: true })).toEqual({ unexpected: [], missing: [] });
  });

  it("flags sources, maps, screenshots, dev dependencies and other platforms' binaries", () => {
    const bad = [
      "src/extension.ts",
      "dist/extension.js.map",
      "media/screenshots/compare.png",
      ".cache/trainer/x/bin/prism-trainer",
      "node_modules/typescript/lib/tsc.js",
      "node_modules/vitest/package.json",
      "node_modules/@node-llama-cpp/linux-arm64/package.json",
      "node_modules/@node-llama-cpp/linux-x64-cuda/package.json",
      "node_modules/node-llama-cpp/llama/gitRelease.bundle",
    ];
    const { unexpected } = checkVsixFiles([...good, ...bad], "linux-x64", production);
    expect(unexpected.map((u) => u.split(" ")[0])).toEqual(bad);
  });

  it("reports what a VSIX lacks: the target's binaries, the trainer", () => {
    const { missing } = checkVsixFiles(good.slice(0, 10), "win32-x64", production, { trainer: true });
    expect(missing).toEqual([
      "node_modules/node-llama-cpp/package.json",
      "node_modules/@node-llama-cpp/win-x64/package.json",
      "node_modules/@node-llama-cpp/win-x64-vulkan/package.json",
      "dist/trainer/bin/prism-trainer.exe",
    ]);
  });

  // The real file list, as `vsce package` would collect it for this machine's target. dist/ is built by the test
  // command before vitest runs, and scripts/package.mjs checks its presence on every package; here only the files
  // that do not depend on a build are required.
  it("holds for this checkout's VSIX (vsce ls)", () => {
    const target = hostTarget();
    const ignoreFile = join(scratch, "vscodeignore");
    writeFileSync(ignoreFile, ignoreFileFor(target, readdirSync(join(root, "node_modules/@node-llama-cpp"))));
    const listed = spawnSync("npx", ["vsce", "ls", "--ignoreFile", ignoreFile], {
      cwd: root,
      encoding: "utf8",
      shell: process.platform === "win32",
    });
    expect(listed.status, listed.stderr).toBe(0);
    const files = listed.stdout.split(/\r?\n/).filter(Boolean);
    const { unexpected, missing } = checkVsixFiles(files, target, production);
    expect(unexpected).toEqual([]);
    expect(missing.filter((f) => !f.startsWith("dist/"))).toEqual([]);
  }, 60_000);
});

describe("README and release workflow", () => {
  it("the README's packaging table lists each target's runner, binaries and budget", () => {
    const rows = new Map(
      [...read("README.md").matchAll(/^\| `([\w-]+)` \| `([\w.-]+)` \| ([^|]+) \|[^|]+\| (\d+) MB \|$/gm)].map((m) => [
        m[1],
        { runner: m[2], binaries: m[3].trim(), budgetMB: Number(m[4]) },
      ]),
    );
    expect([...rows.keys()]).toEqual(targets);
    for (const [target, t] of Object.entries(VSIX_TARGETS))
      expect(rows.get(target)).toEqual({
        runner: t.runner,
        binaries: t.binaries.map((b) => `\`${b}\``).join(", "),
        budgetMB: t.budgetMB,
      });
  });

  // actionlint is not installable offline from a source we trust (README "Packaging"), so the workflow's structure
  // is checked here with js-yaml (already installed, through ESLint).
  it("release.yml packages every target on its own runner and publishes only on a v* tag", () => {
    const yaml = createRequire(import.meta.url)("js-yaml") as { load(text: string): unknown };
    const workflow = yaml.load(read(".github/workflows/release.yml")) as {
      on: { push: { tags: string[] } };
      jobs: Record<
        string,
        {
          "runs-on": string;
          needs?: string;
          if?: string;
          strategy?: { matrix: { include: { target: string; runner: string }[] } };
          steps: { run?: string; uses?: string; if?: string }[];
        }
      >;
    };
    expect(workflow.on.push.tags).toEqual(["v*"]);
    const { package: pack, publish } = workflow.jobs;
    expect(pack["runs-on"]).toBe("${{ matrix.runner }}");
    expect(pack.strategy?.matrix.include).toEqual(
      Object.entries(VSIX_TARGETS).map(([target, t]) => ({ target, runner: t.runner })),
    );
    const runs = pack.steps.map((s) => s.run ?? s.uses ?? "");
    const order = [
      "npm ci",
      "npm test",
      "npm run package -- --target ${{ matrix.target }}",
      "node scripts/checkVsix.mjs dist-vsix/prism-vscode-${{ matrix.target }}.vsix",
      "actions/upload-artifact",
    ];
    const at = order.map((prefix) => runs.findIndex((r) => r.startsWith(prefix)));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(publish.needs).toBe("package");
    expect(publish.if).toBe("startsWith(github.ref, 'refs/tags/v')");
    const publishRuns = publish.steps.map((s) => `${s.if ?? ""} ${s.run ?? ""}`);
    expect(publishRuns.some((r) => r.startsWith("env.VSCE_PAT != '' ") && r.includes("vsce@"))).toBe(true);
    expect(publishRuns.some((r) => r.startsWith("env.OVSX_PAT != '' ") && r.includes("ovsx@"))).toBe(true);
  });
});

describe("marketplace metadata", () => {
  it("media/icon.png is scripts/makeIcon.mjs's render, 256×256 RGBA", () => {
    const png = readFileSync(join(root, "media/icon.png"));
    expect(png.readUInt32BE(16)).toBe(256);
    expect(png.readUInt32BE(20)).toBe(256);
    expect(png[25]).toBe(6); // colour type RGBA
    const idat = png.indexOf("IDAT");
    const data = png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4));
    expect(inflateSync(data).equals(iconPixels())).toBe(true);
  });

  it("package.json carries what the marketplace shows", () => {
    const manifest = JSON.parse(read("package.json")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ license: "MIT", icon: "media/icon.png", galleryBanner: { theme: "dark" } });
    expect(read("LICENSE")).toMatch(/^MIT License/);
  });
});
