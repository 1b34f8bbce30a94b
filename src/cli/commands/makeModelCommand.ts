import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { BENCH_MODEL, TINY_MODEL, writeSyntheticAdapter, writeSyntheticModel } from "../../core/gguf/syntheticModel.js";
import { intFlag, UsageError, type CliContext } from "../CliContext.js";

export const MAKE_MODEL_USAGE =
  "prism make-model --out <model.gguf> [--size tiny|bench] [--context N] [--seed N] [--adapter-out <adapter.gguf>]";

/**
 * `prism make-model`: writes a deterministic random-weight GGUF (byte-level vocabulary, ChatML template) and
 * optionally a matching LoRA adapter. No weights can be downloaded in CI or offline demos; these files let
 * every part of PRISM run anyway. Their text output is gibberish: they prove mechanics, not quality.
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
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}".`);
  if (!values.out) throw new UsageError("--out is required.");
  const size = values.size ?? "tiny";
  if (size !== "tiny" && size !== "bench") throw new UsageError(`--size must be tiny or bench, got "${size}".`);
  const seed = intFlag("seed", values.seed, 0, 2 ** 31 - 1) ?? 1;
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
