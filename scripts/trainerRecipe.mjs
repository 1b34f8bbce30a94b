// How prism-trainer (and llama-server, from the same build) is built, as data: the cmake flags of the llama.cpp
// build, which of its files the trainer uses and the compiler arguments. scripts/buildTrainer.mjs runs this recipe; `buildTrainer.mjs --print-recipe` renders
// it as a shell script (renderShellRecipe) for the GPU checks on machines without node (experiments/README.md), so
// the steps are written down once.
import process from "node:process";

/**
 * Bump when the cmake recipe or the layout changes so old caches are not reused (part of the cache key).
 * 3: llama-server is built from the same configure and build tree, into bin/ next to the trainer.
 */
export const RECIPE_VERSION = 3;

/** A build that cannot go on; its message is shown without a stack. */
export class BuildError extends Error {}

/** node-llama-cpp's llama.cpp source, a git bundle: cloning it needs no network. Relative to the repository root. */
export const BUNDLE_PATH = "node_modules/node-llama-cpp/llama/gitRelease.bundle";
/** The trainer's C++ sources (relative to the repository root) and our patches to llama.cpp under it. */
export const TRAINER_SOURCE_DIR = "src/trainer";
export const PATCH_DIR = "src/trainer/patches";

/** `git apply` as the patches are applied (arguments before the patch file). */
export const GIT_APPLY_ARGS = ["apply", "--whitespace=nowarn"];
/**
 * The cmake targets: libllama with the ggml libraries it links (the trainer), and llama.cpp's own OpenAI-compatible
 * server, so that `prism serve --backend` and the distillation's `--generator` can be tested against it without a
 * second llama.cpp build (docs/llama-server.md §1). The server adds libllama-common, libmtmd and its own sources.
 */
export const CMAKE_TARGETS = ["llama", "llama-server"];
/** The server's executable in the build dir's bin/ (CMAKE_RUNTIME_OUTPUT_DIRECTORY) and in the cache's bin/. */
export const SERVER_EXE = process.platform === "win32" ? "llama-server.exe" : "llama-server";
/** Folders of the cmake build dir that hold the shared libraries (llama.cpp puts them all in bin/). */
export const LIBRARY_BUILD_DIRS = ["bin", "src", "ggml/src"];
/** The shared libraries of llama.cpp and ggml and those llama-server links (libllama-common, libmtmd), with their soname links. */
export const LIBRARY_RE = /^lib(llama|ggml|mtmd)[^/]*\.(so(\.\d+)*|dylib)$|^(llama|ggml|mtmd)[^/]*\.dll$/;
/** Source folders whose public headers the trainer compiles against. */
export const HEADER_DIRS = ["include", "ggml/include"];
/** The one internal header: it exposes the adapter's tensors so they can be marked trainable. */
export const INTERNAL_HEADER = "src/llama-adapter.h";
/** Libraries the trainer links (lib<name>.so / .dylib). */
export const LINKED_LIBRARIES = ["llama", "ggml", "ggml-base", "ggml-cpu"];

/** cmake flags that select `backend`. `cudaArch` defaults to env PRISM_TRAINER_CUDA_ARCH, else "native". */
export function backendFlags(backend, cudaArch = process.env.PRISM_TRAINER_CUDA_ARCH ?? "native") {
  switch (backend) {
    case "cpu":
      return ["-DGGML_CUDA=OFF", "-DGGML_VULKAN=OFF", "-DGGML_METAL=OFF"];
    case "cuda":
      // All architectures would multiply the build time; "native" needs a visible GPU at configure time.
      // Flash attention has no backward pass, so training never uses its kernels (the slowest part to compile).
      return ["-DGGML_CUDA=ON", `-DCMAKE_CUDA_ARCHITECTURES=${cudaArch}`, "-DGGML_CUDA_FA=OFF", "-DGGML_CUDA_NCCL=OFF"];
    case "vulkan":
      return ["-DGGML_VULKAN=ON"];
    case "metal":
      return ["-DGGML_METAL=ON", "-DGGML_METAL_EMBED_LIBRARY=ON"];
  }
  throw new BuildError(`unknown backend ${backend}`);
}

