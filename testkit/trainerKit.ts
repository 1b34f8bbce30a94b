/**
 * Shared helpers of the prism-trainer tests (test/model/trainer*.test.ts), bench/trainerBench.ts and the trainer
 * experiments (experiments/): the binary, cached fixtures, running the trainer and reading adapters.
 */
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join, resolve } from "node:path";
import { readGguf, type GgufFile } from "../src/core/gguf/readGguf.js";
import { writeSyntheticModel, type SyntheticModelOptions } from "../src/core/gguf/syntheticModel.js";

export const ROOT = resolve(__dirname, "..");

/** Builds prism-trainer when missing or stale (minutes on a cold cache, ~0.1 s when cached) and returns its path. */
export function trainerBinary(): string {
  execFileSync(process.execPath, [join(ROOT, "scripts/buildTrainer.mjs")], { stdio: ["ignore", "ignore", "inherit"] });
  return execFileSync(process.execPath, [join(ROOT, "scripts/buildTrainer.mjs"), "--print-path"], {
    encoding: "utf8",
  }).trim();
}

/** A directory under .cache/trainer-fixtures keyed by `key`'s content, created on first use. */
export function cacheDir(...key: unknown[]): string {
  const hash = createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16);
  const dir = join(ROOT, ".cache", "trainer-fixtures", hash);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A synthetic byte-vocabulary model (docs/trainer.md §7), generated once per option set. */
export async function byteModel(options: SyntheticModelOptions = {}): Promise<string> {
  const path = join(cacheDir("model", 1, options), "model.gguf");
  if (!existsSync(path)) {
    await writeSyntheticModel(`${path}.tmp`, { vocab: "gpt2-bytes", seed: 1, ...options });
    renameSync(`${path}.tmp`, path);
  }
  return path;
}

/** Token ids of the "gpt2-bytes" vocabulary: byte b is token b. */
export const BOS = 256;
export const EOS = 257;
export const bytes = (s: string): number[] => [...Buffer.from(s, "utf8")];

export interface TrainerSample {
  id: string;
  tokens: number[];
  answer_start: number;
  teacher?: { ids: number[][]; logp: number[][] };
}

export function writeJsonl(path: string, samples: TrainerSample[]): string {
  writeFileSync(path, samples.map((s) => JSON.stringify(s)).join("\n") + "\n");
  return path;
}

/** Deterministic PRNG (mulberry32) for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const randomWord = (r: () => number, min = 5, max = 14): string =>
  Array.from({ length: min + Math.floor(r() * (max - min + 1)) }, () =>
    String.fromCharCode(97 + Math.floor(r() * 26)),
  ).join("");

/** "Q: <word>\nA:" prompts (with BOS) and a fixed answer ending in EOS. */
export function fixedAnswerSamples(count: number, answer: string, seed = 7): TrainerSample[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const prompt = [BOS, ...bytes(`Q: ${randomWord(r)}\nA:`)];
    return { id: `s${i}`, tokens: [...prompt, ...bytes(answer), EOS], answer_start: prompt.length };
  });
}

export interface TrainerEvent {
  v: number;
  event: string;
  [key: string]: unknown;
}

export interface TrainerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: TrainerEvent[];
  stderr: string;
}

export interface RunOptions {
  /** Called for every event as it arrives; return true to SIGKILL the process, or a signal name to send it. */
  onEvent?: (e: TrainerEvent) => boolean | NodeJS.Signals | void;
  timeoutMs?: number;
}

/** Runs prism-trainer with `args`; stdout must be JSON lines only (the contract), anything else fails the run. */
export function runTrainer(binary: string, args: string[], options: RunOptions = {}): Promise<TrainerRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    const events: TrainerEvent[] = [];
    let stderr = "";
    let buffered = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let e: TrainerEvent;
        try {
          e = JSON.parse(line) as TrainerEvent;
        } catch {
          reject(new Error(`non-JSON line on stdout: ${line}`));
          return;
        }
        events.push(e);
        const action = options.onEvent?.(e);
        if (action) child.kill(action === true ? "SIGKILL" : action);
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (c: string) => {
      stderr = (stderr + c).slice(-20_000);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, events, stderr });
    });
  });
}

/** Standard arguments of a small, fast LoRA run. */
export function loraArgs(base: string, data: string, out: string, extra: string[] = []): string[] {
  return [
    "train",
    "--base",
    base,
    "--data",
    data,
    "--out",
    out,
    "--threads",
    "1",
    "--ctx",
    "256",
    "--progress-interval",
    "0",
    ...extra,
  ];
}

export const eventsOf = (run: TrainerRun, name: string): TrainerEvent[] => run.events.filter((e) => e.event === name);

/** Reads every F32 tensor of a GGUF file (adapters are small). */
export async function readF32Tensors(
  path: string,
): Promise<{ file: GgufFile; tensors: Map<string, { dims: number[]; data: Float32Array }> }> {
  const file = await readGguf(path);
  const fh = await open(path, "r");
  const tensors = new Map<string, { dims: number[]; data: Float32Array }>();
  try {
    for (const t of file.tensors) {
      if (t.type !== 0) continue;
      const buf = Buffer.alloc(t.byteSize);
      await fh.read(buf, 0, t.byteSize, file.dataOffset + t.offset);
      tensors.set(t.name, { dims: t.dims, data: new Float32Array(buf.buffer, buf.byteOffset, t.byteSize / 4) });
    }
  } finally {
    await fh.close();
  }
  return { file, tensors };
}

export const sumAbs = (a: Float32Array): number => a.reduce((s, x) => s + Math.abs(x), 0);

export function kvValue(file: GgufFile, key: string): unknown {
  const kv = file.kvs.find((k) => k.key === key);
  return kv ? ((kv.value as { value?: unknown }).value ?? kv.value) : undefined;
}

export const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));
