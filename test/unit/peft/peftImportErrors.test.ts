import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GgmlType, ggufValue } from "../../../src/core/gguf/ggufTypes.js";
import { writeGguf } from "../../../src/core/gguf/writeGguf.js";
import { exportPeft } from "../../../src/core/peft/exportPeft.js";
import { importPeft } from "../../../src/core/peft/importPeft.js";
import { peftConfigJson, readPeftConfig } from "../../../src/core/peft/peftConfig.js";
import { readGgufLora } from "../../../src/core/peft/readGgufLora.js";
import { readSafetensors } from "../../../src/core/peft/readSafetensors.js";
import { writeGgufLora } from "../../../src/core/peft/writeGgufLora.js";
import { writeSafetensors } from "../../../src/core/peft/writeSafetensors.js";
import { peftFixtureBundle, writeLayoutModel } from "../../../testkit/peftFixtures.js";
import { scratchDirs } from "../../../testkit/scratchDirs.js";

const scratch = scratchDirs("prism-peft-err-");

/** An exported qwen2 bundle: `out` holds the PEFT directory with the gate. */
async function exported() {
  const f = await peftFixtureBundle(await scratch(), "qwen2");
  const out = join(f.dir, "peft");
  await exportPeft(f.bundle, out, { modelPath: f.model });
  return { ...f, out };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const config = (over: Record<string, unknown>) =>
  JSON.stringify({
    ...peftConfigJson({ baseModel: "m", rank: 4, alpha: 8, targetModules: ["q_proj"], layers: null }),
    ...over,
  });

describe("readPeftConfig", () => {
  const cases: Array<[string, string, string]> = [
    ["DoRA", config({ use_dora: true }), "peft/unsupportedConfig"],
    ["rsLoRA", config({ use_rslora: true }), "peft/unsupportedConfig"],
    ["trained biases", config({ bias: "all" }), "peft/unsupportedConfig"],
    ["per-module ranks", config({ rank_pattern: { q_proj: 8 } }), "peft/unsupportedConfig"],
    ["modules_to_save", config({ modules_to_save: ["lm_head"] }), "peft/unsupportedConfig"],
    ["another PEFT method", config({ peft_type: "IA3" }), "peft/invalidConfig"],
    ["another task", config({ task_type: "SEQ_CLS" }), "peft/invalidConfig"],
    ["no r", config({ r: undefined }), "peft/invalidConfig"],
    ["a zero alpha", config({ lora_alpha: 0 }), "peft/invalidConfig"],
    ["not JSON", "{r: 4", "peft/invalidConfig"],
  ];
  it.each(cases)("refuses %s with a coded error", async (_what, text, code) => {
    const dir = await scratch();
    await writeFile(join(dir, "adapter_config.json"), text);
    expect(await codeOf(readPeftConfig(join(dir, "adapter_config.json")))).toBe(code);
  });

  it("reads what it writes, and says peft/notFound for a missing file", async () => {
    const dir = await scratch();
    await writeFile(join(dir, "adapter_config.json"), config({ layers_to_transform: [1, 2] }));
    expect(await readPeftConfig(join(dir, "adapter_config.json"))).toEqual({
      baseModel: "m",
      rank: 4,
      alpha: 8,
      targetModules: ["q_proj"],
      layers: [1, 2],
    });
    expect(await codeOf(readPeftConfig(join(dir, "none.json")))).toBe("peft/notFound");
  });
});

describe("importPeft refuses what does not fit, and leaves nothing behind", () => {
  /** Rewrites the exported adapter's tensors through `edit`. */
  async function editTensors(
    out: string,
    edit: (t: Awaited<ReturnType<typeof readSafetensors>>["tensors"]) => typeof t,
  ) {
    const path = join(out, "adapter_model.safetensors");
    const st = await readSafetensors(path);
    await writeSafetensors(path, { metadata: st.metadata, tensors: edit(st.tensors) });
  }

  it("a tensor that is not a mapped LoRA weight: peft/unknownTensor", async () => {
    const { dir, out, model } = await exported();
    await editTensors(out, (ts) => [
      ...ts,
      { name: "base_model.model.lm_head.lora_A.weight", dtype: "F32", shape: [1], data: new Uint8Array(4) },
    ]);
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: model }))).toBe("peft/unknownTensor");
    expect(existsSync(join(dir, "x.prism"))).toBe(false);
  });

  it("a lora_A without its lora_B: peft/invalid", async () => {
    const { dir, out, model } = await exported();
    await editTensors(out, (ts) => ts.filter((t) => !t.name.endsWith("q_proj.lora_B.weight")));
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: model }))).toBe("peft/invalid");
  });

  it("a module target_modules does not list: peft/invalidConfig", async () => {
    const { dir, out, model } = await exported();
    const path = join(out, "adapter_config.json");
    const cfg = JSON.parse(await readFile(path, "utf8")) as { target_modules: string[] };
    cfg.target_modules = cfg.target_modules.filter((m) => m !== "v_proj");
    await writeFile(path, JSON.stringify(cfg));
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: model }))).toBe("peft/invalidConfig");
  });

  it("a model of another shape: peft/shapeMismatch; of another architecture: its module names do not map", async () => {
    const { dir, out } = await exported();
    const qwen3 = join(dir, "qwen3.gguf");
    await writeLayoutModel(qwen3, "qwen3");
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: qwen3 }))).toBe("peft/shapeMismatch");
    const phi3 = join(dir, "phi3.gguf");
    await writeLayoutModel(phi3, "phi3");
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: phi3 }))).toBe("peft/unknownTensor");
  });

  it("a model of the same shape but other weights: the gate is refused (gate/modelMismatch)", async () => {
    const { dir, out } = await exported();
    const other = join(dir, "other.gguf");
    await writeLayoutModel(other, "qwen2", 0.5);
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: other }))).toBe("gate/modelMismatch");
    expect((await readdir(dir)).filter((f) => f.includes("x.prism"))).toEqual([]);
  });

  it("no gate: peft/missingGate; --gate pointing at one elsewhere works", async () => {
    const { dir, out, model } = await exported();
    const gateDir = join(dir, "gate");
    await mkdir(gateDir);
    for (const f of ["gate.json", "gate.safetensors"]) {
      await writeFile(join(gateDir, f), await readFile(join(out, f)));
      await rm(join(out, f));
    }
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: model }))).toBe("peft/missingGate");
    await importPeft(out, join(dir, "x.prism"), { modelPath: model, gate: join(gateDir, "gate.json") });
    await importPeft(out, join(dir, "x.prism"), { modelPath: model, gate: gateDir });
    expect(existsSync(join(dir, "x.prism", "manifest.json"))).toBe(true);
  });

  it("an --out that exists and is not a bundle is never replaced: io/writeFailed", async () => {
    const { dir, out, model } = await exported();
    const target = join(dir, "mine");
    await mkdir(target);
    await writeFile(join(target, "notes.txt"), "keep");
    expect(await codeOf(importPeft(out, target, { modelPath: model }))).toBe("io/writeFailed");
    expect(await readFile(join(target, "notes.txt"), "utf8")).toBe("keep");
  });

  it("a dtype other than F32, F16 or BF16 (F64): peft/unsupportedDtype", async () => {
    const { dir, out, model } = await exported();
    await editTensors(out, (ts) =>
      ts.map((t) =>
        t.name.endsWith("q_proj.lora_A.weight")
          ? { ...t, dtype: "F64", data: new Uint8Array(t.data.byteLength * 2) }
          : t,
      ),
    );
    expect(await codeOf(importPeft(out, join(dir, "x.prism"), { modelPath: model }))).toBe("peft/unsupportedDtype");
  });
});

