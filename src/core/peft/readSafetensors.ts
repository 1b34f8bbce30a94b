import { open, type FileHandle } from "node:fs/promises";
import { AppError } from "../errors.js";
import {
  SAFETENSORS_DTYPE_SIZES,
  isSafetensorsDtype,
  type SafetensorsContent,
  type SafetensorsTensor,
} from "./safetensorsDtypes.js";

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /** The largest JSON header accepted, in bytes. Defaults to 100,000,000 (the reference implementation's limit). */
  maxHeaderBytes?: number;
  /** Cancels between reads. Defaults to none. */
  signal?: AbortSignal;
}

/** The reference implementation refuses headers over 100 MB; so do we, before allocating anything that large. */
const DEFAULT_MAX_HEADER_BYTES = 100_000_000;
/** No real tensor has more; a bound keeps a hostile header from making us multiply thousands of numbers. */
const MAX_DIMS = 8;
/** Names longer than this are not tensor names but an attempt to bloat memory. */
const MAX_NAME_LENGTH = 4096;

/**
 * Reads a safetensors file (docs/peft.md §2): an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * mapping each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data section)
 * plus an optional `__metadata__` string map, then the data section. Nothing in the file is trusted: the header
 * length is checked against the file size and a limit before it is read, every entry's dtype, shape and offsets are
 * checked, the byte count of each tensor must equal `product(shape) × size(dtype)`, and the tensors must tile the
 * data section exactly (no overlap, no gap, no trailing bytes), as the reference implementation requires.
 *
 * @throws AppError naming the file and the reason: `peft/notFound`; `peft/notSafetensors` (shorter than 8 bytes,
 *   a header that is not a UTF-8 JSON object); `peft/truncated` (the header or a tensor runs past the end);
 *   `peft/invalid` (header over the limit, malformed entries, overlapping or gapped offsets, sizes that disagree,
 *   trailing bytes); `peft/unsupportedDtype` (a dtype the format does not define).
 */
export async function readSafetensors(path: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsContent> {
  options.signal?.throwIfAborted();
  const handle = await openFile(path);
  try {
    const { size } = await handle.stat();
    if (size < 8) {
      throw new AppError("peft/notSafetensors", `${path} is not a safetensors file: it has only ${size} bytes.`);
    }
    const lengthBytes = await readAt(handle, 0, 8);
    const headerLength = Buffer.from(lengthBytes).readBigUInt64LE(0);
    const limit = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    if (headerLength > BigInt(limit)) {
      throw new AppError(
        "peft/invalid",
        `${path}: the header claims ${headerLength} bytes, more than the ${limit} accepted.`,
        { headerLength: headerLength.toString() },
      );
    }
    const n = Number(headerLength);
    if (8 + n > size) {
      throw new AppError(
        "peft/truncated",
        `${path}: the header claims ${n} bytes, but the file has ${size - 8} after the length.`,
      );
    }
    const header = parseHeader(path, await readAt(handle, 8, n));
    const dataStart = 8 + n;
    const dataLength = size - dataStart;
    const entries = checkLayout(path, header.entries, dataLength);
    const tensors: SafetensorsTensor[] = [];
    for (const e of entries) {
      options.signal?.throwIfAborted();
      tensors.push({
        name: e.name,
        dtype: e.dtype,
        shape: e.shape,
        data: await readAt(handle, dataStart + e.begin, e.end - e.begin),
      });
    }
    return { metadata: header.metadata, tensors };
  } finally {
    await handle.close();
  }
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsTensor["dtype"];
  shape: number[];
  begin: number;
  end: number;
}

async function openFile(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" || code === "ENOTDIR" ? "no such file" : `cannot be opened (${String(code)})`;
    throw new AppError("peft/notFound", `Safetensors file ${path}: ${why}.`, { path }, { cause: err });
  }
  const isFile = await handle.stat().then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    await handle.close();
    throw new AppError("peft/notSafetensors", `${path} is not a safetensors file: it is not a regular file.`);
  }
  return handle;
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    // The size was checked before; a short read means the file shrank under us.
    if (bytesRead === 0)
      throw new AppError("peft/truncated", `The file ended after ${position + done} bytes while reading.`);
    done += bytesRead;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, length);
}

