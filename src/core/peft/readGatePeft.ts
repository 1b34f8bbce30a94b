import { readFile } from "node:fs/promises";
import * as z from "zod";
import { bundleManifestSchema } from "../bundle/bundleManifest.js";
import { AppError } from "../errors.js";
import type { GateFile } from "../gate/gateFile.js";
import type { GateMetrics } from "../gate/gateMetrics.js";
import { GATE_ACTIVATIONS } from "../gate/gelu.js";
import { readSafetensors } from "./readSafetensors.js";
import { GATE_PEFT_FORMAT, GATE_PEFT_FORMAT_VERSION, type GatePeftBundle } from "./writeGatePeft.js";

/** An exported gate read back: the gate file to write into a bundle, and the bundle facts it carried. */
export interface GatePeft {
  gate: GateFile;
  bundle: GatePeftBundle;
}

// The gate's own fields are checked again, fully, by writeGateFile and readBundle; this schema checks what the
// import itself relies on.
const jsonSchema = z.object({
  format: z.literal(GATE_PEFT_FORMAT),
  formatVersion: z.literal(GATE_PEFT_FORMAT_VERSION),
  inputSize: z
    .int()
    .min(1)
    .max(1 << 20),
  hidden: z.tuple([
    z
      .int()
      .min(1)
      .max(1 << 16),
    z
      .int()
      .min(1)
      .max(1 << 16),
  ]),
  activation: z.enum(GATE_ACTIVATIONS),
  threshold: z.number().min(0).max(1),
  featureSpec: z.json(),
  baseModelFingerprint: z.string().min(1),
  createdAt: z.string(),
  metrics: z.record(z.string(), z.unknown()),
  bundle: z.object({ manifest: bundleManifestSchema, report: z.unknown() }),
});

/**
 * Reads an exported gate (`gate.json` + `gate.safetensors`, docs/peft.md §5): the JSON's format, sizes and
 * bundle manifest, and tensors `mean`, `std`, `fc1.weight`, `fc1.bias`, `fc2.weight`, `fc2.bias`, `fc3.weight`,
 * `fc3.bias`, all F32 with the shapes the sizes imply. Values are copied bit for bit.
 *
 * @throws AppError `peft/missingGate` (either file absent); `peft/invalidConfig` (gate.json malformed);
 *   `peft/*` from the safetensors reader; `peft/invalid` (a tensor missing, extra, not F32, or misshapen).
 */
export async function readGatePeft(jsonPath: string, weightsPath: string): Promise<GatePeft> {
  let text: string;
  try {
    text = await readFile(jsonPath, "utf8");
  } catch (err) {
    throw new AppError(
      "peft/missingGate",
      `No exported gate at ${jsonPath}: a bundle needs its gate (gate.json + gate.safetensors from prism export).`,
      undefined,
      { cause: err },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError("peft/invalidConfig", `${jsonPath} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = jsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      "peft/invalidConfig",
      `${jsonPath}: ${issue?.path.join(".") || "the top level"}: ${issue?.message}.`,
    );
  }
  const g = parsed.data;
  const weights = await readSafetensors(weightsPath).catch((err: unknown) => {
    if ((err as AppError).code === "peft/notFound") {
      throw new AppError("peft/missingGate", `No gate weights at ${weightsPath} (beside ${jsonPath}).`);
    }
    throw err;
  });
  const [h1, h2] = g.hidden;
  const n = g.inputSize;
  const expected: Record<string, number[]> = {
    mean: [n],
    std: [n],
    "fc1.weight": [h1, n],
    "fc1.bias": [h1],
    "fc2.weight": [h2, h1],
    "fc2.bias": [h2],
    "fc3.weight": [1, h2],
    "fc3.bias": [1],
  };
  const byName = new Map(weights.tensors.map((t) => [t.name, t]));
  const values = (name: string): Float32Array => {
    const t = byName.get(name);
    const shape = expected[name] ?? [];
    if (!t || t.dtype !== "F32" || t.shape.join(",") !== shape.join(",")) {
      throw new AppError(
        "peft/invalid",
        `${weightsPath}: tensor "${name}" must be F32 [${shape.join(", ")}]` +
          (t ? `, not ${t.dtype} [${t.shape.join(", ")}].` : `; it is missing.`),
      );
    }
    const out = new Float32Array(t.data.byteLength / 4);
    const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  };
  const extra = weights.tensors.find((t) => !(t.name in expected));
  if (extra) throw new AppError("peft/invalid", `${weightsPath}: tensor "${extra.name}" is not part of a gate.`);
  const gate: GateFile = {
    weights: {
      inputSize: n,
      hidden: [h1, h2],
      activation: g.activation,
      mean: values("mean"),
      std: values("std"),
      w1: values("fc1.weight"),
      b1: values("fc1.bias"),
      w2: values("fc2.weight"),
      b2: values("fc2.bias"),
      w3: values("fc3.weight"),
      b3: values("fc3.bias")[0] ?? 0,
    },
    threshold: g.threshold,
    featureSpec: g.featureSpec,
    baseModelFingerprint: g.baseModelFingerprint,
    metrics: g.metrics as unknown as GateMetrics,
    createdAt: g.createdAt,
  };
  return { gate, bundle: { manifest: g.bundle.manifest, report: g.bundle.report } };
}
