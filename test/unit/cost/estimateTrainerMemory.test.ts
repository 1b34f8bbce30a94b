import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatTrainerMemory } from "../../../src/core/cost/estimateDistillation.js";
import {
  countTrainableParameters,
  estimateTrainerPeakBytes,
  readTrainerShape,
  type TrainerShape,
} from "../../../src/core/cost/estimateTrainerMemory.js";
import { readGguf } from "../../../src/core/gguf/readGguf.js";
import { writeSyntheticModel } from "../../../src/core/gguf/syntheticModel.js";

const SEVEN = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

/** The block matrices of a qwen2-layout model, dims in ggml order ([in, out]). */
function qwenTensors(blocks: number, width: number, kvWidth: number, ffn: number) {
  const tensors = [{ name: "token_embd.weight", dims: [width, 151_936] }];
  for (let b = 0; b < blocks; b++) {
    const m = (t: string, dims: number[]) => tensors.push({ name: `blk.${b}.${t}.weight`, dims });
    m("attn_norm", [width]);
    m("attn_q", [width, width]);
    m("attn_k", [width, kvWidth]);
    m("attn_v", [width, kvWidth]);
    m("attn_output", [width, width]);
    m("ffn_gate", [width, ffn]);
    m("ffn_up", [width, ffn]);
    m("ffn_down", [ffn, width]);
  }
  return { tensors: tensors as never };
}

const Q05 = { blocks: 24, embeddingLength: 896, feedForwardLength: 4864, headCount: 14, vocabSize: 151_936 };
const Q15 = { blocks: 28, embeddingLength: 1536, feedForwardLength: 8960, headCount: 12, vocabSize: 151_936 };

describe("countTrainableParameters", () => {
  it("counts what prism-trainer reports for r16 on the seven projections of blocks 1 and up", () => {
    // the `start` events of `bench:trainer` on the two shapes (docs/trainer.md §12)
    expect(countTrainableParameters(qwenTensors(24, 896, 128, 4864), { targets: SEVEN, rank: 16 }, 1, 24)).toBe(
      8_431_616,
    );
    expect(countTrainableParameters(qwenTensors(28, 1536, 256, 8960), { targets: SEVEN, rank: 16 }, 1, 28)).toBe(
      17_805_312,
    );
  });

  it("counts a fused attn_qkv once for q, k and v and nothing for a gate fused into ffn_up", () => {
    const tensors = [
      { name: "blk.0.attn_qkv.weight", dims: [64, 192] },
      { name: "blk.0.ffn_up.weight", dims: [64, 512] },
      { name: "blk.1.attn_qkv.weight", dims: [64, 192] },
      { name: "blk.1.ffn_up.weight", dims: [64, 512] },
    ];
    const file = { tensors: tensors as never };
    expect(countTrainableParameters(file, { targets: SEVEN, rank: 4 }, 1, 2)).toBe(4 * (64 + 192) + 4 * (64 + 512));
    expect(countTrainableParameters(file, { targets: ["attn_q"], rank: 4 }, 0, 2)).toBe(2 * 4 * (64 + 192));
  });
});

describe("estimateTrainerPeakBytes", () => {
  // Peak RSS measured by `bench:trainer` (Q4_K_M files, 3 steps, sft; docs/trainer.md §12), with the output rows
  // the trainer reported for the window.
  const s05: TrainerShape = { ...Q05, fileBytes: 397_805_440, firstBlock: 1, trainableParameters: 8_431_616 };
  const s15: TrainerShape = { ...Q15, fileBytes: 986_046_016, firstBlock: 1, trainableParameters: 17_805_312 };
  const measured: [string, TrainerShape, number, number, number][] = [
    ["0.5B w512", s05, 512, 385, 2_208e6],
    ["0.5B w768", s05, 768, 528, 3_201e6],
    ["0.5B w1024", s05, 1024, 745, 4_411e6],
    ["1.5B w512", s15, 512, 385, 4_124e6],
    ["1.5B w768", s15, 768, 528, 5_653e6],
    ["1.5B w1024", s15, 1024, 745, 7_411e6],
  ];
  it.each(measured)("%s: within 0 … +5 %% of the measured peak", (_name, shape, window, rows, peak) => {
    const estimate = estimateTrainerPeakBytes(shape, window, rows);
    expect(estimate / peak).toBeGreaterThanOrEqual(1);
    expect(estimate / peak).toBeLessThan(1.05);
  });

  it("is an upper bound without the output rows, grows with the window and drops with protected blocks", () => {
    const shape = s05;
    expect(estimateTrainerPeakBytes(shape, 768)).toBeGreaterThan(estimateTrainerPeakBytes(shape, 768, 528));
    expect(estimateTrainerPeakBytes(shape, 1024)).toBeGreaterThan(estimateTrainerPeakBytes(shape, 768));
    expect(estimateTrainerPeakBytes({ ...shape, firstBlock: 12 }, 768)).toBeLessThan(
      estimateTrainerPeakBytes(shape, 768),
    );
  });
});

describe("readTrainerShape", () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads the shape from a model's header and counts the LoRA it would train", async () => {
    dir = await mkdtemp(join(tmpdir(), "prism-trainer-shape-"));
    const path = join(dir, "tiny.gguf");
    await writeSyntheticModel(path);
    const file = await readGguf(path);
    const shape = await readTrainerShape(path, { targets: SEVEN, rank: 8 }, 1);
    const embd = file.tensors.find((t) => t.name === "token_embd.weight")!;
    expect(shape.fileBytes).toBe(file.fileSize);
    expect(shape.vocabSize).toBe(embd.dims[1]);
    expect(shape.embeddingLength).toBe(embd.dims[0]);
    expect(shape.blocks).toBeGreaterThan(1);
    expect(shape.headCount).toBeGreaterThan(0);
    expect(shape.feedForwardLength).toBeGreaterThan(0);
    expect(shape.trainableParameters).toBe(
      countTrainableParameters(file, { targets: SEVEN, rank: 8 }, 1, shape.blocks),
    );
    expect(shape.trainableParameters).toBeGreaterThan(0);
  });
});

describe("formatTrainerMemory", () => {
  it("names the window and the machine, and warns when the trainer needs more than 80 % of it", () => {
    const fits = formatTrainerMemory({ trainerPeakBytes: 3.3e9, window: 768, machineBytes: 24e9 });
    expect(fits).toBe("LoRA trainer: up to ~3.3 GB of memory at a 768-token window (this machine has 24.0 GB)");
    const tight = formatTrainerMemory({ trainerPeakBytes: 7.4e9, window: 1024, machineBytes: 8e9 });
    expect(tight).toMatch(/^LoRA trainer: up to ~7\.4 GB .*1024-token window .*8\.0 GB\): more than it can spare;/);
  });
});
