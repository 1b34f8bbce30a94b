import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { readHfTokenizer } from "../src/core/gguf/readHfTokenizer.js";
import { REAL_SHAPE_MODEL_VERSION, writeRealShapeModel } from "../src/core/gguf/realShapeModel.js";
import { BENCH_MODEL, writeSyntheticModel } from "../src/core/gguf/syntheticModel.js";
import { defaultThreadCount } from "../src/core/util/defaultThreadCount.js";
import { tokenizerDir } from "../testkit/realModels.js";
import { trainerBinary } from "../testkit/trainerKit.js";

/** Median of a sample. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The bench-size generated model (~136M parameters, F16), written once into .cache/bench. */
export async function benchModelPath(): Promise<string> {
  const dir = resolve(".cache", "bench");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "bench-model.gguf");
  if (!existsSync(path)) {
    const t = performance.now();
    const info = await writeSyntheticModel(path, { ...BENCH_MODEL, seed: 1 });
    console.log(
      `generated ${path}: ${(info.parameterCount / 1e6).toFixed(0)}M parameters in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  }
  return path;
}

/** One line describing the machine, printed with every benchmark. */
export function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`;
}

/**
 * Records one benchmark's figures in bench/out/<name>.json (read by `npm run bench`, which assembles
 * bench/results.json and the Markdown table).
 */
export async function writeBenchResult(name: string, figures: Record<string, number | string | null>): Promise<void> {
  const dir = resolve("bench", "out");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const previous = existsSync(path) ? (JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>) : {};
  await writeFile(
    path,
    JSON.stringify({ ...previous, ...figures, machine: machine(), at: new Date().toISOString() }, null, 2),
  );
}

/**
 * Qwen2.5-0.5B-Instruct's exact dimensions (24 blocks, width 896, 14/2 heads of 64, FFN 4864, tied embeddings,
 * 151,936-token padded vocabulary, 32k context), with Qwen's real tokenizer and template and random weights.
 */
export const QWEN25_05B = Object.freeze({
  shape: {
    blocks: 24,
    embeddingLength: 896,
    headCount: 14,
    headCountKv: 2,
    headDim: 64,
    feedForwardLength: 4864,
    contextLength: 32_768,
    tiedEmbeddings: true,
  },
  padVocabTo: 151_936,
});

/**
 * Qwen2.5-1.5B-Instruct's exact dimensions (28 blocks, width 1536, 12/2 heads of 128, FFN 8960, tied embeddings,
 * the same vocabulary): the trainer's memory curve over model size (docs/trainer.md §12).
 */
export const QWEN25_15B = Object.freeze({
  shape: {
    blocks: 28,
    embeddingLength: 1536,
    headCount: 12,
    headCountKv: 2,
    headDim: 128,
    feedForwardLength: 8960,
    contextLength: 32_768,
    tiedEmbeddings: true,
  },
  padVocabTo: 151_936,
});

/** The real-shape benchmark models by the name BENCH_SHAPE takes. */
export const BENCH_SHAPES = Object.freeze({
  qwen05b: { label: "Qwen2.5-0.5B shape", file: "qwen2.5-0.5b-shape", ...QWEN25_05B },
  qwen15b: { label: "Qwen2.5-1.5B shape", file: "qwen2.5-1.5b-shape", ...QWEN25_15B },
});
export type BenchShape = keyof typeof BENCH_SHAPES;

/** BENCH_SHAPE as a shape name, undefined when unset; any other value is an error rather than a silent default. */
export function benchShapeFromEnv(): BenchShape | undefined {
  const name = process.env.BENCH_SHAPE;
  if (name === undefined || name === "") return undefined;
  if (!Object.hasOwn(BENCH_SHAPES, name)) {
    throw new Error(`BENCH_SHAPE=${name}: expected one of ${Object.keys(BENCH_SHAPES).join(", ")}`);
  }
  return name as BenchShape;
}

/**
 * A real-shape benchmark model (F16; 0.5B ~1 GB in ~40 s, 1.5B ~3.1 GB), written once into .cache/bench. Never
 * downloaded: speed and memory do not depend on the weights' values.
 */
export async function realShapeModelPath(name: BenchShape): Promise<string> {
  const { file, shape, padVocabTo } = BENCH_SHAPES[name];
  const dir = resolve(".cache", "bench");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${file}-f16-v${REAL_SHAPE_MODEL_VERSION}.gguf`);
  if (!existsSync(path)) {
    const t = performance.now();
    const { tokenizer, tokenizerConfig } = await readHfTokenizer(tokenizerDir("qwen2"));
    const info = await writeRealShapeModel(path, {
      fixture: "qwen2",
      tokenizer,
      tokenizerConfig,
      seed: 1,
      shape,
      padVocabTo,
    });
    console.log(
      `generated ${path}: ${(info.parameterCount / 1e6).toFixed(0)}M parameters in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  }
  return path;
}

/**
 * A real-shape benchmark model quantized to `type` (e.g. Q4_K_M, the size users download) by the bundled
 * llama-quantize (`prism-trainer quantize`), written once into .cache/bench; `F16` is the generated file itself.
 */
export async function realShapeQuantizedPath(name: BenchShape, type: string): Promise<string> {
  const f16 = await realShapeModelPath(name);
  if (type.toUpperCase() === "F16") return f16;
  const path = f16.replace("-f16-", `-${type.toLowerCase()}-`);
  if (!existsSync(path)) {
    const partial = `${path}.partial`;
    execFileSync(
      trainerBinary(),
      ["quantize", "--in", f16, "--out", partial, "--type", type, "--threads", String(defaultThreadCount())],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    renameSync(partial, path);
    console.log(`quantized ${path}`);
  }
  return path;
}

/** The 0.5B-shaped benchmark model, F16. */
export const qwen05bModelPath = (): Promise<string> => realShapeModelPath("qwen05b");

/** The 0.5B-shaped benchmark model quantized to `type`. */
export const qwen05bQuantizedPath = (type: string): Promise<string> => realShapeQuantizedPath("qwen05b", type);
