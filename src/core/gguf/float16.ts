/**
 * IEEE 754 binary16 conversion, as ggml's F16 tensors need: float32 → float16 with round-to-nearest-even
 * (ties to even, subnormals rounded too, overflow to ±Infinity, NaN kept as a quiet NaN), and back.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bit pattern of `value` (first rounded to float32, as a Float32Array would). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  return bitsToHalf(u32[0] ?? 0);
}

/** The value of a float16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Writes `src` as little-endian float16 into `dst` starting at byte `offset` (`dst` needs `2 * src.length` bytes).
 * One pass over the float32 bit patterns, without allocating: the 150M-parameter bench model goes through here.
 */
export function encodeFloat16(src: Float32Array, dst: Uint8Array, offset = 0): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0, o = offset; i < bits.length; i++, o += 2) {
    const h = bitsToHalf(bits[i] ?? 0);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
  }
}

function bitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal result: shift the 24-bit significand (implicit 1 included) right and round to nearest even.
    // Beyond a shift of 24 the value is below half the smallest subnormal and rounds to zero.
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1) !== 0)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and out of exponent 30 it gives Infinity: both are correct.
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) !== 0)) r++;
  return sign | r;
}
