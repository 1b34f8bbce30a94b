import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { AppError } from "../errors.js";
import { GgufValueType } from "../gguf/ggufTypes.js";
import { getGgufValue, readGguf } from "../gguf/readGguf.js";

/**
 * Every block weight prism-trainer can adapt: split q/k/v and gate/up where an architecture has them; fused
 * `attn_qkv` (phi3 and others) and phi3's fused gate-up projection, which it stores as `ffn_up`.
 */
export const LORA_TARGETS = [
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_qkv",
  "attn_output",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
] as const;
/** A block weight a LoRA can adapt (see {@link LORA_TARGETS}). */
export type LoraTarget = (typeof LORA_TARGETS)[number];

/**
 * Why prism-trainer cannot train a LoRA on a model (the trainer's own reason codes). `model/slidingWindow` comes
 * only from trainers built before patch 0008.
 */
export type TrainerUnsupportedReason = "model/slidingWindow" | "model/recurrent" | "model/hybrid" | "model/noTargets";

/** What {@link inspectTrainerSupport} found out about a base model. */
export interface TrainerSupport {
  architecture: string;
  /** Sliding-window size of the attention; 0 = full attention (trainable either way). */
  nSwa: number;
  recurrent: boolean;
  hybrid: boolean;
  /** Adaptable weights present in blocks ≥ 1, in {@link LORA_TARGETS} order. */
  targets: LoraTarget[];
  supported: boolean;
  reason: TrainerUnsupportedReason | null;
  /** `trainer`: prism-trainer's `inspect` (llama.cpp's own reading); `gguf`: the metadata check used without it. */
  source: "trainer" | "gguf";
}

/** Options of {@link inspectTrainerSupport}. */
export interface InspectTrainerSupportOptions {
  /** The prism-trainer binary; when it does not exist the GGUF metadata is checked instead. Defaults to none. */
  trainerBinary?: string;
  signal?: AbortSignal;
}

// Used only without a trainer binary; prism-trainer asks llama.cpp, which knows every architecture.
const RECURRENT_ARCHITECTURES = new Set(["mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"]);
const HYBRID_ARCHITECTURES = new Set([
  "jamba",
  "falcon-h1",
  "plamo2",
  "granitehybrid",
  "lfm2",
  "nemotron_h",
  "qwen3next",
]);

/**
 * Can prism-trainer train a LoRA on `modelPath`, and on which weights? Asks `prism-trainer inspect` when the
 * binary has it (hyper-parameters as llama.cpp reads them, no weights loaded); otherwise reads the GGUF metadata
 * (architecture lists, `ssm`/`wkv` keys). Errors: `trainer/failed` when inspect itself fails
 * (e.g. llama.cpp cannot load the file), and the errors of `readGguf`.
 */
export async function inspectTrainerSupport(
  modelPath: string,
  options: InspectTrainerSupportOptions = {},
): Promise<TrainerSupport> {
  if (options.trainerBinary && existsSync(options.trainerBinary)) {
    const found = await inspectWithTrainer(options.trainerBinary, modelPath, options.signal);
    if (found) return found;
  }
  const gguf = await readGguf(modelPath, { signal: options.signal });
  const arch = getGgufValue(gguf, "general.architecture", GgufValueType.String) ?? "";
  // informational only: sliding-window attention trains (patch 0008); llama.cpp ignores the key for some (phi3)
  const nSwa = Number(
    getGgufValue(gguf, `${arch}.attention.sliding_window`, [GgufValueType.Uint32, GgufValueType.Int32]) ?? 0,
  );
  const hasSsm = gguf.kvs.some((kv) => kv.key.startsWith(`${arch}.ssm.`) || kv.key.startsWith(`${arch}.wkv.`));
  const recurrent = RECURRENT_ARCHITECTURES.has(arch);
  const hybrid = HYBRID_ARCHITECTURES.has(arch) || (hasSsm && !recurrent);
  const targets = presentLoraTargets(gguf.tensors.map((t) => (t.dims.length === 2 ? t.name : "")));
  const reason = unsupportedReason(recurrent, hybrid, targets);
  return { architecture: arch, nSwa, recurrent, hybrid, targets, supported: !reason, reason, source: "gguf" };
}

