import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgmlType, GgufValueType } from "../../../src/core/gguf/ggufTypes.js";
import { getGgufValue, readGguf, requireGgufValue } from "../../../src/core/gguf/readGguf.js";
import { readHfTokenizer, type HfTokenizerFiles } from "../../../src/core/gguf/readHfTokenizer.js";
import { realShapeLayout, writeRealShapeModel } from "../../../src/core/gguf/realShapeModel.js";
import { tokenizerDir } from "../../../testkit/realModels.js";

let dir: string;
let llama2: HfTokenizerFiles;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "prism-real-shape-"));
  llama2 = await readHfTokenizer(tokenizerDir("phi3"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = async (path: string): Promise<string> =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

// Each write is a 9 MB file (a 32k vocabulary): about 0.5–1.5 s.
describe("writeRealShapeModel", { timeout: 30_000 }, () => {
  it("writes the phi3 layout with F16 matrices, F32 norms, the hyper-parameters and the vendor vocabulary", async () => {
    const path = join(dir, "phi3.gguf");
    const info = await writeRealShapeModel(path, { fixture: "phi3", ...llama2 });
    const file = await readGguf(path);
    const { specs } = realShapeLayout("phi3", 32_064);
    expect(file.tensors.map((t) => [t.name, t.dims])).toEqual(specs.map((s) => [s.name, s.dims]));
    for (const t of file.tensors) expect(t.type).toBe(t.dims.length === 2 ? GgmlType.F16 : GgmlType.F32);
    expect(info).toMatchObject({ architecture: "phi3", tensorCount: specs.length, bytes: file.fileSize });
    expect(requireGgufValue(file, "general.architecture", GgufValueType.String)).toBe("phi3");
    expect(requireGgufValue(file, "phi3.attention.head_count_kv", GgufValueType.Uint32)).toBe(4);
    expect(requireGgufValue(file, "tokenizer.ggml.model", GgufValueType.String)).toBe("llama");
    expect(requireGgufValue(file, "tokenizer.ggml.tokens", GgufValueType.Array).items).toHaveLength(32_064);
    expect(requireGgufValue(file, "tokenizer.ggml.eot_token_id", GgufValueType.Uint32)).toBe(32_007);
    expect(getGgufValue(file, "tokenizer.chat_template", GgufValueType.String)).toContain("<|user|>");
    // 2 × (32,064 × 64) embeddings dominate: about 8.7 MB.
    expect(file.fileSize).toBeGreaterThan(8_000_000);
    expect(file.fileSize).toBeLessThan(10_000_000);
  });

  it("is deterministic per seed: same seed, same bytes; another seed, other weights", async () => {
    const [a, b, c] = [join(dir, "a.gguf"), join(dir, "b.gguf"), join(dir, "c.gguf")];
    await writeRealShapeModel(a, { fixture: "mistral", ...llama2, seed: 7 });
    await writeRealShapeModel(b, { fixture: "mistral", ...llama2, seed: 7 });
    await writeRealShapeModel(c, { fixture: "mistral", ...llama2, seed: 8 });
    expect(await sha256(a)).toBe(await sha256(b));
    expect(await sha256(a)).not.toBe(await sha256(c));
    const [fa, fc] = [await readGguf(a), await readGguf(c)];
    expect(fa.tensors).toEqual(fc.tensors);
  });
});
