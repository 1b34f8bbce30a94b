// Builds every artefact of PRISM into dist/: `node esbuild.mjs [--production] [--watch]`.
// esbuild does not type-check; `npm run check-types` does.
import * as esbuild from "esbuild";
import { existsSync } from "node:fs";

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

/** Prints build problems in the format of the esbuild problem matcher of VS Code tasks. */
const problemMatcher = {
  name: "problem-matcher",
  setup(build) {
    build.onStart(() => console.log("[watch] build started"));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log("[watch] build finished");
    });
  },
};

const common = {
  bundle: true,
  minify: production,
  sourcemap: production ? false : "linked",
  sourcesContent: false,
  logLevel: watch ? "silent" : "warning",
  plugins: watch ? [problemMatcher] : [],
};

// Bundled CommonJS dependencies may call require() on Node built-ins; ESM output has no require of its own.
const esmRequireBanner = {
  js: "import { createRequire as __prismCreateRequire } from 'node:module'; const require = __prismCreateRequire(import.meta.url);",
};

const targets = [
  {
    ...common,
    entryPoints: ["src/extension.ts"],
    outfile: "dist/extension.js",
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["vscode"],
  },
  {
    ...common,
    entryPoints: ["src/engine/main.ts"],
    outfile: "dist/engine.mjs",
    platform: "node",
    format: "esm",
    target: "node20",
    // ESM-only with native addons and top-level await: it must be loaded from node_modules, never bundled.
    external: ["node-llama-cpp"],
    banner: esmRequireBanner,
  },
  {
    ...common,
    entryPoints: ["src/cli/main.ts"],
    outfile: "dist/cli.mjs",
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["node-llama-cpp"],
    banner: { js: `#!/usr/bin/env node\n${esmRequireBanner.js}` },
  },
];

if (existsSync("webview/main.ts")) {
  targets.push({
    ...common,
    entryPoints: ["webview/main.ts"],
    outfile: "dist/webview/main.js",
    platform: "browser",
    format: "iife",
    target: "es2022",
  });
}

if (watch) {
  const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
}
