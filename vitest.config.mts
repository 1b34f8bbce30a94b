import { defineConfig } from "vitest/config";

// Two projects: `unit` is pure logic (fast, parallel); `model` loads generated GGUF models through the engine
// process and runs serially in forks with long timeouts (see docs: model tests use one thread each).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "webview",
          include: ["test/webview/**/*.test.ts"],
          environment: "jsdom",
        },
      },
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "model",
          include: ["test/model/**/*.test.ts"],
          environment: "node",
          pool: "forks",
          maxWorkers: 1,
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          globalSetup: ["test/model/globalSetup.ts"],
        },
      },
    ],
  },
});