describe("exportPeft refuses adapters PEFT cannot hold as they are", () => {
  it("a quantised LoRA tensor: peft/unsupportedDtype", async () => {
    const f = await peftFixtureBundle(await scratch(), "llama3");
    const lora = await readGgufLora(join(f.bundle, "adapter.gguf"));
    const p = lora.pairs[0]!;
    const name = `blk.${p.block}.${p.target}.weight`;
    await writeGguf(join(f.bundle, "adapter.gguf"), {
      kvs: [
        { key: "general.architecture", value: ggufValue.string("llama") },
        { key: "general.type", value: ggufValue.string("adapter") },
        { key: "adapter.type", value: ggufValue.string("lora") },
      ],
      tensors: [
        // Q8_0: blocks of 32 values in 34 bytes.
        {
          name: `${name}.lora_a`,
          dims: [p.nIn, p.rank],
          type: GgmlType.Q8_0,
          data: new Uint8Array((p.nIn / 32) * 34 * p.rank),
        },
        { name: `${name}.lora_b`, dims: [p.rank, p.nOut], type: GgmlType.F32, data: p.b.data },
      ],
    });
    expect(await codeOf(exportPeft(f.bundle, join(f.dir, "peft"), { modelPath: f.model }))).toBe(
      "peft/unsupportedDtype",
    );
  });

  it("pairs of different ranks: peft/unsupportedConfig", async () => {
    const f = await peftFixtureBundle(await scratch(), "llama3");
    const lora = await readGgufLora(join(f.bundle, "adapter.gguf"));
    const p = lora.pairs[0]!;
    // Rank 2: A's first two rows, B's first two columns.
    const a = p.a.data.slice(0, 2 * p.nIn * 4);
    const b = new Uint8Array(p.nOut * 2 * 4);
    for (let row = 0; row < p.nOut; row++) b.set(p.b.data.subarray(row * p.rank * 4, row * p.rank * 4 + 8), row * 8);
    lora.pairs[0] = { ...p, rank: 2, a: { dtype: "F32", data: a }, b: { dtype: "F32", data: b } };
    await writeGgufLora(join(f.bundle, "adapter.gguf"), lora);
    expect(await codeOf(exportPeft(f.bundle, join(f.dir, "peft"), { modelPath: f.model }))).toBe(
      "peft/unsupportedConfig",
    );
  });
});
