import { AppError } from "../errors.js";
import { AtomicWriter } from "../util/AtomicWriter.js";
import { SAFETENSORS_DTYPE_SIZES, type SafetensorsContent } from "./safetensorsDtypes.js";

/** Options of {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** Cancels between tensors; nothing is left behind. Defaults to none. */
  signal?: AbortSignal;
}

/**
 * Writes a safetensors file atomically (docs/peft.md §2): the 8-byte little-endian header length, the JSON header
 * (tensors in the given order with consecutive `data_offsets`, then `__metadata__` when non-empty) padded with
 * spaces so that the data section starts at a multiple of 8 bytes, then each tensor's bytes. Readers see the old
 * file or the complete new one.
 *
 * @throws AppError `peft/invalid` when a tensor's byte count disagrees with its dtype and shape or a name repeats
 *   (nothing is written); `io/writeFailed` when the file system refuses.
 */
export async function writeSafetensors(
  path: string,
  content: SafetensorsContent,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  options.signal?.throwIfAborted();
  const header = encodeSafetensorsHeader(content);
  const writer = new AtomicWriter(path);
  try {
    await writer.write(header);
    for (const t of content.tensors) {
      options.signal?.throwIfAborted();
      await writer.write(t.data);
    }
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** The length prefix plus the space-padded JSON header of `content`, validated; exported for tests. */
export function encodeSafetensorsHeader(content: SafetensorsContent): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of content.tensors) {
    if (t.name === "__metadata__" || Object.hasOwn(header, t.name)) {
      throw new AppError("peft/invalid", `Refusing to write tensor "${t.name}": the name is reserved or repeats.`);
    }
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const bytes = elements * SAFETENSORS_DTYPE_SIZES[t.dtype];
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || bytes !== t.data.byteLength) {
      throw new AppError(
        "peft/invalid",
        `Refusing to write tensor "${t.name}": ${t.data.byteLength} bytes for ${t.dtype} [${t.shape.join(", ")}].`,
      );
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  if (Object.keys(content.metadata).length > 0) header.__metadata__ = content.metadata;
  const json = Buffer.from(JSON.stringify(header), "utf8");
  // Spaces are JSON whitespace, so readers that ignore the alignment still parse the padded header.
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
