import { AppError } from "../errors.js";

/**
 * Reorders the rows of a row-major matrix between Hugging Face's and ggml's RoPE layouts for Llama's q/k
 * projections (docs/peft.md §3). convert_hf_to_gguf.py's `LlamaModel.permute` reshapes the rows as
 * `(heads, 2, rows / heads / 2)`, swaps the last two axes and flattens: within each head, the two halves of
 * rotate-half pairs become interleaved neighbours. So GGUF row `h·d + 2j + i` is Hugging Face row `h·d + i·d/2 + j`
 * (`d` = rows per head, `i` ∈ {0, 1}). `"toGguf"` applies that permutation, `"toHf"` its inverse.
 *
 * `data` holds `rows` rows of `rowBytes` bytes each; the result is a new array. Only whole rows move, so any dtype
 * works and the values are copied bit for bit.
 *
 * @throws AppError `peft/shapeMismatch` when `rows` is not a multiple of `2 × heads`.
 */
export function permuteRopeRows(
  data: Uint8Array,
  rows: number,
  heads: number,
  direction: "toGguf" | "toHf",
): Uint8Array {
  const perHead = rows / heads;
  if (!Number.isInteger(perHead) || perHead % 2 !== 0 || data.byteLength % rows !== 0) {
    throw new AppError(
      "peft/shapeMismatch",
      `Cannot reorder ${rows} rows for RoPE in ${heads} heads: each head needs an even number of rows.`,
      { rows, heads },
    );
  }
  const rowBytes = data.byteLength / rows;
  const half = perHead / 2;
  const out = new Uint8Array(data.byteLength);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < half; j++) {
        const hf = h * perHead + i * half + j;
        const gguf = h * perHead + 2 * j + i;
        const [from, to] = direction === "toGguf" ? [hf, gguf] : [gguf, hf];
        out.set(data.subarray(from * rowBytes, (from + 1) * rowBytes), to * rowBytes);
      }
    }
  }
  return out;
}
