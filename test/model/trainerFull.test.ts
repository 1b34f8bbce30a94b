/**
 * Full fine-tuning (`--mode full`): every F32 tensor trains (token_embd too with --train-embeddings), the whole
 * model is saved with llama_model_save_to_file, keeps its real context length, and loads in node-llama-cpp.
 * A later issue pre-trains small models from scratch with this mode; docs/trainer.md §7 uses it to make a
 * random fixture base less random.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BOS,
  EOS,
  byteModel,
  bytes,
  eventsOf,
  fixedAnswerSamples,
  kvValue,
  loraArgs,
  readF32Tensors,
  runTrainer,
  trainerBinary,
  writeJsonl,
  type TrainerRun,
} from "../../testkit/trainerKit.js";

let bin = "";
let base = "";
let dir = "";
let run: TrainerRun;
const out = () => join(dir, "full.gguf");

beforeAll(async () => {
  bin = trainerBinary();
  base = await byteModel({ blocks: 2, contextLength: 1024 });
  dir = mkdtempSync(join(tmpdir(), "prism-trainer-full-"));
  const data = writeJsonl(join(dir, "corpus.jsonl"), fixedAnswerSamples(200, " banana42"));
  run = await runTrainer(
    bin,
    loraArgs(base, data, out(), [
      "--mode",
      "full",
      "--train-embeddings",
      "--loss",
      "sft-all",
      "--epochs",
      "4",
      "--lr",
      "1e-3",
    ]),
  );
}, 15 * 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("prism-trainer f32-copy and F16 bases", () => {
  it("dequantises an F16 base into an all-F32 training copy", async () => {
    const f16 = await byteModel({ blocks: 2, weightType: "f16" });
    const copy = join(dir, "copy-f32.gguf");
    const run = await runTrainer(bin, ["f32-copy", "--in", f16, "--out", copy, "--threads", "1"]);
    expect(run.code, run.stderr.slice(-1000)).toBe(0);
    expect(eventsOf(run, "saved")[0]).toMatchObject({ path: copy });
    const { file } = await readF32Tensors(copy);
    expect(file.tensors.every((t) => t.type === 0)).toBe(true);
  });

  it("trains a LoRA on an F16 base (CPU OUT_PROD through converted weights, patch 0005)", async () => {
    const f16 = await byteModel({ blocks: 2, weightType: "f16" });
    const data = writeJsonl(join(dir, "f16.jsonl"), fixedAnswerSamples(100, " plum"));
    const run = await runTrainer(
      bin,
      loraArgs(f16, data, join(dir, "f16-lora.gguf"), ["--epochs", "5", "--lr", "2e-3"]),
    );
    expect(run.code, run.stderr.slice(-1000)).toBe(0);
    const epochs = eventsOf(run, "epoch").map((e) => e.loss as number);
    expect(epochs.at(-1)!).toBeLessThan(0.3 * epochs[0]!);
  });
});

describe("prism-trainer --mode full", () => {
  it("trains every tensor, token_embd included, and lowers the loss", async () => {
    expect(run.code, run.stderr.slice(-1500)).toBe(0);
    const start = run.events[0]!;
    const { tensors: before } = await readF32Tensors(base);
    const all = [...before.values()].reduce((n, t) => n + t.data.length, 0);
    expect(start).toMatchObject({ mode: "full", trainableParams: all });
    const epochs = eventsOf(run, "epoch").map((e) => e.loss as number);
    expect(epochs.at(-1)!).toBeLessThan(0.75 * epochs[0]!);
    const { tensors: after } = await readF32Tensors(out());
    for (const name of ["token_embd.weight", "blk.0.attn_k.weight", "blk.1.ffn_down.weight", "output.weight"]) {
      expect(Buffer.from(after.get(name)!.data.buffer).equals(Buffer.from(before.get(name)!.data.buffer)), name).toBe(
        false,
      );
    }
  });

  it("keeps the model's own context length and the metadata llama.cpp's saver drops (chat template)", async () => {
    const { file } = await readF32Tensors(out());
    expect(kvValue(file, "llama.context_length")).toBe(1024);
    expect(kvValue(file, "general.architecture")).toBe("llama");
    // Without its template a trained model is prompted as Llama 2 chat by node-llama-cpp, not as it was trained.
    const { file: baseFile } = await readF32Tensors(base);
    expect(kvValue(file, "tokenizer.chat_template")).toBe(kvValue(baseFile, "tokenizer.chat_template"));
    expect(String(kvValue(file, "tokenizer.chat_template"))).toContain("<|im_start|>");
  });

  it("saves a model that node-llama-cpp loads and that continues the trained pattern", async () => {
    const { getLlama } = await import("node-llama-cpp");
    const llama = await getLlama({ build: "never", gpu: false, maxThreads: 1, logLevel: "error" as never });
    try {
      const model = await llama.loadModel({ modelPath: out() });
      expect(model.trainContextSize).toBe(1024);
      const ctx = await model.createContext({ contextSize: 256, threads: 1 });
      const toks: number[] = [];
      for await (const t of ctx.getSequence().evaluate([BOS, ...bytes("Q: zebra\nA:")] as never, { temperature: 0 })) {
        if ((t as number) === EOS || toks.length >= 5) break;
        toks.push(t as number);
      }
      expect(Buffer.from(toks).toString("latin1")).toBe(" bana");
    } finally {
      await llama.dispose();
    }
    expect(readFileSync(out()).subarray(0, 4).toString()).toBe("GGUF");
  });
});
