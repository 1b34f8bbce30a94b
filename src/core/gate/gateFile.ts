/**
 * The `gate.json` format: a trained gate's weights and normalisation statistics, its threshold, what feature it
 * reads, the base model it is bound to (docs/method.md §3.4, "Validity") and its training metrics.
 *
 * On disk it is one JSON object: the small fields first, pretty-printed so `head gate.json` shows them, then the
 * number arrays (`mean`, `std`, `w1`, `b1`, `w2`, `b2`, `w3`), one compact line each, values written with nine
 * significant digits, which round-trip float32 exactly.
 */
import { readFile } from "node:fs/promises";
import * as z from "zod";
import { AppError } from "../errors.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import { GATE_WEIGHT_ARRAYS, gateWeightsProblem, type GateWeights } from "./Gate.js";
import type { GateMetrics } from "./gateMetrics.js";
import { GATE_ACTIVATIONS } from "./gelu.js";

/** The only `schemaVersion` this code reads and writes. */
export const GATE_FILE_SCHEMA_VERSION = 1;

/** A gate file's contents in memory. */
export interface GateFile {
  /** The gate's weights and normalisation statistics. */
  weights: GateWeights;
  /** Decision threshold: the adapter is used iff the gate's probability is `≥ threshold`. */
  threshold: number;
  /** How the feature is computed, as opaque JSON from the caller, e.g. `{source: "layer", layer: 1, pooling: "last"}`. */
  featureSpec: unknown;
  /** Fingerprint of the base GGUF the features came from; the gate is refused against any other model. */
  baseModelFingerprint: string;
  /** Training metrics. */
  metrics: GateMetrics;
  /** When the gate was trained, ISO 8601. */
  createdAt: string;
}

/** What {@link readGateFile} checks the file against, when given. */
export interface GateFileExpectation {
  /** The feature width of the current model; a different `inputSize` is `gate/wrongWidth`. Defaults to unchecked. */
  inputSize?: number;
  /** The current base model's fingerprint; a different one is `gate/modelMismatch`. Defaults to unchecked. */
  baseModelFingerprint?: string;
}

/** Options of {@link readGateFile} and {@link writeGateFile}. */
export interface GateFileOptions {
  /** Cancels before the file is touched. Defaults to none. */
  signal?: AbortSignal;
}

const unit = z.number().min(0).max(1);
const count = z.int().min(0);
const splitMetricsSchema = z.object({
  n: count,
  positives: count,
  accuracy: unit,
  balancedAccuracy: unit,
  auc: unit.nullable(),
  loss: z.number().min(0),
  balancedLoss: z.number().min(0),
  confusion: z.object({ tp: count, fp: count, tn: count, fn: count }),
});
const metricsSchema = z.object({
  train: splitMetricsSchema,
  validation: splitMetricsSchema,
  bestEpoch: count,
  epochsRun: count,
  threshold: unit,
  bestThreshold: unit,
});
// z.number() rejects NaN, ±Infinity and null, so a `null` smuggled into an array (JSON's stand-in for NaN) fails.
const numbers = z.array(z.number());
const diskSchema = z.object({
  schemaVersion: z.literal(GATE_FILE_SCHEMA_VERSION),
  inputSize: z.int().min(1),
  hidden: z.tuple([z.int().min(1), z.int().min(1)]),
  activation: z.enum(GATE_ACTIVATIONS),
  threshold: unit,
  featureSpec: z.json(),
  baseModelFingerprint: z.string().min(1),
  createdAt: z.iso.datetime({ offset: true }),
  metrics: metricsSchema,
  mean: numbers,
  std: numbers,
  w1: numbers,
  b1: numbers,
  w2: numbers,
  b2: numbers,
  w3: numbers,
  b3: z.number(),
});
type DiskGateFile = z.infer<typeof diskSchema>;

/**
 * Reads and validates a gate file, optionally against the current model.
 *
 * @throws AppError, the message naming the file and the problem: `gate/notFound`; `gate/invalid` (unreadable, not
 *   JSON, a missing or mistyped field, a non-finite or `null` number, an array whose length does not match the
 *   declared sizes — the message names the array); `gate/unsupportedSchema` (another `schemaVersion`);
 *   `gate/wrongWidth` (`inputSize` ≠ `expected.inputSize`); `gate/modelMismatch` (fingerprint ≠ expected).
 */