/** Throws a coded error naming the reason when prism-trainer cannot train on the model. */
export function assertTrainerSupport(support: TrainerSupport, modelPath: string): void {
  if (support.supported) return;
  const why: Record<TrainerUnsupportedReason, string> = {
    "model/slidingWindow": `it uses sliding-window attention (window ${support.nSwa})`,
    "model/recurrent": "it is a recurrent model",
    "model/hybrid": "it is a hybrid (attention + recurrent) model",
    "model/noTargets": `it has none of the weights a LoRA adapts (${LORA_TARGETS.join(", ")})`,
  };
  const reason = support.reason ?? "model/noTargets";
  throw new AppError(
    "engine/unsupportedArchitecture",
    `The LoRA trainer cannot train on ${modelPath} (${support.architecture}): ${why[reason]}. Its training graph ` +
      "covers attention over a KV cache only; pick another base model.",
    { component: "prism-trainer", ...support, reason },
  );
}

/** The adaptable weights named `blk.N.<target>.weight` with N ≥ 1 (block 0 is never adapted). */
export function presentLoraTargets(tensorNames: Iterable<string>): LoraTarget[] {
  const found = new Set<string>();
  for (const name of tensorNames) {
    const m = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(name);
    if (m && Number(m[1]) >= 1) found.add(m[2]!);
  }
  return LORA_TARGETS.filter((t) => found.has(t));
}

/**
 * The requested targets the model actually has. Split q/k/v map to a fused `attn_qkv`, and `ffn_gate` to a
 * fused gate-up `ffn_up`, when the model has only the fused weight; targets the model lacks are dropped.
 * Errors: `engine/unsupportedArchitecture` (reason `model/noTargets`) when nothing is left.
 */
export function resolveLoraTargets(requested: readonly LoraTarget[], present: readonly LoraTarget[]): LoraTarget[] {
  const has = new Set(present);
  const want = new Set<LoraTarget>();
  for (const t of requested) {
    if (has.has(t)) want.add(t);
    else if ((t === "attn_q" || t === "attn_k" || t === "attn_v") && has.has("attn_qkv")) want.add("attn_qkv");
    else if (t === "ffn_gate" && !has.has("ffn_gate") && has.has("ffn_up")) want.add("ffn_up");
  }
  const out = LORA_TARGETS.filter((t) => want.has(t));
  if (out.length === 0) {
    throw new AppError(
      "engine/unsupportedArchitecture",
      `None of the LoRA targets ${requested.join(", ")} exists in the base model (it has ${present.join(", ") || "none"}).`,
      { reason: "model/noTargets", requested, present },
    );
  }
  return out;
}

function unsupportedReason(
  recurrent: boolean,
  hybrid: boolean,
  targets: LoraTarget[],
): TrainerUnsupportedReason | null {
  if (recurrent) return "model/recurrent";
  if (hybrid) return "model/hybrid";
  if (targets.length === 0) return "model/noTargets";
  return null;
}

/** prism-trainer's `inspect`; undefined from a trainer too old to have it (usage error, exit code 2). */
function inspectWithTrainer(
  binary: string,
  modelPath: string,
  signal?: AbortSignal,
): Promise<TrainerSupport | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ["inspect", "--base", modelPath], { stdio: ["ignore", "pipe", "pipe"], signal });
    let out = "";
    const err: string[] = [];
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => {
      err.push(d.toString("utf8"));
      if (err.length > 40) err.shift();
    });
    child.once("error", (e) => reject(signal?.aborted ? e : new AppError("trainer/failed", e.message)));
    child.once("close", (code) => {
      const events = out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const found = events.find((e) => e.event === "inspect");
      if (code === 0 && found) {
        const present = new Set(found.targets as string[]);
        resolve({
          architecture: String(found.arch),
          nSwa: Number(found.nSwa),
          recurrent: found.recurrent === true,
          hybrid: found.hybrid === true,
          targets: LORA_TARGETS.filter((t) => present.has(t)),
          supported: found.supported === true,
          reason: (found.reason as TrainerUnsupportedReason | null) ?? null,
          source: "trainer",
        });
        return;
      }
      const error = events.find((e) => e.event === "error");
      if (code === 2 && error?.code === "usage/unknownCommand") {
        resolve(undefined);
        return;
      }
      reject(
        new AppError(
          "trainer/failed",
          `prism-trainer inspect could not read ${modelPath}: ${error ? `[${String(error.code)}] ${String(error.message)}` : `exit code ${code}`}`,
          { exitCode: code, stderr: err.join("").split("\n").slice(-30) },
        ),
      );
    });
  });
}
