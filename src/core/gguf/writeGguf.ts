import { randomBytes } from "node:crypto";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { dirname } from "node:path";
import { AppError } from "../errors.js";
import { encodeGgufHeader, type GgufKvInput } from "./encodeGgufHeader.js";
import { encodeFloat16 } from "./float16.js";
import { GGUF_DEFAULT_ALIGNMENT, GgmlType, GgufValueType, ggmlTensorByteSize, ggmlTypeName } from "./ggufTypes.js";

export type { GgufKvInput } from "./encodeGgufHeader.js";

/** Raw tensor bytes: one buffer, or chunks (sync or async) so a large tensor can stream from another file. */
export type GgufTensorBytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Tensor data: float32 values (written as F32 or F16), raw bytes, or a function producing either when written. */
export type GgufTensorData =
  Float32Array | GgufTensorBytes | (() => Float32Array | GgufTensorBytes | Promise<Float32Array | GgufTensorBytes>);

/** A tensor to write. */
export interface GgufTensorInput {
  /** Tensor name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  /** Dimensions in ggml order (`ne[0]` innermost), 1 … 4 of them. */
  dims: readonly number[];
  /** ggml type. A Float32Array source needs F32 or F16; raw bytes may be of any type. */
  type: GgmlType;
  /** The data; its size is checked against type and dims. A function is called only when this tensor is written. */
  data: GgufTensorData;
}

/** The content of a GGUF file. */
export interface GgufContent {
  /** Metadata in the order to write it. `general.alignment`, if present, must be a typed u32. */
  kvs: readonly GgufKvInput[];
  /** Tensors in the order to write them; data offsets are assigned in this order. */
  tensors: readonly GgufTensorInput[];
}

/** Options of {@link writeGguf}. */
export interface WriteGgufOptions {
  /** Aborts between chunks; the temp file is removed and the signal's reason is thrown. Defaults to none. */
  signal?: AbortSignal;
}

/** What {@link writeGguf} wrote. */
export interface WriteGgufResult {
  /** The final path. */
  path: string;
  /** File size in bytes. */
  bytes: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
}

/** Output buffer size: few syscalls, and a bounded footprint however big the model is. */
const WRITE_CHUNK = 1 << 20;
/** float32 values converted per F16 chunk (2 bytes each, so one chunk buffer). */
const F16_CHUNK = WRITE_CHUNK / 2;
const LITTLE_ENDIAN = endianness() === "LE";

/**
 * Writes a GGUF v3 little-endian file: header, KVs, tensor infos, padding to the alignment (`general.alignment`
 * or 32), then each tensor's data padded to the alignment. Streams tensor by tensor, so memory stays at one
 * tensor plus a 1 MiB buffer. Atomic: writes `<path>.tmp-<pid>-<random>`, fsyncs and renames it over `path`.
 * Deterministic: the same content gives the same bytes.
 *
 * Errors: `gguf/writeFailed` naming the path and the cause (after removing the temp file); an abort rethrows the
 * signal's reason.
 */
export async function writeGguf(
  path: string,
  content: GgufContent,
  options: WriteGgufOptions = {},
): Promise<WriteGgufResult> {
  const { signal } = options;
  const tmpPath = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  let handle: FileHandle | undefined;
  try {
    signal?.throwIfAborted();
    const alignment = alignmentOf(content.kvs);
    const layout = layoutTensors(content.tensors, alignment);
    const header = encodeGgufHeader(content.kvs, layout.infos);
    handle = await open(tmpPath, "wx");
    const out = new ChunkedWriter(handle);
    await out.write(header);
    await out.pad(alignment);
    const dataOffset = out.written;
    for (const [i, tensor] of content.tensors.entries()) {
      signal?.throwIfAborted();
      const byteSize = layout.infos[i]?.byteSize ?? 0;
      await writeTensorData(out, tensor, byteSize, signal);
      await out.pad(alignment);
    }
    await out.flush();
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmpPath, path);
    await syncDirectory(dirname(path));
    return { path, bytes: out.written, dataOffset };
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await rm(tmpPath, { force: true }).catch(() => undefined);
    if (signal?.aborted && err === signal.reason) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppError("gguf/writeFailed", `Failed to write GGUF file "${path}": ${reason}`, { path }, { cause: err });
  }
}

