import { AppError } from "../errors.js";
import type { BaseModelFacts } from "./readBaseModelFacts.js";
import type { GgufLora } from "./readGgufLora.js";

/**
 * Checks that `lora` is for `model`'s architecture and that every pair adapts an existing weight of the model with
 * matching `[n_in, n_out]`, so llama.cpp never sees a LoRA that does not fit. `where` names the file in messages.
 * @throws AppError `peft/shapeMismatch`.
 */
export function checkLoraAgainstModel(lora: GgufLora, model: BaseModelFacts, where: string): void {
  if (lora.architecture !== model.architecture) {
    throw new AppError(
      "peft/shapeMismatch",
      `${where} is for architecture ${lora.architecture}, the model is ${model.architecture}.`,
    );
  }
  for (const p of lora.pairs) {
    const name = `blk.${p.block}.${p.target}.weight`;
    const dims = model.matrices.get(name);
    if (!dims) throw new AppError("peft/shapeMismatch", `${where} adapts ${name}, which the model does not have.`);
    if (dims[0] !== p.nIn || dims[1] !== p.nOut) {
      throw new AppError(
        "peft/shapeMismatch",
        `${where}: the LoRA of ${name} maps ${p.nIn} → ${p.nOut}, the model's weight ${dims[0]} → ${dims[1]}.`,
      );
    }
  }
}
