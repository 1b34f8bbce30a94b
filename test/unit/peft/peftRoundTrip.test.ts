import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeFloat16 } from "../../../src/core/gguf/float16.js";
import { REAL_SHAPE_FIXTURES } from "../../../src/core/gguf/realShapeRecipes.js";
import { exportPeft } from "../../../src/core/peft/exportPeft.js";
import { importPeft } from "../../../src/core/peft/importPeft.js";
import { permuteRopeRows } from "../../../src/core/peft/permuteRopeRows.js";
import { readGgufLora, type GgufLora } from "../../../src/core/peft/readGgufLora.js";
import { readSafetensors } from "../../../src/core/peft/readSafetensors.js";
import { writeGgufLora } from "../../../src/core/peft/writeGgufLora.js";
import { peftFixtureBundle } from "../../../testkit/peftFixtures.js";
import { scratchDirs } from "../../../testkit/scratchDirs.js";

const scratch = scratchDirs("prism-peft-");

function expectSameLora(a: GgufLora, b: GgufLora) {
  expect(b.architecture).toBe(a.architecture);
  expect(b.alpha).toBe(a.alpha);
  expect(b.pairs.map((p) => [p.block, p.target, p.rank, p.nIn, p.nOut, p.a.dtype, p.b.dtype])).toEqual(
    a.pairs.map((p) => [p.block, p.target, p.rank, p.nIn, p.nOut, p.a.dtype, p.b.dtype]),
  );
  for (const [i, p] of a.pairs.entries()) {
    expect(Buffer.from(b.pairs[i]!.a.data).equals(Buffer.from(p.a.data))).toBe(true);
    expect(Buffer.from(b.pairs[i]!.b.data).equals(Buffer.from(p.b.data))).toBe(true);
  }
}

