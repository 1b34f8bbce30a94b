import { describe, expect, it } from "vitest";
import type { ModelSession } from "../../../src/core/engine/ModelSession.js";
import { JUDGE_MAX_TOKENS, PairwiseModelJudge } from "../../../src/core/pipeline/judges.js";
import { OpenAiGenerator } from "../../../src/core/pipeline/OpenAiGenerator.js";
import { EngineGenerator, type TextGenerator } from "../../../src/core/pipeline/TextGenerator.js";
import { engineRequests } from "../../../src/protocol/engineProtocol.js";

const QWEN3_ANSWER =
  "<think>\nThe user asks about B-trees. I should compare write amplification first.\n</think>\n\n" +
  "B-trees update pages in place, while LSM-trees batch writes in memory and flush sorted runs.";

/** An engine session that answers every `engine/generate` with `text` and records the params. */
function fakeSession(text: string, stopReason = "eogToken") {
  const requests: Array<Record<string, unknown>> = [];
  const session = {
    load: { modelPath: "/models/qwen3.gguf" },
    context: async () => "ctx-1",
    engine: {
      request: async (method: string, params: Record<string, unknown>) => {
        expect(method).toBe("engine/generate");
        requests.push(engineRequests["engine/generate"].params.parse(params));
        return { text, stopReason, timings: {} };
      },
    },
  } as unknown as ModelSession;
  return { session, requests };
}

const user = [{ role: "user" as const, content: "Compare B-trees and LSM-trees." }];

describe("thinking models in the pipeline", () => {
  it("the engine request defaults to allowing thoughts; the pipeline's local generator discourages them", async () => {
    const params = engineRequests["engine/generate"].params;
    expect(params.parse({ contextId: "c", messages: user }).thoughts).toBeUndefined(); // allow
    expect(params.parse({ contextId: "c", messages: user, thoughts: "discourage" }).thoughts).toBe("discourage");
    expect(params.safeParse({ contextId: "c", messages: user, thoughts: "maybe" }).success).toBe(false);

    const { session, requests } = fakeSession("An answer.");
    const generator = new EngineGenerator({ session, contextSize: 4096, threads: 1 });
    await generator.generate(user, { temperature: 0.7, maxTokens: 512, seed: 1 });
    expect(requests[0]).toMatchObject({ thoughts: "discourage", maxTokens: 512, temperature: 0.7 });
  });

  it("never returns thoughts from the local engine (templates whose thought markup the engine passes through)", async () => {
    const { session } = fakeSession(QWEN3_ANSWER);
    const out = await new EngineGenerator({ session, contextSize: 4096, threads: 1 }).generate(user, {
      temperature: 0.7,
      maxTokens: 512,
      seed: 1,
    });
    expect(out.text).toBe(
      "B-trees update pages in place, while LSM-trees batch writes in memory and flush sorted runs.",
    );
  });

  it("never returns thoughts from an OpenAI-compatible server", async () => {
    const fetch = (async () =>
      new Response(JSON.stringify({ choices: [{ message: { content: QWEN3_ANSWER } }] }), {
        status: 200,
      })) as unknown as typeof globalThis.fetch;
    const out = await new OpenAiGenerator({ baseUrl: "http://127.0.0.1:8080/v1", fetch }).generate(user, {
      temperature: 0,
      maxTokens: 16,
      seed: 1,
    });
    expect(out.text.startsWith("B-trees update pages")).toBe(true);
  });

  it("judges greedily with room for a short verdict after markup, and reads it after thoughts", async () => {
    const { session, requests } = fakeSession("<think>\nA skips step 2.\n</think>\n\n**Verdict:** B");
    const judge = new PairwiseModelJudge(new EngineGenerator({ session, contextSize: 4096, threads: 1 }));
    const out = await judge.judge({ question: "q?", answerA: "a", answerB: "b", seed: 3 });
    expect(out.verdict).toBe("B");
    expect(JUDGE_MAX_TOKENS).toBeGreaterThanOrEqual(16);
    expect(requests[0]).toMatchObject({ temperature: 0, maxTokens: JUDGE_MAX_TOKENS, thoughts: "discourage" });
  });

  it("reads a verdict a remote judge wrapped in thoughts", async () => {
    const remote: TextGenerator = {
      concurrency: 1,
      description: "test",
      generate: async () => ({ text: "<think>\nBoth fine, but B is clearer.\n</think>\n\nB", stop: "eogToken" }),
    };
    expect(
      (await new PairwiseModelJudge(remote).judge({ question: "q", answerA: "a", answerB: "b", seed: 0 })).verdict,
    ).toBe("B");
  });
});

describe("why a generation stopped", () => {
  it.each([
    ["eogToken", "eogToken"],
    ["stopGenerationTrigger", "eogToken"],
    ["maxTokens", "maxTokens"],
    ["abort", "other"],
    ["other", "other"],
  ])("engine %s → %s", async (stopReason, stop) => {
    const { session } = fakeSession("An answer cut mid-", stopReason);
    const out = await new EngineGenerator({ session, contextSize: 4096, threads: 1 }).generate(user, {
      temperature: 0.7,
      maxTokens: 512,
      seed: 1,
    });
    expect(out.stop).toBe(stop);
  });

  it.each([
    ["stop", "eogToken"],
    ["length", "maxTokens"],
    [null, "other"],
  ])("OpenAI finish_reason %s → %s", async (finish_reason, stop) => {
    const fetch = (async () =>
      new Response(JSON.stringify({ choices: [{ message: { content: "text" }, finish_reason }] }), {
        status: 200,
      })) as unknown as typeof globalThis.fetch;
    const out = await new OpenAiGenerator({ baseUrl: "http://x/v1", fetch }).generate(user, {
      temperature: 0,
      maxTokens: 16,
      seed: 1,
    });
    expect(out.stop).toBe(stop);
  });
});
