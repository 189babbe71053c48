import erfc from '@stdlib/math-base-special-erfc';
import gammainc from '@stdlib/math-base-special-gammainc';

/**
 * Distribution tails used by the tests. Special functions come from stdlib (well-kept, tested
 * numerics) rather than hand-written series; only the Kolmogorov tail, a plain alternating series, is here.
 */

/** Upper tail of the standard normal, P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Two-sided normal p-value, P(|Z| > |z|). */
export function normalTwoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Survival function of χ² with `dof` degrees of freedom: the regularized upper incomplete gamma Q(dof/2, x/2). */
export function chiSquareSf(x: number, dof: number): number {
  if (!(dof > 0)) return Number.NaN;
  if (x <= 0) return 1;
  return gammainc(x / 2, dof / 2, true, true);
}

/**
 * Survival function of the limiting Kolmogorov distribution (scipy.special.kolmogorov,
 * scipy.stats.kstwobign.sf): P(K > x) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²x²}. For small x that series
 * converges slowly, so there the complementary (Jacobi theta) form is used:
 * P(K ≤ x) = √(2π)/x Σ_{k≥1} e^{−(2k−1)²π²/(8x²)}.
 */
export function kolmogorovSf(x: number): number {
  if (!(x > 0)) return 1;
  if (x < 1) {
    const w = (Math.PI * Math.PI) / (8 * x * x);
    let sum = 0;
    for (let k = 1; k < 100; k++) {
      const term = Math.exp(-(2 * k - 1) * (2 * k - 1) * w);
      sum += term;
      if (term < 1e-18 * sum) break;
    }
    return 1 - (Math.sqrt(2 * Math.PI) / x) * sum;
  }
  let sum = 0;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(-2 * k * k * x * x);
    sum += k % 2 === 1 ? term : -term;
    if (term < 1e-18) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** Two-sided 97.5% standard-normal quantile, scipy.special.ndtri(0.975), for 95% intervals. */
export const Z_975 = 1.959963984540054;
