import { describe, expect, it } from "vitest";
import { encodeFloat16, float16BitsToFloat32, float32ToFloat16Bits } from "../../../src/core/gguf/float16.js";
import { SeededRandom } from "../../../src/core/util/SeededRandom.js";

const hex = (bits: number): string => `0x${bits.toString(16).padStart(4, "0")}`;

/** Reference rounding: the nearest of the two float16 neighbours, ties to the even bit pattern. */
function referenceBits(x: number): number {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp (16)
  // Binary search for the largest finite magnitude <= a (bit patterns are monotonic in value).
  let lo = 0;
  let hi = 0x7bff;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (float16BitsToFloat32(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  const down = float16BitsToFloat32(lo);
  const up = float16BitsToFloat32(lo + 1);
  const pick = a - down < up - a ? lo : a - down > up - a ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return sign | pick;
}

describe("float16", () => {
  it("rounds the edge cases to nearest, ties to even", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff], // max finite
      [65519.99, 0x7bff], // just under the overflow midpoint
      [65520, 0x7c00], // the midpoint rounds to even, which is Infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: even is 1
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 1+2^-10 and 1+2^-9: even is the latter
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie rounds up
      [2 ** -14, 0x0400], // min normal
      [2 ** -24, 0x0001], // min subnormal
      [2 ** -25, 0x0000], // tie between 0 and min subnormal: even is 0
      [2 ** -25 * 1.0001, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between subnormals 1 and 2: even is 2
      [5 * 2 ** -25, 0x0002], // tie between 2 and 3: even is 2
      [1023.5 * 2 ** -24, 0x0400], // largest subnormal + half an ulp carries into the min normal
      [2 ** -26, 0x0000],
      [1e-45, 0x0000], // float32 subnormal
      [-(2 ** -24), 0x8001],
    ];
    for (const [value, bits] of cases) expect(hex(float32ToFloat16Bits(value)), String(value)).toBe(hex(bits));
    expect(float32ToFloat16Bits(NaN) & 0x7e00).toBe(0x7e00);
  });

  it("round-trips every finite float16 and matches the reference on random values", () => {
    // Mismatches are collected rather than asserted one by one: 85k expect() calls would dominate the run time.
    const mismatches: string[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0) continue; // NaN payloads
      if (float32ToFloat16Bits(float16BitsToFloat32(bits)) !== bits) mismatches.push(hex(bits));
    }
    const rng = new SeededRandom(42);
    for (let i = 0; i < 20_000; i++) {
      // Spread over the whole range: subnormal, normal and overflowing magnitudes.
      const x = (rng.float() - 0.5) * 2 ** (rng.int(50) - 30);
      if (float32ToFloat16Bits(x) !== referenceBits(x)) mismatches.push(String(x));
      // Midpoints between neighbours exercise ties-to-even everywhere, subnormals included.
      const bits = rng.int(0x7bff);
      const mid = (float16BitsToFloat32(bits) + float16BitsToFloat32(bits + 1)) / 2;
      if (float32ToFloat16Bits(mid) !== referenceBits(mid)) mismatches.push(`midpoint ${mid}`);
    }
    expect(mismatches).toEqual([]);
  });

  it("encodes arrays little-endian at an offset", () => {
    const out = new Uint8Array(7);
    encodeFloat16(Float32Array.of(1, -2, 65520), out, 1);
    expect(Array.from(out)).toEqual([0, 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c]);
  });
});