export async function readGateFile(
  path: string,
  expected: GateFileExpectation = {},
  options: GateFileOptions = {},
): Promise<GateFile> {
  options.signal?.throwIfAborted();
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new AppError("gate/notFound", `No gate file at ${path}.`, undefined, { cause: err });
    }
    throw new AppError("gate/invalid", `Cannot read gate file ${path}: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError("gate/invalid", `Gate file ${path} is not valid JSON: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
  const version =
    json !== null && typeof json === "object" ? (json as { schemaVersion?: unknown }).schemaVersion : undefined;
  if (typeof version === "number" && version !== GATE_FILE_SCHEMA_VERSION) {
    throw new AppError(
      "gate/unsupportedSchema",
      `Gate file ${path} has schemaVersion ${version}; this version of PRISM reads only ${GATE_FILE_SCHEMA_VERSION}.`,
      { schemaVersion: version },
    );
  }
  const disk = parseDisk(json, `Gate file ${path} is invalid`);
  const file = fromDisk(disk);
  const problem = gateWeightsProblem(file.weights);
  if (problem) throw new AppError("gate/invalid", `Gate file ${path} is invalid: ${problem}.`);

  if (expected.inputSize !== undefined && expected.inputSize !== disk.inputSize) {
    throw new AppError(
      "gate/wrongWidth",
      `Gate file ${path} is for ${disk.inputSize}-wide features, but the model's features are ${expected.inputSize} wide.`,
      { inputSize: disk.inputSize, expected: expected.inputSize },
    );
  }
  if (expected.baseModelFingerprint !== undefined && expected.baseModelFingerprint !== disk.baseModelFingerprint) {
    throw new AppError(
      "gate/modelMismatch",
      `Gate file ${path} was trained for base model ${disk.baseModelFingerprint}, not the loaded model ` +
        `${expected.baseModelFingerprint}; retrain the gate for this model.`,
      { fingerprint: disk.baseModelFingerprint, expected: expected.baseModelFingerprint },
    );
  }
  return file;
}

/**
 * Validates `gate` and writes it to `path` atomically (readers see the old file or the new one, never a part).
 * @throws AppError `gate/invalid` when the contents would not read back (inconsistent weights, non-finite numbers,
 *   a missing featureSpec, …), `gate/writeFailed` when the file system refuses.
 */
export async function writeGateFile(path: string, gate: GateFile, options: GateFileOptions = {}): Promise<void> {
  options.signal?.throwIfAborted();
  const problem = gateWeightsProblem(gate.weights);
  if (problem) throw new AppError("gate/invalid", `Refusing to write gate file ${path}: ${problem}.`);
  const disk = parseDisk(toDisk(gate), `Refusing to write gate file ${path}`);
  const { mean, std, w1, b1, w2, b2, w3, b3, ...header } = disk;
  const arrays: Record<(typeof GATE_WEIGHT_ARRAYS)[number], number[]> = { mean, std, w1, b1, w2, b2, w3 };
  const body = GATE_WEIGHT_ARRAYS.map((name) => `,\n  "${name}": ${JSON.stringify(arrays[name])}`).join("");
  // The header is pretty-printed; drop its closing brace and append the arrays, then b3, at the top level.
  const text = `${JSON.stringify(header, null, 2).replace(/\n}$/, "")}${body},\n  "b3": ${JSON.stringify(b3)}\n}\n`;
  try {
    await writeFileAtomic(path, text);
  } catch (err) {
    throw new AppError("gate/writeFailed", `Cannot write gate file ${path}: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
}

/** Validates against the disk schema; `gate/invalid` prefixed with `what` and naming up to three issues otherwise. */
function parseDisk(json: unknown, what: string): DiskGateFile {
  const result = diskSchema.safeParse(json);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  const more = result.error.issues.length > 3 ? ` (and ${result.error.issues.length - 3} more)` : "";
  throw new AppError("gate/invalid", `${what}: ${issues.join("; ")}${more}.`, {
    issues: result.error.issues.slice(0, 10),
  });
}

/** `["metrics", "train", "auc"]` → `metrics.train.auc`; `["w1", 17]` → `w1[17]`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "the top level";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

function toDisk(gate: GateFile): unknown {
  const { weights: w } = gate;
  // Nine significant digits round-trip any float32, and print shorter than the float64 expansion.
  const list = (a: Float32Array): number[] => Array.from(a, (v) => Number(v.toPrecision(9)));
  return {
    schemaVersion: GATE_FILE_SCHEMA_VERSION,
    inputSize: w.inputSize,
    hidden: [w.hidden[0], w.hidden[1]],
    activation: w.activation,
    threshold: gate.threshold,
    featureSpec: gate.featureSpec,
    baseModelFingerprint: gate.baseModelFingerprint,
    createdAt: gate.createdAt,
    metrics: gate.metrics,
    mean: list(w.mean),
    std: list(w.std),
    w1: list(w.w1),
    b1: list(w.b1),
    w2: list(w.w2),
    b2: list(w.b2),
    w3: list(w.w3),
    b3: w.b3,
  };
}

function fromDisk(disk: DiskGateFile): GateFile {
  return {
    weights: {
      inputSize: disk.inputSize,
      hidden: disk.hidden,
      activation: disk.activation,
      mean: Float32Array.from(disk.mean),
      std: Float32Array.from(disk.std),
      w1: Float32Array.from(disk.w1),
      b1: Float32Array.from(disk.b1),
      w2: Float32Array.from(disk.w2),
      b2: Float32Array.from(disk.b2),
      w3: Float32Array.from(disk.w3),
      b3: Math.fround(disk.b3),
    },
    threshold: disk.threshold,
    featureSpec: disk.featureSpec,
    baseModelFingerprint: disk.baseModelFingerprint,
    metrics: disk.metrics,
    createdAt: disk.createdAt,
  };
}
