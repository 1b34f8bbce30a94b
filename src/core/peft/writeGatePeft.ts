import { join } from "node:path";
import type { BundleManifest } from "../bundle/bundleManifest.js";
import { GATE_MIN_STD } from "../gate/Gate.js";
import type { GateFile } from "../gate/gateFile.js";
import { writeFileAtomic } from "../util/writeFileAtomic.js";
import type { SafetensorsTensor } from "./safetensorsDtypes.js";
import { writeSafetensors } from "./writeSafetensors.js";

/** `format` of an exported `gate.json`. */
export const GATE_PEFT_FORMAT = "prism-gate";
/** The only `formatVersion` written and read. */
export const GATE_PEFT_FORMAT_VERSION = 1;

/** File names of the exported gate, beside the PEFT adapter. */
export const GATE_PEFT_FILES = { json: "gate.json", weights: "gate.safetensors" } as const;

/** The bundle facts an exported gate carries so that an import rebuilds the same bundle. */
export interface GatePeftBundle {
  /** The bundle's manifest as it was. */
  manifest: BundleManifest;
  /** The bundle's `report.json`, or null when it had none that parses. */
  report: unknown;
}

/**
 * Writes a gate as `gate.safetensors` (its float32 weights under PyTorch `nn.Linear` names, so
 * `model.load_state_dict` fits a `Linear(h,128) → GELU → Linear(128,64) → GELU → Linear(64,1)`) and `gate.json`
 * (everything else: sizes, activation, threshold, feature spec, the base model's fingerprint, metrics, and the
 * bundle's manifest and report), both atomically (docs/peft.md §5). Errors: `io/writeFailed`, `peft/invalid`.
 */
export async function writeGatePeft(
  dir: string,
  gate: GateFile,
  bundle: GatePeftBundle,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  const w = gate.weights;
  const [h1, h2] = w.hidden;
  const t = (name: string, shape: number[], values: Float32Array): SafetensorsTensor => ({
    name,
    dtype: "F32",
    shape,
    data: float32Le(values),
  });
  const tensors = [
    t("mean", [w.inputSize], w.mean),
    t("std", [w.inputSize], w.std),
    t("fc1.weight", [h1, w.inputSize], w.w1),
    t("fc1.bias", [h1], w.b1),
    t("fc2.weight", [h2, h1], w.w2),
    t("fc2.bias", [h2], w.b2),
    t("fc3.weight", [1, h2], w.w3),
    t("fc3.bias", [1], Float32Array.of(w.b3)),
  ];
  await writeSafetensors(join(dir, GATE_PEFT_FILES.weights), { metadata: { format: "pt" }, tensors }, options);
  const json = {
    format: GATE_PEFT_FORMAT,
    formatVersion: GATE_PEFT_FORMAT_VERSION,
    weights: GATE_PEFT_FILES.weights,
    inputSize: w.inputSize,
    hidden: [h1, h2],
    activation: w.activation,
    // Spelled out for readers outside PRISM: how the stored tensors turn a feature into a probability.
    formula:
      `p = sigmoid(fc3(gelu(fc2(gelu(fc1((x - mean) / max(std, ${GATE_MIN_STD}))))))); ` +
      `the adapter is used iff p >= threshold`,
    threshold: gate.threshold,
    featureSpec: gate.featureSpec,
    baseModelFingerprint: gate.baseModelFingerprint,
    createdAt: gate.createdAt,
    metrics: gate.metrics,
    bundle,
  };
  await writeFileAtomic(join(dir, GATE_PEFT_FILES.json), `${JSON.stringify(json, null, 2)}\n`);
}

/** The little-endian bytes of `values` (a copy, so later changes to either side stay apart). */
export function float32Le(values: Float32Array): Uint8Array {
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i] ?? 0, i * 4);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
