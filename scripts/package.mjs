// `npm run package -- [--target linux-x64] [--with-cuda] [--no-trainer | --trainer <bin/prism-trainer>]
// [--skip-checks]`: one per-platform VSIX in dist-vsix/ (README "Packaging"). node-llama-cpp installs every prebuilt
// package whose os/cpu fields match the machine; a VSIX carries only its own target's (CPU + Vulkan or Metal; CUDA
// with --with-cuda) through a generated ignore file, and its trainer (dist/trainer/{bin,lib}), which can only be
// built on the target itself. Before packaging, the file list (`vsce ls`) is checked against the allow-list of
// scripts/vsixTargets.mjs; after, the size against the target's budget. Any failure exits non-zero with the reason:
// no VSIX that would not work is produced.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import {
  VSIX_TARGETS,
  checkVsixFiles,
  hostTarget,
  ignoreFileFor,
  nodeLlamaCppPackages,
  productionPackages,
} from "./vsixTargets.mjs";

const args = process.argv.slice(2);
const target = args.includes("--target") ? args[args.indexOf("--target") + 1] : hostTarget();
const withCuda = args.includes("--with-cuda");
const withTrainer = !args.includes("--no-trainer");
const fail = (why) => {
  console.error(`package: ${why}`);
  process.exit(1);
};
// npm and npx are .cmd scripts on Windows, which spawn only through a shell.
const shell = process.platform === "win32";
const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { stdio: "inherit", shell });
  if (r.status !== 0) fail(`${cmd} ${argv.join(" ")} exited with ${r.status ?? r.signal}`);
};

/**
 * Copies the trainer's bin/ or lib/ without build markers (dotfiles). A VSIX is a zip and stores no symlinks: each
 * link would become a full copy. The loader asks only for sonames (Linux: libllama.so.0, prism-trainer's NEEDED
 * entries; macOS: the install name @rpath/libllama.0.dylib), so each soname link is stored once as a file and the
 * linker-only names (libllama.so, libllama.dylib) and the versioned files they point to (libllama.so.0.4.0) are left
 * out. Windows DLLs have no links. The release workflow's checkVsix runs the packaged trainer on each platform.
 */
function copyRuntimeFiles(from, to) {
  mkdirSync(to, { recursive: true });
  const entries = readdirSync(from, { withFileTypes: true }).filter(
    (e) => !e.name.startsWith(".") && isTrainerRuntime(e.name),
  );
  const soname = (name) => /\.so\.\d+$/.test(name) || /^[^.]+\.\d+\.dylib$/.test(name);
  const linked = new Set(
    entries.filter((e) => e.isSymbolicLink() && soname(e.name)).map((e) => realpathSync(join(from, e.name))),
  );
  for (const e of entries) {
    const path = join(from, e.name);
    if (e.isSymbolicLink() && !soname(e.name)) continue;
    if (!e.isSymbolicLink() && linked.has(realpathSync(path))) continue;
    cpSync(path, join(to, e.name), { recursive: true, dereference: true });
  }
}

/**
 * Whether a file of the trainer build belongs in the VSIX: everything but llama.cpp's llama-server and the
 * libraries only it links (llama-common, mtmd, llama-server-impl; 4.3 MB packed) — a tool for the tests and for users
 * who run a server themselves (docs/llama-server.md), which the extension never starts. GPU backend libraries
 * (libggml-cuda, -vulkan, -metal) stay: libggml loads them for the trainer.
 */
function isTrainerRuntime(name) {
  return !/^(llama-server(\.exe)?|(lib)?(llama-common|llama-server-impl|mtmd)\b.*)$/.test(name);
}

if (!target || !VSIX_TARGETS[target])
  fail(`unknown target "${target ?? ""}"; known: ${Object.keys(VSIX_TARGETS).join(", ")}`);

// The prebuilt binaries must be installed (npm installs them only where their os/cpu fields match), and at the
// version node-llama-cpp expects, or the VSIX would start its engine without a native backend.
const llamaVersion = JSON.parse(readFileSync("node_modules/node-llama-cpp/package.json", "utf8")).version;
const binaries = nodeLlamaCppPackages(target, withCuda);
const absent = binaries.filter((name) => {
  const manifest = join("node_modules", "@node-llama-cpp", name, "package.json");
  return !existsSync(manifest) || JSON.parse(readFileSync(manifest, "utf8")).version !== llamaVersion;
});
if (absent.length > 0)
  fail(
    `target ${target} needs ${absent.map((n) => `@node-llama-cpp/${n}@${llamaVersion}`).join(", ")}, not installed ` +
      `here (${hostTarget()}): npm installs these only on their own platform. Package ${target} on its native ` +
      `runner (${VSIX_TARGETS[target].runner} in .github/workflows/release.yml) after npm ci.`,
  );

