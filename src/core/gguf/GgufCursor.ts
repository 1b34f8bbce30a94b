import type { FileHandle } from "node:fs/promises";
import { AppError } from "../errors.js";

/** Bytes read per refill: large enough that a 150k-token vocabulary needs only a few reads. */
const CHUNK_SIZE = 1 << 20;

/**
 * A forward-only reader over a GGUF file through positional reads of one chunk at a time, so a multi-GB model is
 * never read whole. Reads are two-step for speed: `has(n)` is synchronous and `fill(n)` is awaited only when the
 * buffered chunk runs out, which keeps a 150k-entry string array from costing 150k awaits.
 */
export class GgufCursor {
  /** Absolute file offset of the next byte to read. */
  pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    readonly fileSize: number,
  ) {}

  /** Bytes between the cursor and the end of the file. */
  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** True if the next `n` bytes are already buffered. */
  has(n: number): boolean {
    return this.pos + n <= this.bufStart + this.buf.length;
  }

  /**
   * Buffers at least the next `n` bytes. Throws `gguf/truncated` naming `what` if the file ends first.
   * Callers check lengths against the file size before calling, so `n` is never an unchecked value.
   */
  async fill(n: number, what: string): Promise<void> {
    if (n > this.remaining) throw this.truncated(what);
    const size = Math.min(Math.max(n, CHUNK_SIZE), this.remaining);
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await this.handle.read(buf, done, size - done, this.pos + done);
      // The file shrank under us after the size check; report it like any other truncation.
      if (bytesRead === 0) throw this.truncated(what);
      done += bytesRead;
    }
    this.buf = buf;
    this.bufStart = this.pos;
  }

  /** Ensures `n` bytes are buffered (see {@link fill}). */
  async need(n: number, what: string): Promise<void> {
    if (!this.has(n)) await this.fill(n, what);
  }

  /** Buffer offset of the cursor; advances it by `n`. Only valid after `has(n)`. */
  private take(n: number): number {
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }
  i8(): number {
    return this.buf.readInt8(this.take(1));
  }
  u16(): number {
    return this.buf.readUInt16LE(this.take(2));
  }
  i16(): number {
    return this.buf.readInt16LE(this.take(2));
  }
  u32(): number {
    return this.buf.readUInt32LE(this.take(4));
  }
  i32(): number {
    return this.buf.readInt32LE(this.take(4));
  }
  f32(): number {
    return this.buf.readFloatLE(this.take(4));
  }
  f64(): number {
    return this.buf.readDoubleLE(this.take(8));
  }
  u64(): bigint {
    return this.buf.readBigUInt64LE(this.take(8));
  }
  i64(): bigint {
    return this.buf.readBigInt64LE(this.take(8));
  }

  /**
   * A u64 as a JS number. Exact below 2^53; larger values come out approximate but still larger than any file, so
   * size checks on them fail as they should.
   */
  u64Number(): number {
    const at = this.take(8);
    return this.buf.readUInt32LE(at) + this.buf.readUInt32LE(at + 4) * 0x1_0000_0000;
  }

  /** `n` buffered bytes decoded as UTF-8 (invalid sequences become U+FFFD, as in every GGUF reader in JS). */
  utf8(n: number): string {
    const at = this.take(n);
    return this.buf.toString("utf8", at, at + n);
  }

  /** A copy of `n` buffered bytes as a plain Uint8Array (not a Buffer, so it compares equal to what was written). */
  bytes(n: number): Uint8Array {
    const at = this.take(n);
    const copy = new Uint8Array(n);
    copy.set(this.buf.subarray(at, at + n));
    return copy;
  }

  /** Moves the cursor forward to `pos` (which may lie past the buffer). */
  seek(pos: number): void {
    this.pos = pos;
  }

  /** A `gguf/truncated` error for a read of `what` at the cursor. */
  truncated(what: string, at = this.pos): AppError {
    return new AppError(
      "gguf/truncated",
      `GGUF file "${this.path}" is truncated: ${what} at byte ${at} runs past the end of the file ` +
        `(${this.fileSize} bytes).`,
      { path: this.path, offset: at, fileSize: this.fileSize },
    );
  }

  /** A `gguf/invalid` error for a bad value in `what` at byte `at`. */
  invalid(what: string, reason: string, at = this.pos): AppError {
    return new AppError("gguf/invalid", `GGUF file "${this.path}" is invalid: ${what} at byte ${at}: ${reason}.`, {
      path: this.path,
      offset: at,
    });
  }
}
