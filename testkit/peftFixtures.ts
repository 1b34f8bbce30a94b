import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BundleManifest } from "../src/core/bundle/bundleManifest.js";
import { GgmlType } from "../src/core/gguf/ggufTypes.js";
import { realShapeLayout } from "../src/core/gguf/realShapeModel.js";
import type { RealShapeFixture } from "../src/core/gguf/realShapeRecipes.js";
import { writeSyntheticAdapter, type LoraTarget } from "../src/core/gguf/syntheticModel.js";
import { writeGguf } from "../src/core/gguf/writeGguf.js";
import { loraTargets, peftArchitecture } from "../src/core/peft/peftTensorNames.js";
import { readBaseModelFacts } from "../src/core/peft/readBaseModelFacts.js";
import { makeBundle } from "./makeBundle.js";

/**
 * A header-true GGUF of `fixture`'s layout (every weight `fill`, no vocabulary): all that PEFT export and import
 * read of a model. Two fills make two models of one shape but different content.
 */
export async function writeLayoutModel(path: string, fixture: RealShapeFixture, fill = 0) {
  const { kvs, specs, shape } = realShapeLayout(fixture, 32);
  const tensors = specs.map((s) => ({
    name: s.name,
    dims: s.dims,
    type: GgmlType.F32,
    data: new Float32Array(s.dims.reduce((a, b) => a * b, 1)).fill(fill),
  }));
  await writeGguf(path, { kvs, tensors });
  return shape;
}

/**
 * A bundle in `dir` for the model at `model` whose adapter covers every LoRA target of its architecture from block
 * 1, rank 4, alpha 6, with a manifest that says so: what PEFT export and import tests start from.
 */
export async function peftBundleFor(dir: string, model: string) {
  const facts = await readBaseModelFacts(model);
  const bundle = join(dir, "b.prism");
  await makeBundle(bundle, model, { width: facts.embeddingLength });
  const targets = loraTargets(peftArchitecture(facts.architecture)) as LoraTarget[];
  await writeSyntheticAdapter(join(bundle, "adapter.gguf"), {
    base: model,
    seed: 9,
    firstBlock: 1,
    rank: 4,
    alpha: 6,
    targets,
  });
  // The manifest describes the adapter it ships (makeBundle's describes its own default adapter).
  const manifest = JSON.parse(await readFile(join(bundle, "manifest.json"), "utf8")) as BundleManifest;
  manifest.adapter = { ...manifest.adapter, rank: 4, alpha: 6, targets };
  await writeFile(join(bundle, "manifest.json"), JSON.stringify(manifest, null, 2));
  return bundle;
}

/** {@link peftBundleFor} on a {@link writeLayoutModel} of `fixture` written into `dir`. */
export async function peftFixtureBundle(dir: string, fixture: RealShapeFixture) {
  const model = join(dir, `${fixture}.gguf`);
  const shape = await writeLayoutModel(model, fixture);
  const bundle = await peftBundleFor(dir, model);
  return { dir, model, bundle, shape };
}
