import { join } from "node:path";
import { createRouter } from "../../core/routing/createRouter.js";
import { RoutingLog } from "../../core/routing/RoutingLog.js";
import { isLoopbackHost } from "../../core/serve/isLoopbackHost.js";
import { LlamaServerBackend } from "../../core/serve/LlamaServerBackend.js";
import { LocalChatBackend } from "../../core/serve/LocalChatBackend.js";
import { startServer } from "../../core/serve/startServer.js";
import { UsageError } from "../CliContext.js";
import { openBundle } from "../openBundle.js";
import { choiceOption, intOption, numberOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import {
  BUNDLE_MODEL_OPTION,
  BUNDLE_OPTION,
  contextOption,
  ENGINE_OPTIONS,
  maxTokensOption,
  MODEL_CONTEXT_DEFAULT,
} from "../options/commonOptions.js";

/** Where the API key comes from when `--api-key` is not given (keys in argv are visible to every local user). */
const API_KEY_ENV = "PRISM_API_KEY";
/** The bearer token for a `--backend` server started with `--api-key` (never on the command line, as above). */
const BACKEND_KEY_ENV = "PRISM_BACKEND_API_KEY";

/** `prism serve`: the routed model as an OpenAI-compatible HTTP endpoint (docs/serve.md). */
export const serveCommand = cliCommand(
  {
    name: "serve",
    summary: "serve a bundle's routed model as an OpenAI-compatible endpoint (/v1/chat/completions)",
    description:
      "Serves GET /v1/models and POST /v1/chat/completions (streaming or not) until Ctrl-C. Model prism is " +
      "routed: the gate decides on the conversation's first user turn; prism-base and prism-persona force a " +
      "side. The decision comes back in the x-prism-route header and the prism field (docs/serve.md). A host " +
      `other than loopback needs an API key (--api-key or $${API_KEY_ENV}); clients then send ` +
      "Authorization: Bearer <key>. Prints the base URL on stdout once it listens.",
    options: {
      bundle: BUNDLE_OPTION,
      model: BUNDLE_MODEL_OPTION,
      host: stringOption({ valueName: "<address>", description: "the interface to listen on", default: "127.0.0.1" }),
      port: intOption({ description: "the TCP port; 0 picks a free one", min: 0, max: 65_535, default: 8080 }),
      "api-key": stringOption({
        valueName: "<key>",
        description: "require Authorization: Bearer <key> on every request",
        defaultText: `$${API_KEY_ENV}, else none`,
      }),
      mode: choiceOption({
        description: "how model prism routes: hard (adapter iff p ≥ threshold) or soft (adapter scale p)",
        choices: ["hard", "soft"] as const,
        default: "hard",
      }),
      parallel: intOption({
        description: "requests generated at once per side (sequences of one context); more wait their turn",
        min: 1,
        max: 16,
        default: 1,
      }),
      "max-tokens": maxTokensOption({ max: 1_048_576, default: 512, defaultText: "512, for requests that name none" }),
      temperature: numberOption({
        valueName: "T",
        description: "sampling temperature when a request names none; 0 is greedy",
        min: 0,
        max: 2,
        default: 0,
      }),
      ...ENGINE_OPTIONS,
      context: contextOption({ min: 256, defaultText: MODEL_CONTEXT_DEFAULT }),
      log: stringOption({ valueName: "<file.jsonl>", description: "append a routing record per request to this log" }),
      backend: stringOption({
        valueName: "<url>",
        description:
          "generate on this llama-server, started with the bundle's adapter (--lora <adapter.gguf> " +
          `--lora-init-without-apply; key in $${BACKEND_KEY_ENV}); the gate still runs here (docs/llama-server.md)`,
        defaultText: "the local engine",
      }),
    },
  },
  async ({ values: v }, ctx) => {
    const apiKey = v["api-key"] ?? (process.env[API_KEY_ENV] || undefined);
    if (!isLoopbackHost(v.host) && !apiKey)
      throw new UsageError(
        `--host ${v.host} is reachable from other machines: it needs --api-key (or $${API_KEY_ENV}).`,
      );
    if (v.backend !== undefined && !/^https?:\/\/[^/]/.test(v.backend))
      throw new UsageError(`--backend must be an http(s) URL of a llama-server; got "${v.backend}".`);
    const { signal } = ctx;
    const { bundle, session } = await openBundle(ctx.engine(), v.bundle, {
      model: v.model,
      threads: v.threads,
      gpu: v.gpu,
      signal,
    });
    const info = await session.model(signal);
    const contextSize = v.context ?? Math.min(info.contextLength || 4096, 4096);
    const log = v.log ? new RoutingLog(v.log) : undefined;
    const router = createRouter({
      session,
      bundle,
      featureCacheDir: join(bundle.dir, ".cache"),
      contextSize,
      threads: v.threads,
      gpu: v.gpu,
      log,
    });
    // With --backend the adapter's scale goes to llama-server in each request's `lora` field (soft mode: p itself).
    const backend = v.backend
      ? new LlamaServerBackend({ url: v.backend, apiKey: process.env[BACKEND_KEY_ENV] || undefined })
      : new LocalChatBackend({
          session,
          adapterPath: bundle.adapterPath,
          contextSize,
          threads: v.threads,
          parallel: v.parallel,
        });
    // The gate's feature model and both contexts load now, so the first request is not the slow one.
    await router.decide("warm-up", signal);
    await backend.prepare(signal);
    const server = await startServer({
      host: v.host,
      port: v.port,
      apiKey,
      gate: router,
      backend,
      mode: v.mode,
      log,
      maxTokens: v["max-tokens"],
      temperature: v.temperature,
      onError: (err) => ctx.stderr.write(`serve: ${err instanceof Error ? err.message : String(err)}\n`),
    });
    ctx.stderr.write(
      `prism serve: bundle ${bundle.manifest.name} on ${info.path}, models prism (${v.mode}), prism-base, ` +
        `prism-persona${apiKey ? ", API key required" : ""}, generated by the ${backend.description}; Ctrl-C stops\n`,
    );
    ctx.stdout.write(`${server.baseUrl}\n`);
    try {
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    } finally {
      await server.close();
    }
    ctx.stderr.write("prism serve: stopped\n");
  },
);
