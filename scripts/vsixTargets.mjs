// What each per-platform VSIX contains (README "Packaging"): the VS Code targets we publish, the node-llama-cpp
// prebuilt packages each one needs, its size budget, and the allow-list every packaged file is checked against.
// Shared by scripts/package.mjs (before and after `vsce package`) and test/unit/package/vsixContents.test.ts.
import { readFileSync } from "node:fs";

/**
 * The published targets. `binaries`: the @node-llama-cpp packages node-llama-cpp 3.21 loads on that platform
 * (node_modules/node-llama-cpp/dist/bindings/utils/compileLLamaCpp.js: CPU, Vulkan, Metal); `cuda`: the extra ones
 * `--with-cuda` adds (a separate, unpublished VSIX: 500+ MB). `runner`: the GitHub Actions runner that builds it
 * natively (.github/workflows/release.yml). `budgetMB`: the most a VSIX may weigh (MB = 10^6 bytes): the size
 * measured or estimated (README "Packaging": packed sizes of the prebuilt packages + 5.7 MB of extension + the
 * trainer and its libraries, 2.8 MB; llama-server stays out) plus about 20-30 %, so that growth is noticed before it reaches
 * users.
 */
export const VSIX_TARGETS = {
  "linux-x64": {
    binaries: ["linux-x64", "linux-x64-vulkan"],
    cuda: ["linux-x64-cuda", "linux-x64-cuda-ext"],
    runner: "ubuntu-latest",
    budgetMB: 60,
  },
  "linux-arm64": { binaries: ["linux-arm64"], cuda: [], runner: "ubuntu-24.04-arm", budgetMB: 25 },
  "darwin-arm64": { binaries: ["mac-arm64-metal"], cuda: [], runner: "macos-14", budgetMB: 25 },
  "darwin-x64": { binaries: ["mac-x64"], cuda: [], runner: "macos-15-intel", budgetMB: 30 },
  "win32-x64": {
    binaries: ["win-x64", "win-x64-vulkan"],
    cuda: ["win-x64-cuda", "win-x64-cuda-ext"],
    runner: "windows-latest",
    budgetMB: 60,
  },
};

/** The @node-llama-cpp package names a target's VSIX ships. Throws on an unknown target. */
export function nodeLlamaCppPackages(target, withCuda = false) {
  const t = VSIX_TARGETS[target];
  if (!t) throw new Error(`unknown target "${target}"; known: ${Object.keys(VSIX_TARGETS).join(", ")}`);
  return withCuda ? [...t.binaries, ...t.cuda] : [...t.binaries];
}

/** The VS Code target of the machine running this script (`process.platform`-`process.arch`). */
export function hostTarget() {
  return `${process.platform}-${process.arch}`;
}

/**
 * The .vscodeignore for one target: the repository's, plus every installed @node-llama-cpp package the target
 * does not use (npm installs every package whose os/cpu fields match, e.g. linux-arm64 on x64 hosts).
 */
export function ignoreFileFor(target, installed, withCuda = false) {
  const keep = new Set(nodeLlamaCppPackages(target, withCuda));
  const excluded = installed.filter((name) => !keep.has(name));
  const base = readFileSync(new URL("../.vscodeignore", import.meta.url), "utf8");
  return `${base}\n${excluded.map((n) => `node_modules/@node-llama-cpp/${n}/**`).join("\n")}\n`;
}

/**
 * The production packages of package-lock.json (what `vsce` may add from node_modules), as their lockfile paths
 * (`node_modules/a`, `node_modules/a/node_modules/b`). Dev-only and optional-dev entries are left out.
 */
export function productionPackages(lockText) {
  const lock = JSON.parse(lockText);
  return new Set(
    Object.entries(lock.packages ?? {})
      .filter(([path, meta]) => path.startsWith("node_modules/") && !meta.dev && !meta.devOptional)
      .map(([path]) => path),
  );
}

// Files of our own that a VSIX may carry. Anything else (sources, tests, caches, source maps, screenshots,
// docs) is a packaging mistake.
const OWN_FILES = [
  /^package\.json$/,
  /^(README|CHANGELOG|PRIVACY)\.md$/,
  /^LICENSE(\.txt|\.md)?$/,
  /^dist\/(extension\.js|engine\.mjs|cli\.mjs)$/,
  /^dist\/webview\/[^/]+\.(js|css|ttf|woff2?)$/,
  // The trainer and its patched llama.cpp libraries (dist/trainer/{bin,lib}, see scripts/package.mjs).
  /^dist\/trainer\/(bin|lib)\/[^/]+$/,
  /^media\/(?!screenshots\/)[\w./-]+\.(png|svg|css|md)$/,
];
// Inside production packages: never source maps, TypeScript sources or llama.cpp's source bundle/local builds.
const NEVER = [/\.map$/, /(?<!\.d)\.ts$/, /^node_modules\/node-llama-cpp\/llama\/(gitRelease\.bundle|localBuilds\/)/];

/** The files every VSIX must carry for the extension to start, route and (with a trainer) distil. */
export function requiredFiles(target, { withCuda = false, trainer = false } = {}) {
  return [
    "package.json",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "PRIVACY.md",
    "media/icon.png",
    "dist/extension.js",
    "dist/engine.mjs",
    "dist/webview/main.js",
    "node_modules/node-llama-cpp/package.json",
    ...nodeLlamaCppPackages(target, withCuda).map((p) => `node_modules/@node-llama-cpp/${p}/package.json`),
    ...(trainer ? [`dist/trainer/bin/prism-trainer${target.startsWith("win32") ? ".exe" : ""}`] : []),
  ];
}

/**
 * Checks a VSIX's file list (`vsce ls` paths) against the allow-list: our own files (OWN_FILES), files of
 * production packages (`production`, from {@link productionPackages}) and, of the @node-llama-cpp packages, only the
 * target's. Returns the unexpected files with the reason, and the required files that are missing.
 */
export function checkVsixFiles(files, target, production, options = {}) {
  const ownBinaries = new Set(nodeLlamaCppPackages(target, options.withCuda));
  const unexpected = [];
  // vsce's paths are relative with forward slashes; normalise anyway, so a Windows listing cannot slip through.
  files = files.map((f) => f.replace(/\\/g, "/"));
  for (const file of files) {
    const never = NEVER.find((re) => re.test(file));
    if (never) {
      unexpected.push(`${file} (matches ${never})`);
      continue;
    }
    if (!file.startsWith("node_modules/")) {
      if (!OWN_FILES.some((re) => re.test(file))) unexpected.push(`${file} (not in the allow-list)`);
      continue;
    }
    // The deepest package holding the file: node_modules/a/node_modules/@s/b/x.js → node_modules/a/node_modules/@s/b
    const pkg = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1];
    if (!pkg || !production.has(pkg)) unexpected.push(`${file} (not a production dependency)`);
    else if (pkg.startsWith("node_modules/@node-llama-cpp/") && !ownBinaries.has(pkg.split("/")[2]))
      unexpected.push(`${file} (another platform's node-llama-cpp binaries)`);
  }
  const listed = new Set(files);
  const missing = requiredFiles(target, options).filter((f) => !listed.has(f));
  return { unexpected, missing };
}
