import { existsSync, mkdirSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { BENCH_MODEL, writeSyntheticModel } from "../src/core/gguf/syntheticModel.js";

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
