// `npm run screenshots`: copies the README's screenshots from the last VS Code suite run (`npm test` or
// `npm run test:vscode`; the suites save them in test-results/vscode/, docs/test-host.md §8) to media/screenshots/,
// to be committed with the README section that shows them. Not part of the test command: committed images change
// only when someone chooses to update them, and a test run leaves the working tree clean. The VSIX leaves them out
// (.vscodeignore); the marketplace page loads them from the repository (README "Packaging").
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

// README name → the suite's screenshot (the test that takes it). The reference world's model answers in words,
// where the generated random-weight models print gibberish, so compare panel and report come from world.test.ts.
const SHOTS = {
  workbench: ["workbench", "test/vscode/activation.test.ts"],
  "compare-panel": ["world-compare", "test/vscode/world.test.ts"],
  chat: ["chat", "test/vscode/chat.test.ts"],
  jobs: ["jobs-view", "test/vscode/jobs.test.ts"],
  report: ["world-report", "test/vscode/world.test.ts"],
};
const from = join("test-results", "vscode");
const to = join("media", "screenshots");

const missing = Object.values(SHOTS).filter(([shot]) => !existsSync(join(from, `${shot}.png`)));
if (missing.length > 0) {
  console.error(
    `screenshots: missing in ${from}: ${missing.map(([shot, test]) => `${shot}.png (${test})`).join(", ")}; ` +
      `run npm run test:vscode first`,
  );
  process.exit(1);
}
mkdirSync(to, { recursive: true });
let total = 0;
for (const [name, [shot]] of Object.entries(SHOTS)) {
  copyFileSync(join(from, `${shot}.png`), join(to, `${name}.png`));
  const size = statSync(join(to, `${name}.png`)).size;
  total += size;
  console.log(`${join(to, `${name}.png`)} ${(size / 1024).toFixed(0)} KiB`);
}
console.log(`screenshots: ${(total / 1024).toFixed(0)} KiB in ${to}`);