function alignmentOf(kvs: readonly GgufKvInput[]): number {
  const seen = new Set<string>();
  for (const kv of kvs) {
    if (seen.has(kv.key)) throw new Error(`duplicate KV "${kv.key}"`);
    seen.add(kv.key);
  }
  const entry = kvs.find((kv) => kv.key === "general.alignment");
  if (!entry) return GGUF_DEFAULT_ALIGNMENT;
  if ("rawValue" in entry || entry.value.type !== GgufValueType.Uint32) {
    throw new Error(`"general.alignment" must be given as a typed u32`);
  }
  const a = entry.value.value;
  if (!Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) throw new Error(`alignment ${a} is not a power of two`);
  return a;
}

function layoutTensors(tensors: readonly GgufTensorInput[], alignment: number) {
  const names = new Set<string>();
  let offset = 0;
  const infos = tensors.map((t) => {
    if (names.has(t.name)) throw new Error(`duplicate tensor "${t.name}"`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new Error(`tensor "${t.name}" has invalid dims [${t.dims.join(", ")}]`);
    }
    const byteSize = ggmlTensorByteSize(t.type, t.dims);
    if (typeof byteSize === "string") throw new Error(`tensor "${t.name}": ${byteSize}`);
    const info = { name: t.name, dims: t.dims, type: t.type, offset, byteSize };
    offset += Math.ceil(byteSize / alignment) * alignment;
    return info;
  });
  return { infos };
}

async function writeTensorData(
  out: ChunkedWriter,
  tensor: GgufTensorInput,
  byteSize: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const data = typeof tensor.data === "function" ? await tensor.data() : tensor.data;
  const what = `tensor "${tensor.name}"`;
  if (data instanceof Float32Array) {
    const bytesPerValue = tensor.type === GgmlType.F32 ? 4 : tensor.type === GgmlType.F16 ? 2 : 0;
    if (bytesPerValue === 0) {
      throw new Error(`${what}: float32 data can only be written as F32 or F16, not ${ggmlTypeName(tensor.type)}`);
    }
    if (data.length * bytesPerValue !== byteSize) {
      throw new Error(
        `${what}: ${data.length} values, but its dims [${tensor.dims.join(", ")}] need ${byteSize / bytesPerValue}`,
      );
    }
    if (bytesPerValue === 4) await out.write(float32Bytes(data));
    else await writeFloat16(out, data, signal);
    return;
  }
  if (data instanceof Uint8Array) {
    if (data.length !== byteSize) throw new Error(`${what}: ${data.length} bytes given, ${byteSize} expected`);
    await out.write(data);
    return;
  }
  let total = 0;
  for await (const chunk of data) {
    signal?.throwIfAborted();
    total += chunk.length;
    if (total > byteSize) throw new Error(`${what}: more than the expected ${byteSize} bytes given`);
    await out.write(chunk);
  }
  if (total !== byteSize) throw new Error(`${what}: ${total} bytes given, ${byteSize} expected`);
}

function float32Bytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bytes = Buffer.allocUnsafe(data.byteLength);
  for (let i = 0; i < data.length; i++) bytes.writeFloatLE(data[i] ?? 0, i * 4);
  return bytes;
}

async function writeFloat16(out: ChunkedWriter, data: Float32Array, signal: AbortSignal | undefined): Promise<void> {
  const chunk = Buffer.allocUnsafe(Math.min(data.length, F16_CHUNK) * 2);
  for (let start = 0; start < data.length; start += F16_CHUNK) {
    signal?.throwIfAborted();
    const part = data.subarray(start, start + F16_CHUNK);
    encodeFloat16(part, chunk);
    await out.write(chunk.subarray(0, part.length * 2));
  }
}

/** Best-effort fsync of the directory so the rename itself is durable; not possible on every platform. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open directories; the file itself is already synced.
  }
}

/** Sequential writes through one reusable buffer. */
class ChunkedWriter {
  /** Bytes accepted so far (buffered or on disk). */
  written = 0;
  private readonly buf = Buffer.allocUnsafe(WRITE_CHUNK);
  private used = 0;

  constructor(private readonly handle: FileHandle) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (this.used + bytes.length > this.buf.length) await this.flush();
    if (bytes.length >= this.buf.length) await this.writeAll(bytes);
    else {
      this.buf.set(bytes, this.used);
      this.used += bytes.length;
    }
    this.written += bytes.length;
  }

  async pad(alignment: number): Promise<void> {
    const n = (alignment - (this.written % alignment)) % alignment;
    if (n > 0) await this.write(new Uint8Array(n));
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.writeAll(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done);
      done += bytesWritten;
    }
  }
}
