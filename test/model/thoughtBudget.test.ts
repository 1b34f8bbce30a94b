/**
 * The mechanism behind `engine/generate`'s `thoughts: "discourage"`: node-llama-cpp's zero thought-token budget.
 * A thinking template that opens a thought at the start of the answer (Qwen 3.5's variation of the Qwen wrapper)
 * on the real-shape Qwen vocabulary: without a budget every token goes to thoughts and the answer is empty; with
 * `budgets: {thoughtTokens: 0}` — the options LlamaEngine.generate passes — the thought closes at once and the
 * tokens go to the answer. Guards the behaviour across node-llama-cpp upgrades.
 */
import { getLlama, LlamaChat, LlamaLogLevel, QwenChatWrapper, type Llama, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realModelPath } from "../../testkit/realModels.js";

let llama: Llama;
let model: LlamaModel;

beforeAll(async () => {
  llama = await getLlama({ build: "never", gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: await realModelPath("qwen2") });
}, 300_000);

afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
});

describe("a zero thought-token budget", () => {
  it("spends no tokens on thoughts, so the answer gets them all", async () => {
    const context = await model.createContext({ contextSize: 512, threads: 1 });
    try {
      const generate = async (budgets?: { thoughtTokens: number }) => {
        const chat = new LlamaChat({
          contextSequence: context.getSequence(),
          chatWrapper: new QwenChatWrapper({ variation: "3.5" }),
        });
        try {
          return await chat.generateResponse(
            [
              { type: "user", text: "Write one question." },
              { type: "model", response: [] },
            ],
            { maxTokens: 16, temperature: 0, budgets },
          );
        } finally {
          chat.dispose({ disposeSequence: true });
        }
      };
      const thinking = await generate();
      expect(thinking.response).toBe("");
      expect(thinking.fullResponse[0]).toMatchObject({ type: "segment", segmentType: "thought" });

      const discouraged = await generate({ thoughtTokens: 0 });
      expect(discouraged.response.trim().length).toBeGreaterThan(0);
      expect(discouraged.fullResponse[0]).toMatchObject({ type: "segment", segmentType: "thought", text: "" });
    } finally {
      await context.dispose();
    }
  });
});
