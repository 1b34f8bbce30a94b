/**
 * A small deterministic PRNG (xoshiro128**, seeded through splitmix32) with a Box-Muller normal sampler. Same seed,
 * same sequence, on every platform: fixtures generated from it are byte-identical across runs and machines.
 * Not for anything security-related.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The second value of the last Box-Muller pair, or NaN when none is pending. */
  private spare = NaN;

  /** @param seed Any number; it is reduced to 32 bits. */
  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      // splitmix32: spreads any seed, 0 included, over a non-zero xoshiro state.
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /**
   * An independent generator for `label`, derived from this one's seed only (not its state), so e.g. each tensor
   * gets the same values whatever order tensors are generated in.
   */
  fork(label: string): SeededRandom {
    let h = 0x811c9dc5 ^ this.seed;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    return new SeededRandom(h >>> 0);
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform float in the open interval (0, 1): never 0, so it is safe under `Math.log`. */
  float(): number {
    return (this.uint32() + 0.5) / 0x1_0000_0000;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A standard normal sample (Box-Muller; both values of each pair are used). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.float()));
    const theta = 2 * Math.PI * this.float();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Fills `dst` with normal samples of standard deviation `std` and returns it. */
  fillNormal(dst: Float32Array, std = 1): Float32Array {
    for (let i = 0; i < dst.length; i++) dst[i] = this.normal() * std;
    return dst;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
