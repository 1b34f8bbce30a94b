// `npm run package -- [--target linux-x64] [--with-cuda]`: a per-platform VSIX. node-llama-cpp installs every
// platform's prebuilt binaries (732 MB); a VSIX needs only its own platform's (CPU and Vulkan by default, CUDA with
// --with-cuda), so the other @node-llama-cpp packages are excluded through a generated ignore file.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const args = process.argv.slice(2);
const target =
  args[args.indexOf("--target") + 1] && args.includes("--target")
    ? args[args.indexOf("--target") + 1]
    : `${process.platform}-${process.arch}`;
const withCuda = args.includes("--with-cuda");
const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run("npm", ["run", "-s", "check-types"]);
run("npm", ["run", "-s", "lint"]);
run(process.execPath, ["esbuild.mjs", "--production"]);
// The LoRA trainer ships next to the bundle: dist/trainer/{bin,lib} (its rpath is $ORIGIN/../lib).
run(process.execPath, ["scripts/buildTrainer.mjs"]);
const trainer = spawnSync(process.execPath, ["scripts/buildTrainer.mjs", "--print-path"], {
  encoding: "utf8",
}).stdout.trim();
const trainerRoot = dirname(dirname(trainer));
rmSync(join("dist", "trainer"), { recursive: true, force: true });
for (const sub of ["bin", "lib"])
  cpSync(join(trainerRoot, sub), join("dist", "trainer", sub), { recursive: true, verbatimSymlinks: true });
const keep = (name) => name === target || (name.startsWith(`${target}-`) && (withCuda || !name.includes("cuda")));
const excluded = readdirSync("node_modules/@node-llama-cpp").filter((name) => !keep(name));
mkdirSync(".cache", { recursive: true });
const ignoreFile = join(".cache", `vscodeignore-${target}`);
writeFileSync(
  ignoreFile,
  `${readFileSync(".vscodeignore", "utf8")}\n${excluded.map((n) => `node_modules/@node-llama-cpp/${n}/**`).join("\n")}\n`,
);
mkdirSync("dist-vsix", { recursive: true });
const out = join("dist-vsix", `prism-vscode-${target}${withCuda ? "-cuda" : ""}.vsix`);
run("npx", [
  "vsce",
  "package",
  "--target",
  target,
  "--ignoreFile",
  ignoreFile,
  "--out",
  out,
  "--allow-missing-repository",
  "--skip-license",
]);
console.log(
  `packaged ${out} (native binaries: ${readdirSync("node_modules/@node-llama-cpp").filter(keep).join(", ")})`,
);