// The trainer is native code for one OS and CPU: it is built here only for this machine's own target.
// --trainer <path/bin/prism-trainer> ships a build made elsewhere instead (its lib/ beside bin/), for that target.
const givenTrainer = args.includes("--trainer") ? args[args.indexOf("--trainer") + 1] : undefined;
if (givenTrainer !== undefined && !existsSync(givenTrainer ?? "")) fail(`--trainer ${givenTrainer ?? ""}: not found`);
if (withTrainer && !givenTrainer && target !== hostTarget())
  fail(
    `the trainer for ${target} can only be built on ${target} (this machine is ${hostTarget()}); package it on ` +
      `${VSIX_TARGETS[target].runner}, or pass --no-trainer for a VSIX without distillation`,
  );

// --skip-checks: for callers that just ran them (the release workflow runs `npm test` first).
if (!args.includes("--skip-checks")) {
  run("npm", ["run", "-s", "check-types"]);
  run("npm", ["run", "-s", "lint"]);
}
run(process.execPath, ["esbuild.mjs", "--production"]);

rmSync(join("dist", "trainer"), { recursive: true, force: true });
if (withTrainer) {
  // The LoRA trainer ships next to the bundle: dist/trainer/{bin,lib} (its rpath is $ORIGIN/../lib).
  let trainer = givenTrainer;
  if (!trainer) {
    run(process.execPath, ["scripts/buildTrainer.mjs"]);
    const printed = spawnSync(process.execPath, ["scripts/buildTrainer.mjs", "--print-path"], { encoding: "utf8" });
    trainer = printed.stdout.trim();
    if (printed.status !== 0 || !existsSync(trainer)) fail(`no trainer binary after the build (${trainer})`);
  }
  const trainerRoot = dirname(dirname(trainer));
  for (const sub of ["bin", "lib"])
    if (existsSync(join(trainerRoot, sub))) copyRuntimeFiles(join(trainerRoot, sub), join("dist", "trainer", sub));
} else console.log(`package: no trainer in this VSIX (--no-trainer): distillation will need prism.trainer.path`);

mkdirSync(".cache", { recursive: true });
const ignoreFile = join(".cache", `vscodeignore-${target}`);
writeFileSync(ignoreFile, ignoreFileFor(target, readdirSync("node_modules/@node-llama-cpp"), withCuda));

// README links: vsce makes relative links absolute against the repository, and refuses to package when it cannot.
// package.json names no repository (README "Packaging"): the release workflow points them at the packaged commit
// on GitHub; a local build leaves them relative (they resolve in a clone, not in the installed VSIX).
const repository = process.env.GITHUB_REPOSITORY
  ? `${process.env.GITHUB_SERVER_URL ?? "https://github.com"}/${process.env.GITHUB_REPOSITORY}`
  : undefined;
const links = repository
  ? [
      ["--baseContentUrl", `${repository}/blob/${process.env.GITHUB_SHA}`],
      ["--baseImagesUrl", `${repository}/raw/${process.env.GITHUB_SHA}`],
    ].flat()
  : ["--no-rewrite-relative-links"];
const vsceCommon = ["--ignoreFile", ignoreFile];

const listed = spawnSync("npx", ["vsce", "ls", ...vsceCommon], { encoding: "utf8", shell });
if (listed.status !== 0) fail(`vsce ls failed: ${listed.stderr}`);
const { unexpected, missing } = checkVsixFiles(
  listed.stdout.split(/\r?\n/).filter(Boolean),
  target,
  productionPackages(readFileSync("package-lock.json", "utf8")),
  { withCuda, trainer: withTrainer },
);
if (unexpected.length > 0 || missing.length > 0)
  fail(
    `the VSIX file list breaks the allow-list (scripts/vsixTargets.mjs):\n` +
      [...unexpected.map((f) => `  unexpected: ${f}`), ...missing.map((f) => `  missing: ${f}`)].join("\n"),
  );

mkdirSync("dist-vsix", { recursive: true });
const out = join("dist-vsix", `prism-vscode-${target}${withCuda ? "-cuda" : ""}.vsix`);
run("npx", [
  "vsce",
  "package",
  "--target",
  target,
  ...vsceCommon,
  "--out",
  out,
  "--allow-missing-repository",
  ...links,
]);

// dist/trainer is a copy for the VSIX only: left in place, the checkout's extension would prefer it over the
// current build (src/vscode/activateFeatures.ts) after the trainer's sources change.
rmSync(join("dist", "trainer"), { recursive: true, force: true });

const sizeMB = statSync(out).size / 1e6;
console.log(
  `package: ${out}, ${sizeMB.toFixed(1)} MB (native binaries: ${binaries.join(", ")}; trainer: ${withTrainer ? "yes" : "no"})`,
);
// The budget is for the published VSIX; a CUDA one is 500+ MB and published nowhere.
const budget = VSIX_TARGETS[target].budgetMB;
if (!withCuda && sizeMB > budget)
  fail(
    `${out} is ${sizeMB.toFixed(1)} MB, over the ${target} budget of ${budget} MB (scripts/vsixTargets.mjs, README)`,
  );