/**
 * The CPU instruction sets the build targets instead of `-march=native` (docs/trainer.md §13): a binary built on one
 * machine must run on the user's. x64: the x86-64-v3 set (AVX2, FMA, F16C, BMI2 — every x64 CPU since 2013-15,
 * llama.cpp's "haswell" variant); the trainer refuses a CPU without it with a coded error before any ggml code runs.
 * arm64: the ARMv8-A baseline. Building every variant for run-time selection (GGML_CPU_ALL_VARIANTS) would compile
 * the CPU backend ten times over, beyond the CI budget.
 */
export function cpuFlags(arch = process.arch, cpu = process.env.PRISM_TRAINER_CPU) {
  // PRISM_TRAINER_CPU=native: this machine's every instruction set (a CPU older than x86-64-v3, or AVX-512), for a
  // trainer that runs here only.
  if (cpu === "native") return ["-DGGML_NATIVE=ON"];
  if (arch === "x64") {
    return [
      "-DGGML_NATIVE=OFF",
      "-DGGML_SSE42=ON",
      "-DGGML_AVX=ON",
      "-DGGML_F16C=ON",
      "-DGGML_FMA=ON",
      "-DGGML_AVX2=ON",
      "-DGGML_BMI2=ON",
      "-DGGML_AVX512=OFF",
    ];
  }
  return ["-DGGML_NATIVE=OFF"];
}

/** The name `prism-trainer check` reports for what {@link cpuFlags} selects; main.cpp checks the CPU against it. */
export function cpuVariant(arch = process.arch, cpu = process.env.PRISM_TRAINER_CPU) {
  if (cpu === "native") return "native";
  return arch === "x64" ? "x86-64-v3" : arch === "arm64" ? "armv8-a" : `${arch}-generic`;
}

/**
 * Every cmake configure flag of the llama.cpp build (part of the cache key). The server needs the common library
 * and the tools folder (only its targets are built); it is built offline: no HTTPS (OpenSSL) and no web UI (the UI
 * would be downloaded from Hugging Face or built with npm; without it the server answers its API only). Every
 * binary and library finds the libraries in ../lib wherever the cache folder is (the trainer's rule, trainerRpath),
 * never in the build tree, which another patch set may rebuild.
 */
export function cmakeFlags(backend, cudaArch, platform = process.platform) {
  return [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=ON",
    "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON",
    `-DCMAKE_INSTALL_RPATH=${trainerRpath(platform)}`,
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_COMMON=ON",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DGGML_OPENMP_FETCH=OFF",
    ...cpuFlags(),
    ...backendFlags(backend, cudaArch),
  ];
}

/** `cmake --build` arguments after the build dir. */
export function cmakeBuildArgs(jobs) {
  return ["--config", "Release", "--target", ...CMAKE_TARGETS, "-j", String(jobs)];
}

/** Where the binary finds the libraries: ../lib next to its bin/ folder, wherever the two are copied. */
export function trainerRpath(platform = process.platform) {
  return platform === "darwin" ? "@loader_path/../lib" : "$ORIGIN/../lib";
}

/**
 * The compiler arguments of prism-trainer. `version` is what `prism-trainer --version` reports: llama.cpp release
 * and commit, backend, patch numbers.
 */
export function compileArgs({ includeDir, version, sources, libraries, platform, out }) {
  return [
    "-std=c++17",
    "-O2",
    "-Wall",
    "-Wno-unused-function",
    `-I${includeDir}`,
    `-DPRISM_LLAMA_RELEASE="${version.release}"`,
    `-DPRISM_LLAMA_COMMIT="${version.commit.slice(0, 12)}"`,
    `-DPRISM_BACKEND="${version.backend}"`,
    `-DPRISM_PATCHES="${version.patches.join(",")}"`,
    `-DPRISM_CPU_VARIANT="${cpuVariant()}"`,
    ...sources,
    ...libraries,
    `-Wl,-rpath,${trainerRpath(platform)}`,
    "-lpthread",
    "-o",
    out,
  ];
}

/** A word for sh: bare when safe, else single-quoted; `${…}` expansions stay double-quoted so the shell fills them in. */
function shellWord(arg) {
  if (arg.includes("${")) return `"${arg.replace(/["\\`]/g, "\\$&")}"`;
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

const shellLine = (args) => args.map(shellWord).join(" ");

