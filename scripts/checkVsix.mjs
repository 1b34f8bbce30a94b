// `node scripts/checkVsix.mjs [dist-vsix/prism-vscode-<target>.vsix]`: runs a packaged VSIX the way a user's machine
// does, outside the repository: unpacks it into a temp dir (no node_modules or .cache of the checkout on Node's
// resolution path) and drives its own dist/cli.mjs, which forks its own engine with the VSIX's node-llama-cpp
// binaries and spawns its own prism-trainer: version, a generated model, info, chat, chat with a LoRA and, when the
// VSIX carries a trainer, a short training run whose adapter then answers. The CLI shares the engine, core and
// trainer with the extension, so this proves the packaged native parts load and work on this machine; the
// extension's UI in an installed VSIX needs code-server (README "Packaging", installed-extension checks).
// Needs `unzip`. Exit 0 when every step passed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import { hostTarget } from "./vsixTargets.mjs";

const vsix = process.argv[2] ?? join("dist-vsix", `prism-vscode-${hostTarget()}.vsix`);
if (!existsSync(vsix)) {
  console.error(`checkVsix: ${vsix} not found; run npm run package first`);
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), "prism-vsix-check-"));
const ext = join(tmp, "extension");
let failed = 0;

// What a user's shell would have: no NODE_PATH or NODE_OPTIONS, no PRISM_* (PRISM_TRAINER would point into the
// checkout) and no npm_* of an outer npm run; the rest stays (Windows needs SystemRoot and the like).
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(NODE_PATH|NODE_OPTIONS|PRISM_.*|npm_.*)$/i.test(k)),
);

function step(name, argv, { check } = {}) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(ext, "dist", "cli.mjs"), ...argv], {
    cwd: tmp,
    encoding: "utf8",
    env: { ...env, HOME: join(tmp, "home"), TMPDIR: tmp },
    timeout: 300_000,
  });
  let why = r.status === 0 ? undefined : `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-800)}`;
  if (!why && check) why = check(r.stdout);
  console.log(`${why ? "FAIL" : "ok  "} ${name} (${Date.now() - started} ms)${why ? `\n     ${why}` : ""}`);
  if (why) failed++;
  return r.stdout;
}

try {
  // Node looks for packages in every parent's node_modules: none may exist between the temp dir and the root.
  for (let dir = tmp; dir !== parse(dir).root; dir = dirname(dir))
    if (existsSync(join(dir, "node_modules"))) throw new Error(`${dir}/node_modules would leak into the check`);
  const unzip = spawnSync("unzip", ["-q", vsix, "extension/*", "-d", tmp], { encoding: "utf8" });
  if (unzip.status !== 0) throw new Error(`unzip failed: ${unzip.error?.message ?? unzip.stderr}`);
  const { version } = JSON.parse(readFileSync(join(ext, "package.json"), "utf8"));
  const model = join(tmp, "tiny.gguf");
  const lora = join(tmp, "tiny-lora.gguf");
  const chat = ["chat", "--model", model, "--threads", "1", "--gpu", "false", "--max-tokens", "8", "--seed", "1"];

  step("prism --version", ["--version"], { check: (out) => (out.includes(version) ? undefined : `not ${version}`) });
  step("make-model", ["make-model", "--out", model, "--adapter-out", lora]);
  step("info --json", ["info", model, "--json"], {
    check: (out) => (JSON.parse(out).architecture ? undefined : "no architecture in the info"),
  });
  step("chat (CPU)", [...chat, "hello"], { check: (out) => (out.trim() ? undefined : "no answer") });
  step("chat with a LoRA", [...chat, "--adapter", lora, "hello"], {
    check: (out) => (out.trim() ? undefined : "no answer"),
  });
  if (existsSync(join(ext, "dist", "trainer", "bin"))) {
    const data = join(tmp, "chats.jsonl");
    const turn = (q, a) => ({
      messages: [
        { role: "user", content: q },
        { role: "assistant", content: a },
      ],
    });
    writeFileSync(data, [turn("hi", "hello there"), turn("2+2?", "4")].map((c) => JSON.stringify(c)).join("\n"));
    const trained = join(tmp, "trained.gguf");
    step("train (the packaged prism-trainer)", [
      "train",
      ...["--model", model, "--data", data, "--out", trained],
      ...["--epochs", "1", "--rank", "4", "--window", "256", "--threads", "1", "--gpu", "false"],
    ]);
    step("chat with the trained adapter", [...chat, "--adapter", trained, "hello"], {
      check: (out) => (out.trim() ? undefined : "no answer"),
    });
  } else console.log("skip train: this VSIX carries no trainer (--no-trainer)");
} catch (err) {
  console.error(`checkVsix: ${err instanceof Error ? err.message : String(err)}`);
  failed++;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(failed ? `checkVsix: ${failed} failed` : `checkVsix: ${vsix} works outside the repository`);
process.exit(failed ? 1 : 0);