describe("exportPeft → importPeft", () => {
  it.each(REAL_SHAPE_FIXTURES)(
    "%s: same adapter tensors bit for bit, same gate file, same manifest",
    async (fixture) => {
      const { dir, model, bundle, shape } = await peftFixtureBundle(await scratch(), fixture);
      const out = join(dir, "peft");
      const exported = await exportPeft(bundle, out, { modelPath: model });
      expect(exported.architecture).toBe(shape.architecture);
      const config = JSON.parse(await readFile(join(out, "adapter_config.json"), "utf8")) as Record<string, unknown>;
      expect(config).toMatchObject({
        peft_type: "LORA",
        task_type: "CAUSAL_LM",
        r: 4,
        lora_alpha: 6,
        layers_to_transform: [1],
      });
      expect(config.base_model_name_or_path).toEqual(expect.any(String));
      const st = await readSafetensors(join(out, "adapter_model.safetensors"));
      expect(st.metadata).toEqual({ format: "pt" });
      expect(st.tensors).toHaveLength(2 * (config.target_modules as string[]).length);

      const back = join(dir, "back.prism");
      await importPeft(out, back, { modelPath: model });
      expectSameLora(await readGgufLora(join(bundle, "adapter.gguf")), await readGgufLora(join(back, "adapter.gguf")));
      expect(await readFile(join(back, "gate.json"), "utf8")).toBe(await readFile(join(bundle, "gate.json"), "utf8"));
      const manifest = (p: string) =>
        readFile(join(p, "manifest.json"), "utf8").then((t) => JSON.parse(t) as Record<string, unknown>);
      const [before, after] = [await manifest(bundle), await manifest(back)];
      expect({ ...after, name: before.name }).toEqual(before);
    },
  );

  it("llama: q and k lora_B go out in Hugging Face's RoPE row order (by n_head and n_head_kv), A as it is", async () => {
    const { dir, model, bundle, shape } = await peftFixtureBundle(await scratch(), "llama3");
    const out = join(dir, "peft");
    await exportPeft(bundle, out, { modelPath: model });
    const lora = await readGgufLora(join(bundle, "adapter.gguf"));
    const st = await readSafetensors(join(out, "adapter_model.safetensors"));
    const tensor = (name: string) =>
      st.tensors.find((t) => t.name === `base_model.model.model.layers.1.${name}.weight`)!;
    const pair = (target: string) => lora.pairs.find((p) => p.block === 1 && p.target === target)!;
    const q = pair("attn_q");
    const k = pair("attn_k");
    expect(tensor("self_attn.q_proj.lora_A").shape).toEqual([4, shape.embeddingLength]);
    expect(tensor("self_attn.q_proj.lora_B").shape).toEqual([q.nOut, 4]);
    expect(Buffer.from(tensor("self_attn.q_proj.lora_A").data).equals(Buffer.from(q.a.data))).toBe(true);
    const hfQ = permuteRopeRows(q.b.data, q.nOut, shape.headCount, "toHf");
    const hfK = permuteRopeRows(k.b.data, k.nOut, shape.headCountKv, "toHf");
    expect(Buffer.from(tensor("self_attn.q_proj.lora_B").data).equals(Buffer.from(hfQ))).toBe(true);
    expect(Buffer.from(tensor("self_attn.k_proj.lora_B").data).equals(Buffer.from(hfK))).toBe(true);
    expect(Buffer.from(hfQ).equals(Buffer.from(q.b.data))).toBe(false);
    expect(Buffer.from(tensor("self_attn.v_proj.lora_B").data).equals(Buffer.from(pair("attn_v").b.data))).toBe(true);
  });

  it("keeps F16 adapters F16 bit for bit, and widens BF16 to F32 exactly", async () => {
    const { dir, model, bundle } = await peftFixtureBundle(await scratch(), "qwen2");
    const f32 = await readGgufLora(join(bundle, "adapter.gguf"));
    const toF16 = (data: Uint8Array) => {
      const out = new Uint8Array(data.byteLength / 2);
      encodeFloat16(new Float32Array(data.slice().buffer), out);
      return { dtype: "F16" as const, data: out };
    };
    const f16: GgufLora = { ...f32, pairs: f32.pairs.map((p) => ({ ...p, a: toF16(p.a.data), b: toF16(p.b.data) })) };
    await writeGgufLora(join(bundle, "adapter.gguf"), f16);
    const out = join(dir, "peft");
    await exportPeft(bundle, out, { modelPath: model });
    expect(
      (await readSafetensors(join(out, "adapter_model.safetensors"))).tensors.every((t) => t.dtype === "F16"),
    ).toBe(true);
    await importPeft(out, join(dir, "f16.prism"), { modelPath: model });
    expectSameLora(f16, await readGgufLora(join(dir, "f16.prism", "adapter.gguf")));

    // BF16: the top two bytes of each float32.
    await writeGgufLora(join(bundle, "adapter.gguf"), f32);
    await exportPeft(bundle, out, { modelPath: model });
    const path = join(out, "adapter_model.safetensors");
    const bytes = await readFile(path);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: number[] }
    >;
    const data = bytes.subarray(8 + n);
    const parts: Buffer[] = [];
    let offset = 0;
    for (const [name, e] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const src = data.subarray(e.data_offsets[0], e.data_offsets[1]);
      const half = Buffer.alloc(src.length / 2);
      for (let i = 0; i < half.length; i += 2) src.copy(half, i, 2 * i + 2, 2 * i + 4);
      header[name] = { dtype: "BF16", shape: e.shape, data_offsets: [offset, offset + half.length] };
      offset += half.length;
      parts.push(half);
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    await writeFile(path, Buffer.concat([len, json, ...parts]));
    await importPeft(out, join(dir, "bf16.prism"), { modelPath: model });
    const widened = await readGgufLora(join(dir, "bf16.prism", "adapter.gguf"));
    const truncate = (d: Uint8Array) => {
      const v = new Uint32Array(d.slice().buffer);
      return Array.from(v, (x) => (x & 0xffff0000) >>> 0);
    };
    expect(widened.pairs.every((p) => p.a.dtype === "F32" && p.b.dtype === "F32")).toBe(true);
    for (const [i, p] of f32.pairs.entries()) {
      expect(Array.from(new Uint32Array(widened.pairs[i]!.a.data.slice().buffer))).toEqual(truncate(p.a.data));
      expect(Array.from(new Uint32Array(widened.pairs[i]!.b.data.slice().buffer))).toEqual(truncate(p.b.data));
    }
  });
});
