// ESLint is for correctness only (style is Prettier's). Import boundaries: docs/architecture.md §2.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const restrict = (patterns) => ({ "no-restricted-imports": ["error", { patterns }] });

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "test-results/**", ".cache/**", "test-host/**", "out/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    files: ["scripts/**/*.mjs", "esbuild.mjs", "eslint.config.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: restrict([
      { group: ["vscode"], message: "core/ is vscode-free." },
      { group: ["node-llama-cpp"], message: "Only src/engine imports node-llama-cpp." },
      {
        group: ["**/vscode/**", "**/engine/main*", "**/engine/LlamaEngine*", "**/cli/**"],
        message: "core/ must not depend on outer layers.",
      },
    ]),
  },
  {
    files: ["src/protocol/**/*.ts"],
    rules: restrict([
      { group: ["vscode", "node-llama-cpp", "node:*"], message: "protocol/ is pure types and helpers." },
      {
        group: ["**/core/**", "**/vscode/**", "**/engine/**", "**/cli/**"],
        message: "protocol/ imports only protocol/.",
      },
    ]),
  },
  {
    files: ["src/engine/**/*.ts"],
    rules: restrict([
      { group: ["vscode"], message: "The engine process never imports vscode." },
      {
        regex: "(^|/)core/(?!gguf/|errors)",
        message: "engine/ imports only protocol/, the pure GGUF reader in core/gguf and node-llama-cpp.",
      },
      { group: ["**/vscode/**", "**/cli/**"], message: "engine/ imports only protocol/ (and node-llama-cpp)." },
    ]),
  },
  {
    files: ["webview/**/*.ts"],
    rules: restrict([
      { group: ["vscode", "node:*", "node-llama-cpp"], message: "The webview runs in a browser." },
      {
        group: ["**/src/core/**", "**/src/vscode/**", "**/src/engine/**", "**/src/cli/**"],
        message: "webview/ imports only src/protocol.",
      },
    ]),
  },
  // Test support is shared through testkit/ only (docs/architecture.md §7): test/, bench/ and experiments/ import
  // testkit/ and src/, never one another, and testkit/ imports none of them.
  {
    files: ["test/**/*.{ts,mts}"],
    rules: restrict([
      {
        regex: "(^|/)(bench|experiments)/",
        message: "test/ shares code with bench/ and experiments/ only through testkit/.",
      },
    ]),
  },
  {
    files: ["bench/**/*.{ts,mts}"],
    rules: restrict([
      {
        regex: "(^|/)(test|experiments)/",
        message: "bench/ shares code with test/ and experiments/ only through testkit/.",
      },
    ]),
  },
  {
    files: ["experiments/**/*.{ts,mts}"],
    rules: restrict([
      { regex: "(^|/)(test|bench)/", message: "experiments/ share code with test/ and bench/ only through testkit/." },
    ]),
  },
  {
    files: ["testkit/**/*.{ts,mts}"],
    rules: restrict([
      {
        regex: "(^|/)(test|bench|experiments)/",
        message: "testkit/ is what test/, bench/ and experiments/ share: it imports only src/.",
      },
    ]),
  },
  {
    files: ["src/vscode/**/*.ts", "src/extension.ts", "src/cli/**/*.ts"],
    rules: restrict([{ group: ["node-llama-cpp"], message: "Only src/engine imports node-llama-cpp." }]),
  },
  {
    files: ["src/cli/**/*.ts"],
    rules: restrict([
      { group: ["vscode"], message: "The CLI never imports vscode." },
      { group: ["node-llama-cpp"], message: "Only src/engine imports node-llama-cpp." },
    ]),
  },
);
