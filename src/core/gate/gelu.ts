/**
 * The gate's activation, GELU, in the two forms PyTorch offers: exact (`x·Φ(x)` with Φ from erf,
 * `nn.GELU()`) and the tanh approximation (`nn.GELU(approximate="tanh")`), each with its derivative for training.
 */

/** Every {@link GateActivation}, for validation. */
export const GATE_ACTIVATIONS = ["gelu", "geluTanh"] as const;

/** Which GELU a gate uses: `"gelu"` is the exact erf form (PyTorch's default), `"geluTanh"` the tanh approximation. */
export type GateActivation = (typeof GATE_ACTIVATIONS)[number];

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const TANH_CUBIC = 0.044715;

/** Below this |x|, erf comes from its power series; at and above it, erfc from its continued fraction. */
const SERIES_LIMIT = 2.5;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
/** 1/(2n+1) for every n the series can need below {@link SERIES_LIMIT} (about 40): a multiply beats a divide. */
const INV_ODD = Float64Array.from({ length: 64 }, (_, n) => 1 / (2 * n + 1));

/**
 * erf(x) for 0 ≤ x < {@link SERIES_LIMIT}: (2/√π)·e^(−x²)·Σ 2ⁿx^(2n+1)/(2n+1)!!. All terms are positive, so there is
 * no cancellation; at most about 40 terms. Absolute error about 1e-15.
 */
function erfSeries(x: number): number {
  const twoX2 = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; term > 1e-17 * sum && n < INV_ODD.length; n++) {
    term *= twoX2 * INV_ODD[n];
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/**
 * erfc(x) for x ≥ {@link SERIES_LIMIT} by the continued fraction e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))),
 * evaluated backwards from a fixed depth that reaches double precision at x = 2.5. Relative error about 5e-16.
 */
function erfcContinuedFraction(x: number): number {
  let f = x;
  for (let k = 50; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/**
 * The error function to about 1e-15 (JavaScript has no Math.erf). Hand-rolled from its power series and continued
 * fraction rather than a low-order approximation, so the "exact" GELU really matches PyTorch's `nn.GELU()`.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  const y = ax < SERIES_LIMIT ? erfSeries(ax) : 1 - erfcContinuedFraction(ax);
  return x < 0 ? -y : y;
}

/** The complementary error function 1 − erf(x), accurate relative to its value in the right tail as well. */
export function erfc(x: number): number {
  if (x >= SERIES_LIMIT) return erfcContinuedFraction(x);
  if (x <= -SERIES_LIMIT) return 2 - erfcContinuedFraction(-x);
  return 1 - erf(x);
}

/** Φ(x), the standard normal CDF, as ½·erfc(−x/√2) so the left tail keeps its relative precision. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT2);
}

/** GELU of `x` in the given form. */
export function gelu(x: number, activation: GateActivation): number {
  if (activation === "gelu") return x * normalCdf(x);
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x)));
}

/** d GELU / dx at `x` in the given form. */
export function geluDerivative(x: number, activation: GateActivation): number {
  if (activation === "gelu") {
    // d/dx [x·Φ(x)] = Φ(x) + x·φ(x)
    return normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
  }
  const t = Math.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * TANH_CUBIC * x * x);
}
