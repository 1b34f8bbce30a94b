/**
 * Writes the inputs of experiments/trainerGpuCheck.sh into .cache/gpu-check/: a 4-block, n_embd 512 F16 byte-vocabulary
 * model (~19 MB, small enough to travel to a GPU machine with the source bundle) and 64 training samples.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeSyntheticModel } from "../src/core/gguf/syntheticModel.js";
import { BOS, EOS, ROOT, bytes, randomWord, rng, writeJsonl } from "../testkit/trainerKit.js";

async function main(): Promise<void> {
  const dir = join(ROOT, ".cache", "gpu-check");
  mkdirSync(dir, { recursive: true });
  await writeSyntheticModel(join(dir, "model-f16.gguf"), {
    blocks: 4,
    embeddingLength: 512,
    headCount: 8,
    headCountKv: 4,
    feedForwardLength: 1024,
    contextLength: 2048,
    weightType: "f16",
    vocab: "gpt2-bytes",
    seed: 1,
  });
  const r = rng(3);
  writeJsonl(
    join(dir, "data.jsonl"),
    Array.from({ length: 64 }, (_, i) => {
      const prompt = [BOS, ...bytes(`Q: ${randomWord(r, 40, 120)} ${randomWord(r, 40, 120)}\nA:`)];
      return {
        id: `g${i}`,
        tokens: [...prompt, ...bytes(` ${randomWord(r, 60, 160)}.`), EOS],
        answer_start: prompt.length,
      };
    }),
  );
  console.log(dir);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
