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

/**
 * The error function by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). That is below the float32 resolution the
 * weights are stored in, so the "exact" GELU is exact for every practical purpose; JavaScript has no Math.erf.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const y = 1 - poly * Math.exp(-ax * ax);
  return x < 0 ? -y : y;
}

/** GELU of `x` in the given form. */
export function gelu(x: number, activation: GateActivation): number {
  if (activation === "gelu") return 0.5 * x * (1 + erf(x * INV_SQRT2));
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x)));
}

/** d GELU / dx at `x` in the given form. */
export function geluDerivative(x: number, activation: GateActivation): number {
  if (activation === "gelu") {
    // d/dx [x·Φ(x)] = Φ(x) + x·φ(x)
    return 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
  }
  const t = Math.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * TANH_CUBIC * x * x);
}