function parseHeader(path: string, bytes: Uint8Array): { metadata: Record<string, string>; entries: HeaderEntry[] } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new AppError("peft/notSafetensors", `${path} is not a safetensors file: its header is not UTF-8.`);
  }
  // The reference implementation requires the JSON to open at the first byte; padding may only trail.
  if (!text.startsWith("{")) {
    throw new AppError("peft/notSafetensors", `${path} is not a safetensors file: its header does not start with "{".`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError("peft/notSafetensors", `${path}: the header is not valid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new AppError("peft/notSafetensors", `${path}: the header is not a JSON object.`);
  }
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new AppError("peft/invalid", `${path}: __metadata__ must be an object of strings.`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") throw new AppError("peft/invalid", `${path}: __metadata__.${k} is not a string.`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(path, name, value));
  }
  return { metadata, entries };
}

function parseEntry(path: string, name: string, value: unknown): HeaderEntry {
  const bad = (why: string) => new AppError("peft/invalid", `${path}: tensor "${name.slice(0, 200)}" ${why}.`);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) throw bad(`has a name of ${name.length} characters`);
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad("is not an object");
  const { dtype, shape, data_offsets: offsets, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw bad(`has unknown fields (${extra.slice(0, 3).join(", ")})`);
  if (typeof dtype !== "string") throw bad("has no dtype");
  if (!isSafetensorsDtype(dtype)) {
    throw new AppError(
      "peft/unsupportedDtype",
      `${path}: tensor "${name}" has dtype "${dtype.slice(0, 20)}", which safetensors does not define.`,
    );
  }
  if (!Array.isArray(shape) || shape.length > MAX_DIMS) throw bad(`needs a shape of at most ${MAX_DIMS} dimensions`);
  if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
    throw bad("has a shape that is not non-negative integers");
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw bad("needs data_offsets [begin, end] of non-negative integers");
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(`has data_offsets [${begin}, ${end}] that end before they begin`);
  let elements = 1;
  for (const d of shape as number[]) {
    elements *= d;
    if (!Number.isSafeInteger(elements))
      throw bad(`has a shape [${(shape as number[]).join(", ")}] too large to address`);
  }
  const bytes = elements * SAFETENSORS_DTYPE_SIZES[dtype];
  if (!Number.isSafeInteger(bytes) || bytes !== end - begin) {
    throw bad(`has ${end - begin} bytes, but ${dtype} [${(shape as number[]).join(", ")}] needs ${bytes}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Sorted by offset, the tensors must tile `[0, dataLength)` exactly, as the reference implementation checks. */
function checkLayout(path: string, entries: HeaderEntry[], dataLength: number): HeaderEntry[] {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: HeaderEntry | undefined;
  for (const e of sorted) {
    if (e.begin < expected) {
      throw new AppError(
        "peft/invalid",
        `${path}: tensor "${e.name}" overlaps "${previous?.name}" (bytes ${e.begin}…${expected}).`,
      );
    }
    if (e.begin > expected) {
      throw new AppError("peft/invalid", `${path}: bytes ${expected}…${e.begin} of the data belong to no tensor.`);
    }
    expected = e.end;
    previous = e;
  }
  if (expected > dataLength) {
    throw new AppError(
      "peft/truncated",
      `${path}: tensor "${previous?.name}" ends at data byte ${expected}, but the data section has ${dataLength}.`,
    );
  }
  if (expected < dataLength) {
    throw new AppError(
      "peft/invalid",
      `${path}: ${dataLength - expected} bytes after the last tensor belong to no tensor.`,
    );
  }
  return sorted;
}