/**
 * The recipe as a POSIX shell script for Linux, run from the repository root: the same clone, checkout, patches,
 * cmake flags, copied files and compiler arguments as buildTrainer.mjs, into `workDir`, without node and without
 * the cache key. It first checks the patches and trainer sources against the checksums it was generated from, so
 * a recipe older than the sources refuses to build. Its last output line is the binary's path.
 *
 * @param {object} r
 * @param {string} r.backend
 * @param {string} r.commit llama.cpp commit of the bundle
 * @param {string} r.release llama.cpp release tag
 * @param {{ file: string, sha256: string }[]} r.patches repository-relative, in order
 * @param {{ file: string, sha256: string }[]} r.sources the trainer's .cpp and .h files, repository-relative
 * @param {string} r.workDir repository-relative build folder
 */
export function renderShellRecipe({ backend, commit, release, patches, sources, workDir }) {
  const src = `${workDir}/src`;
  const build = `${workDir}/build`;
  const version = { release, commit, backend, patches: patches.map((p) => p.file.split("/").pop().slice(0, 4)) };
  const binary = `${workDir}/bin/prism-trainer`;
  const libGlobs = ["llama", "ggml", "mtmd"].map((n) => `lib${n}*.so*`);
  return [
    "#!/bin/sh",
    `# prism-trainer build recipe (${backend}; llama.cpp ${release} ${commit.slice(0, 12)}, patches ${version.patches.join(",")}),`,
    "# generated by `node scripts/buildTrainer.mjs --print-recipe` from scripts/trainerRecipe.mjs. Do not edit: regenerate.",
    "# Run from the repository root: sh <this file>. Env: JOBS (default nproc), CXX (default c++),",
    "# PRISM_TRAINER_CUDA_ARCH (default native). The last line printed is the binary's path.",
    "set -eu",
    '[ -d src/trainer/patches ] || { echo "run from the repository root" >&2; exit 2; }',
    "JOBS=${JOBS:-$(nproc 2>/dev/null || echo 4)}",
    'command -v sha256sum >/dev/null || { echo "the recipe needs sha256sum (coreutils)" >&2; exit 2; }',
    "# Generated from other sources than these, the recipe would build something else: refuse.",
    "sha256sum -c --quiet <<'EOF' >&2 || { echo 'sources changed since this recipe was generated: regenerate it' >&2; exit 3; }",
    ...[...patches, ...sources].map((f) => `${f.sha256}  ${f.file}`),
    "EOF",
    shellLine(["rm", "-rf", workDir]),
    shellLine(["mkdir", "-p", `${workDir}/lib`, `${workDir}/include`, `${workDir}/bin`]),
    shellLine(["git", "clone", "--quiet", BUNDLE_PATH, src]),
    shellLine(["git", "-C", src, "checkout", "--quiet", "--force", commit]),
    ...patches.map((p) => `${shellLine(["git", "-C", src, ...GIT_APPLY_ARGS])} "$PWD"/${shellWord(p.file)}`),
    'G=; if command -v ninja >/dev/null 2>&1; then G="-G Ninja"; fi',
    `${shellLine(["cmake", "-S", src, "-B", build])} $G ${shellLine(cmakeFlags(backend, "${PRISM_TRAINER_CUDA_ARCH:-native}", "linux"))}`,
    shellLine(["cmake", "--build", build, ...cmakeBuildArgs("${JOBS}")]),
    `for d in ${LIBRARY_BUILD_DIRS.map((d) => shellWord(`${build}/${d}`)).join(" ")}; do`,
    `  for f in ${libGlobs.map((g) => `"$d"/${g}`).join(" ")}; do`,
    '    [ -e "$f" ] || [ -L "$f" ] || continue',
    `    to=${shellWord(`${workDir}/lib`)}/$(basename "$f")`,
    '    [ -e "$to" ] || [ -L "$to" ] || cp -P "$f" "$to"',
    "  done",
    "done",
    ...HEADER_DIRS.map((d) => `cp ${shellWord(`${src}/${d}`)}/*.h ${shellWord(`${workDir}/include/`)}`),
    shellLine(["cp", `${src}/${INTERNAL_HEADER}`, `${workDir}/include/`]),
    shellLine(["cp", `${build}/bin/llama-server`, `${workDir}/bin/`]),
    `"\${CXX:-c++}" ${shellLine(
      compileArgs({
        includeDir: `${workDir}/include`,
        version,
        sources: sources.map((s) => s.file).filter((f) => f.endsWith(".cpp")),
        libraries: LINKED_LIBRARIES.map((n) => `${workDir}/lib/lib${n}.so`),
        platform: "linux",
        out: binary,
      }),
    )}`,
    shellLine(["echo", binary]),
    "",
  ].join("\n");
}
