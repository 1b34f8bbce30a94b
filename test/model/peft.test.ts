import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BundleManifest } from "../../src/core/bundle/bundleManifest.js";
import type { EngineProcess } from "../../src/core/engine/EngineProcess.js";
import { exportPeft } from "../../src/core/peft/exportPeft.js";
import { importPeft } from "../../src/core/peft/importPeft.js";
import { peftArchitecture, peftModule, peftTensorName } from "../../src/core/peft/peftTensorNames.js";
import { readBaseModelFacts } from "../../src/core/peft/readBaseModelFacts.js";
import { readGgufLora, type GgufLora } from "../../src/core/peft/readGgufLora.js";
import { makeBundle } from "../../testkit/makeBundle.js";
import { peftBundleFor } from "../../testkit/peftFixtures.js";
import { realModelPath } from "../../testkit/realModels.js";
import { scratchDirs } from "../../testkit/scratchDirs.js";
import {
  byteModel,
  eventsOf,
  fixedAnswerSamples,
  loraArgs,
  runTrainer,
  trainerBinary,
  writeJsonl,
} from "../../testkit/trainerKit.js";
import { fixtures, loadModel, startEngine, user } from "./harness.js";

const scratch = scratchDirs("prism-peft-model-");

/** numpy, when this machine has it, reads the exported file without any of our code (see `pythonDigests`). */
const hasNumpy = (() => {
  try {
    execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/**
 * An independent reader: Python's json + numpy parse the safetensors file, apply llama.cpp's own
 * `LlamaModel.permute` (convert_hf_to_gguf.py) to a Llama's q/k `lora_B`, and print each tensor's shape and the SHA-256 of
 * its bytes as GGUF should hold them.
 */
const PYTHON_READER = `
import hashlib, json, struct, sys
import numpy as np
path, arch, n_head, n_kv = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
raw = open(path, "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
def permute(w, heads):
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
out = {}
for name, e in header.items():
    if name == "__metadata__":
        continue
    b, end = e["data_offsets"]
    w = np.frombuffer(data[b:end], dtype={"F32": "<f4", "F16": "<f2"}[e["dtype"]]).reshape(e["shape"])
    if arch == "llama" and name.endswith("q_proj.lora_B.weight"):
        w = permute(w, n_head)
    elif arch == "llama" and name.endswith("k_proj.lora_B.weight"):
        w = permute(w, n_kv)
    out[name] = {"shape": list(w.shape), "sha256": hashlib.sha256(np.ascontiguousarray(w).tobytes()).hexdigest()}
print(json.dumps(out))
`;

function pythonDigests(path: string, facts: { architecture: string; headCount: number; headCountKv: number }) {
  const text = execFileSync(
    "python3",
    ["-c", PYTHON_READER, path, facts.architecture, String(facts.headCount), String(facts.headCountKv)],
    { encoding: "utf8" },
  );
  return JSON.parse(text) as Record<string, { shape: number[]; sha256: string }>;
}

const sha = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

function expectSameTensors(a: GgufLora, b: GgufLora) {
  expect(b.alpha).toBe(a.alpha);
  expect(b.pairs.map((p) => `${p.block}.${p.target}:${p.a.dtype}:${sha(p.a.data)}:${sha(p.b.data)}`)).toEqual(
    a.pairs.map((p) => `${p.block}.${p.target}:${p.a.dtype}:${sha(p.a.data)}:${sha(p.b.data)}`),
  );
}

describe("PEFT export → import through the real engine", () => {
  let engine: EngineProcess;
  beforeAll(() => {
    engine = startEngine();
  });
  afterAll(async () => {
    await engine.dispose();
  });

  /** Greedy (temperature 0) answers to `prompts` from `model` with `adapter` (none: the base model). */
  async function answers(model: string, adapter: string | undefined, prompts: string[]): Promise<string[]> {
    const { modelId } = await loadModel(engine, model);
    const adapters = adapter ? [{ path: adapter, scale: 1 }] : [];
    const { contextId } = await engine.request("engine/createContext", {
      modelId,
      contextSize: 256,
      threads: 1,
      adapters,
    });
    const texts: string[] = [];
    for (const prompt of prompts) {
      const r = await engine.request("engine/generate", {
        contextId,
        messages: user(prompt),
        maxTokens: 24,
        temperature: 0,
      });
      texts.push(r.text);
    }
    await engine.request("engine/disposeContext", { contextId });
    return texts;
  }

  /** Exports `bundle`, imports it back, and checks tensors, gate, independent reading and generated text. */
  async function roundTrip(dir: string, model: string, bundle: string, prompts: string[]) {
    const out = join(dir, "peft");
    const back = join(dir, "back.prism");
    await exportPeft(bundle, out, { modelPath: model });
    await importPeft(out, back, { modelPath: model });
    const original = await readGgufLora(join(bundle, "adapter.gguf"));
    expectSameTensors(original, await readGgufLora(join(back, "adapter.gguf")));
    expect(await readFile(join(back, "gate.json"), "utf8")).toBe(await readFile(join(bundle, "gate.json"), "utf8"));

    if (hasNumpy) {
      const facts = await readBaseModelFacts(model);
      const digests = pythonDigests(join(out, "adapter_model.safetensors"), facts);
      expect(Object.keys(digests)).toHaveLength(2 * original.pairs.length);
      for (const p of original.pairs) {
        const site = { block: p.block, module: peftModule(peftArchitecture(facts.architecture), p.target) };
        expect(digests[peftTensorName(site, "a")]).toEqual({ shape: [p.rank, p.nIn], sha256: sha(p.a.data) });
        expect(digests[peftTensorName(site, "b")]).toEqual({ shape: [p.nOut, p.rank], sha256: sha(p.b.data) });
      }
    }

    const base = await answers(model, undefined, prompts);
    const before = await answers(model, join(bundle, "adapter.gguf"), prompts);
    const after = await answers(model, join(back, "adapter.gguf"), prompts);
    expect(after).toEqual(before);
    expect(before).not.toEqual(base); // the adapter matters, so equal outputs mean something
    return { before, after };
  }

  it("a generated adapter (all seven projections, llama layout): identical text at temperature 0", async () => {
    const dir = await scratch();
    const bundle = join(dir, "b.prism");
    await makeBundle(bundle, fixtures.tiny);
    await roundTrip(dir, fixtures.tiny, bundle, ["What is the capital of France?", "Write a haiku about rain.", "hi"]);
  });

  // Real-shape models carry the vendors' layouts (Phi-3's fused qkv and gate_up) and tokenizers; one per family.
  it.each(["qwen2", "gemma3", "phi3"] as const)(
    "%s real-shape model, every LoRA target: identical text at temperature 0",
    async (fixture) => {
      const dir = await scratch();
      const model = await realModelPath(fixture);
      const bundle = await peftBundleFor(dir, model);
      await roundTrip(dir, model, bundle, ["What is the capital of France?", "Write a haiku about rain."]);
    },
  );

  it("an adapter trained by prism-trainer: identical text at temperature 0", async () => {
    const dir = await scratch();
    const model = await byteModel();
    const data = writeJsonl(join(dir, "train.jsonl"), fixedAnswerSamples(48, "purple elephant"));
    const trained = join(dir, "trained.gguf");
    const run = await runTrainer(
      trainerBinary(),
      loraArgs(model, data, trained, ["--epochs", "3", "--rank", "4", "--alpha", "8", "--lr", "2e-3"]),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(eventsOf(run, "done")).toHaveLength(1);
    const facts = await readBaseModelFacts(model);
    const bundle = join(dir, "b.prism");
    await makeBundle(bundle, model, { width: facts.embeddingLength });
    await writeFile(join(bundle, "adapter.gguf"), await readFile(trained));
    const lora = await readGgufLora(trained);
    const manifestPath = join(bundle, "manifest.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as BundleManifest;
    manifest.adapter = {
      ...manifest.adapter,
      rank: 4,
      alpha: lora.alpha,
      firstBlock: Math.min(...lora.pairs.map((p) => p.block)),
      targets: [...new Set(lora.pairs.map((p) => p.target))],
    };
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
    expect(lora.pairs.every((p) => p.a.dtype === "F32" && p.b.dtype === "F32")).toBe(true);
    await roundTrip(dir, model, bundle, ["Q: abcdefg\nA:", "Q: zzzz\nA:"]);
  });
});
