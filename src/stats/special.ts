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

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = LANCZOS[0]!;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * One-sided Fisher exact test of a 2×2 table: x1 hits of n1 against x2 hits of n2. `greater`: the
 * probability, given the margins, of x1 or more hits in the first row (scipy.stats.fisher_exact(
 * [[x1, n1−x1], [x2, n2−x2]], alternative="greater")); `less`: of x1 or fewer. Exact for the small
 * groups where the normal approximation of the z-test overstates significance by orders of magnitude.
 */
export function fisherExactOneSided(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  alternative: 'greater' | 'less',
): number {
  if (!(n1 > 0) || !(n2 > 0)) return 1;
  const hits = x1 + x2;
  const total = n1 + n2;
  const lo = Math.max(0, n1 - (total - hits));
  const hi = Math.min(hits, n1);
  const logDenominator = logChoose(total, n1);
  const pmf = (k: number) => Math.exp(logChoose(hits, k) + logChoose(total - hits, n1 - k) - logDenominator);
  let p = 0;
  if (alternative === 'greater') for (let k = Math.max(x1, lo); k <= hi; k++) p += pmf(k);
  else for (let k = lo; k <= Math.min(x1, hi); k++) p += pmf(k);
  return Math.min(1, Math.max(0, p));
}

/**
 * Upper-tail standard-normal quantile: z with P(Z > z) = tail (scipy.special.ndtri(1 − tail)).
 * Newton's method on normalSf from a logistic start; converges to ~1e-15 in a few steps for the tails
 * the interval code uses (1e-12 … 0.5).
 */
export function normalUpperQuantile(tail: number): number {
  if (!(tail > 0 && tail < 1)) throw new RangeError(`normalUpperQuantile: tail ${tail} not in (0, 1)`);
  if (tail > 0.5) return -normalUpperQuantile(1 - tail);
  let z = Math.sqrt(-2 * Math.log(tail)); // ≥ the quantile; Newton descends monotonically from above
  for (let i = 0; i < 50; i++) {
    const density = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
    const step = (normalSf(z) - tail) / density;
    z += step;
    if (Math.abs(step) < 1e-14 * Math.max(1, Math.abs(z))) break;
  }
  return z;
}
