// The extensionTestsPath entry of the VS Code integration tests (compiled to out/test/vscode/index.js by
// scripts/testVscode.mjs). VS Code calls run() inside the extension host; it runs every compiled
// out/test/vscode/**/*.test.js with mocha (TDD UI) and rejects when a test fails (exit code 1).
//
// mocha comes from test-host/node_modules (the test host's own package), resolved from the repository root.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

interface MochaRunner {
  on(event: "end", fn: () => void): void;
}
interface MochaInstance {
  addFile(file: string): void;
  run(done: (failures: number) => void): MochaRunner;
}
type MochaConstructor = new (options: Record<string, unknown>) => MochaInstance;

function findTests(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...findTests(path));
    else if (entry.name.endsWith(".test.js")) files.push(path);
  }
  return files.sort();
}

export function run(): Promise<void> {
  // out/test/vscode/index.js → the repository root is three levels up.
  const repoRoot = resolve(__dirname, "../../..");
  const requireFromHost = createRequire(join(repoRoot, "test-host", "package.json"));
  const Mocha = requireFromHost("mocha") as MochaConstructor;
  const grep = process.env.PRISM_VSCODE_GREP;
  const mocha = new Mocha({
    ui: "tdd",
    timeout: 60_000,
    color: !!process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0",
    ...(grep ? { grep } : {}),
  });
  for (const file of findTests(__dirname)) mocha.addFile(file);
  return new Promise((resolvePromise, reject) => {
    try {
      mocha.run((failures) => {
        if (failures > 0) reject(new Error(`${failures} test${failures === 1 ? "" : "s"} failed.`));
        else resolvePromise();
      });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
