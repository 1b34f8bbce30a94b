import { basename } from "node:path";
import { GgufValueType } from "../gguf/ggufTypes.js";
import { getGgufValue, readGguf, requireGgufValue } from "../gguf/readGguf.js";

/** What PEFT export and import need to know about a base GGUF, read from its header only. */
export interface BaseModelFacts {
  /** `general.architecture`. */
  architecture: string;
  /** `<arch>.block_count`. */
  blocks: number;
  /** `<arch>.embedding_length`: the width of the gate's features. */
  embeddingLength: number;
  /** `<arch>.attention.head_count`. */
  headCount: number;
  /** `<arch>.attention.head_count_kv` (`headCount` when absent, as llama.cpp reads it). */
  headCountKv: number;
  /** ggml dims (`[n_in, n_out]`) of every 2-D tensor, by name. */
  matrices: Map<string, readonly [number, number]>;
  /**
   * A name for `base_model_name_or_path`: the Hugging Face repository convert_hf_to_gguf.py recorded, else
   * `general.name`, else the file name without `.gguf`.
   */
  displayName: string;
}

const INT = [GgufValueType.Uint32, GgufValueType.Int32, GgufValueType.Uint64];

/** Reads {@link BaseModelFacts} from the GGUF at `path`. Errors: `gguf/*` (unreadable file, missing hyper-parameters). */
export async function readBaseModelFacts(
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<BaseModelFacts> {
  const file = await readGguf(path, { signal: options.signal });
  const arch = requireGgufValue(file, "general.architecture", GgufValueType.String);
  const headCount = Number(requireGgufValue(file, `${arch}.attention.head_count`, INT));
  const matrices = new Map<string, readonly [number, number]>();
  for (const t of file.tensors) if (t.dims.length === 2) matrices.set(t.name, [t.dims[0] ?? 0, t.dims[1] ?? 0]);
  const repo = getGgufValue(file, "general.source.huggingface.repository", GgufValueType.String);
  const name = getGgufValue(file, "general.name", GgufValueType.String);
  return {
    architecture: arch,
    blocks: Number(requireGgufValue(file, `${arch}.block_count`, INT)),
    embeddingLength: Number(requireGgufValue(file, `${arch}.embedding_length`, INT)),
    headCount,
    headCountKv: Number(getGgufValue(file, `${arch}.attention.head_count_kv`, INT) ?? headCount),
    matrices,
    displayName: repo || name || basename(path).replace(/\.gguf$/i, ""),
  };
}
