import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { writeFixtures, type Fixtures } from "../../testkit/writeFixtures.js";

/**
 * Builds dist/ (the tests fork the real dist/engine.mjs and dist/cli.mjs) and writes the generated GGUF
 * fixtures once per run into test-results/fixtures.
 */
export async function setup(project: TestProject): Promise<void> {
  execFileSync(process.execPath, ["esbuild.mjs"], { stdio: "inherit" });
  const dir = join(process.cwd(), "test-results", "fixtures");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fixtures = await writeFixtures(dir);
  project.provide("fixtures", fixtures);
}

declare module "vitest" {
  export interface ProvidedContext {
    fixtures: Fixtures;
  }
}
