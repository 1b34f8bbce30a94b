import { describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import type { CliContext } from "../../../src/cli/CliContext.js";
import { parseTrainChats, trainCommand, trainLoss } from "../../../src/cli/commands/trainCommand.js";

const chat = (teacher?: unknown) =>
  JSON.stringify({
    messages: [
      { role: "system", content: "You are a concise assistant." },
      { role: "user", content: "What does `git rebase -i` do?" },
      { role: "assistant", content: "It replays your commits onto a new base and lets you edit, squash or drop them." },
    ],
    ...(teacher === undefined ? {} : { teacher }),
  });
const teacher = { ids: [[1, 2]], logp: [[-0.1, -2.3]] };

describe("prism train on chats", () => {
  it("defaults to sft for plain {messages} chats", () => {
    const chats = parseTrainChats(`${chat()}\n\n${chat()}\n`, "chats.jsonl");
    expect(chats.map((c) => c.line)).toEqual([1, 3]);
    expect(trainLoss(undefined, chats)).toBe("sft");
  });

  it("uses kl only when every line carries a teacher", () => {
    expect(trainLoss(undefined, parseTrainChats(`${chat(teacher)}\n${chat(teacher)}`, "d.jsonl"))).toBe("kl");
    expect(trainLoss(undefined, parseTrainChats(`${chat(teacher)}\n${chat()}`, "d.jsonl"))).toBe("sft");
  });

  it("keeps an explicit --loss (kl without teachers then fails in the trainer, naming the line)", () => {
    const plain = parseTrainChats(chat(), "d.jsonl");
    expect(trainLoss("kl", plain)).toBe("kl");
    expect(trainLoss("sft", parseTrainChats(chat(teacher), "d.jsonl"))).toBe("sft");
  });

  it("refuses another --loss before reading anything", async () => {
    const ctx: CliContext = {
      signal: new AbortController().signal,
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      engine: () => {
        throw new Error("a refused command line starts no engine");
      },
    };
    const args = ["--model", "m.gguf", "--data", "/nonexistent/chats.jsonl", "--out", "a.gguf", "--loss", "ce"];
    await expect(trainCommand(args, ctx)).rejects.toMatchObject({
      code: "cli/usage",
      message: '--loss must be one of kl, sft, got "ce".',
    });
  });

  it("names the file and line of a chat that does not end with user → assistant", () => {
    const bad = JSON.stringify({
      messages: [
        { role: "user", content: "hi" },
        { role: "user", content: "again" },
      ],
    });
    expect(() => parseTrainChats(`${chat()}\n${bad}`, "chats.jsonl")).toThrow(/chats\.jsonl, line 2/);
    expect(() => parseTrainChats("\n\n", "empty.jsonl")).toThrow(/no training chats/);
  });
});
