import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AppError } from "../errors.js";
import type { HfTokenizerConfig, HfTokenizerJson } from "./vendorVocab.js";

/** A Hugging Face tokenizer read from disk. */
export interface HfTokenizerFiles {
  /** The parsed `tokenizer.json`. */
  tokenizer: HfTokenizerJson;
  /** The parsed `tokenizer_config.json`. */
  tokenizerConfig: HfTokenizerConfig;
}

/**
 * Reads and parses `tokenizer.json` and `tokenizer_config.json` from `dir` (a Hugging Face model folder, or an
 * npm tokenizer package's `models/`).
 *
 * Errors: `gguf/notFound` for a missing file, `gguf/invalid` for one that is not JSON; both name the file.
 */
export async function readHfTokenizer(dir: string): Promise<HfTokenizerFiles> {
  const read = async (name: string): Promise<unknown> => {
    const path = join(dir, name);
    try {
      return JSON.parse(await readFile(path, "utf8")) as unknown;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const code = (err as { code?: unknown }).code === "ENOENT" ? "gguf/notFound" : "gguf/invalid";
      throw new AppError(code, `Failed to read tokenizer file "${path}": ${reason}`, { path }, { cause: err });
    }
  };
  const [tokenizer, tokenizerConfig] = await Promise.all([read("tokenizer.json"), read("tokenizer_config.json")]);
  return { tokenizer: tokenizer as HfTokenizerJson, tokenizerConfig: tokenizerConfig as HfTokenizerConfig };
}
