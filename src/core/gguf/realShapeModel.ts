import { SeededRandom } from "../util/SeededRandom.js";
import { archHparamKvs, archTensorSpecs, type ArchShape, type ArchTensorSpec } from "./archLayouts.js";
import { GgmlType, ggufValue, type GgufKv } from "./ggufTypes.js";
import { realShapeRecipe, type RealShapeFixture } from "./realShapeRecipes.js";
import { buildVendorVocab, type HfTokenizerConfig, type HfTokenizerJson, type VendorVocab } from "./vendorVocab.js";
import { writeGguf, type GgufTensorInput, type WriteGgufOptions } from "./writeGguf.js";

/**
 * Version of what {@link writeRealShapeModel} writes for given inputs; bump it whenever the bytes change (layout,
 * init, vocabulary conversion), so cached fixtures keyed on it are remade.
 */
export const REAL_SHAPE_MODEL_VERSION = 2;

/** Options of {@link writeRealShapeModel}. */
export interface RealShapeModelOptions extends WriteGgufOptions {
  /** Which vendor model to imitate. */
  fixture: RealShapeFixture;
  /** The vendor's parsed `tokenizer.json`. */
  tokenizer: HfTokenizerJson;
  /** The vendor's parsed `tokenizer_config.json`. */
  tokenizerConfig: HfTokenizerConfig;
  /** PRNG seed; same inputs and seed, same bytes. Defaults to 1. */
  seed?: number;
  /**
   * Widths replacing the recipe's, e.g. a vendor model's real dimensions for benchmarks (speed does not depend
   * on the weights' values). Defaults to the recipe's small test shape.
   */
  shape?: Partial<Omit<ArchShape, "architecture">>;
  /** Pad the vocabulary to this many tokens, as vendors pad `token_embd` (Qwen2.5: 151,936). Defaults to none. */
  padVocabTo?: number;
}

/** What {@link writeRealShapeModel} wrote. */
export interface RealShapeModelInfo {
  /** The file written. */
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** `general.architecture`. */
  architecture: string;
  /** Number of tensors. */
  tensorCount: number;
  /** Number of weights, norms and biases included. */
  parameterCount: number;
  /** The converted vocabulary. */
  vocab: VendorVocab;
  /** The shape used. */
  shape: ArchShape;
}

/**
 * The model part of a real-shape GGUF: general and hyper-parameter KVs and the tensor specs, without the
 * vocabulary; what {@link writeRealShapeModel} writes and what tests inspect without writing a file.
 */
export function realShapeLayout(
  fixture: RealShapeFixture,
  vocabSize: number,
  shapeOverride: Partial<Omit<ArchShape, "architecture">> = {},
): { kvs: GgufKv[]; specs: ArchTensorSpec[]; shape: ArchShape } {
  const recipe = realShapeRecipe(fixture);
  const shape: ArchShape = { ...recipe.shape, ...shapeOverride };
  const kvs: GgufKv[] = [
    { key: "general.architecture", value: ggufValue.string(recipe.shape.architecture) },
    { key: "general.type", value: ggufValue.string("model") },
    { key: "general.name", value: ggufValue.string(recipe.name) },
    // ggml's LLAMA_FTYPE 1: mostly F16.
    { key: "general.file_type", value: ggufValue.u32(1) },
    ...archHparamKvs(shape, vocabSize),
  ];
  return { kvs, specs: archTensorSpecs(shape, vocabSize), shape };
}

/**
 * Writes a deterministic random-weight GGUF in a vendor model's exact tensor layout (see `archTensorSpecs`),
 * carrying the vendor's real tokenizer and chat template (see `buildVendorVocab` and `REAL_SHAPE_RECIPES`):
 * 2-D weights F16, norms and biases F32. Each tensor's values come from a generator forked from the seed by the
 * tensor's name. The text it generates is gibberish; the file exercises loading, tokenisation and templating.
 *
 * Errors: `gguf/writeFailed` (see `writeGguf`); a plain Error for a tokenizer that cannot be converted.
 */
export async function writeRealShapeModel(path: string, options: RealShapeModelOptions): Promise<RealShapeModelInfo> {
  const recipe = realShapeRecipe(options.fixture);
  const vocabOptions = options.padVocabTo ? { ...recipe.vocab, padTo: options.padVocabTo } : recipe.vocab;
  const vocab = buildVendorVocab(options.tokenizer, options.tokenizerConfig, vocabOptions);
  const { kvs, specs, shape } = realShapeLayout(options.fixture, vocab.tokens.length, options.shape);
  const rng = new SeededRandom(options.seed ?? 1);
  const tensors: GgufTensorInput[] = specs.map((spec) => {
    const count = spec.dims.reduce((a, b) => a * b, 1);
    const init = spec.init;
    if (init.kind !== "normal") {
      const data = (): Float32Array =>
        init.kind === "values" ? init.values : new Float32Array(count).fill(init.kind === "ones" ? 1 : 0);
      return { name: spec.name, dims: spec.dims, type: GgmlType.F32, data };
    }
    const tensorRng = rng.fork(spec.name);
    return {
      name: spec.name,
      dims: spec.dims,
      type: GgmlType.F16,
      data: () => tensorRng.fillNormal(new Float32Array(count), init.std),
    };
  });
  const written = await writeGguf(path, { kvs: [...kvs, ...vocab.kvs], tensors }, { signal: options.signal });
  const parameterCount = specs.reduce((sum, s) => sum + s.dims.reduce((a, b) => a * b, 1), 0);
  return {
    path,
    bytes: written.bytes,
    architecture: recipe.shape.architecture,
    tensorCount: tensors.length,
    parameterCount,
    vocab,
    shape,
  };
}
