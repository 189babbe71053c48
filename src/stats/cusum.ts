/**
 * Two-sided CUSUM (Page 1954) on a per-bucket statistic standardised against a fixed reference
 * (design §6, docs/alerting.md): with z_t the bucket's standardised deviation from the reference,
 *   S⁺_t = max(0, S⁺_{t−1} + z_t − k),   S⁻_t = max(0, S⁻_{t−1} − z_t − k),
 * and an alarm while max(S⁺, S⁻) > h. k = δ/2 makes it the optimal detector of a mean shift of δ
 * standard deviations (Moustakides 1986); h sets the in-control average run length (ARL0). For
 * Gaussian z, Siegmund's approximation gives one-sided ARL0 ≈ (e^{2k(h+1.166)} − 2k(h+1.166) − 1)/(2k²)
 * and the two-sided ARL0 is about half of it; CUSUM_DEFAULTS (k 0.5, h 10) give ≈ 70,000 buckets —
 * 49 days of 1-minute buckets — and test/unit/stats/cusum.test.ts measures it by simulation on binomial
 * counts (≥ 30 days). A shift that persists keeps the statistic above h: the alarm stays on for as
 * long as the shift does, however slowly it arrived. The statistic is capped at `cap`·h so that it
 * comes back below h within (cap − 1)·h/k buckets once the shift ends (about 20 minutes at the defaults).
 */

export interface CusumParams {
  /** Reference value (allowance), in standard units: half the shift to detect. */
  k: number;
  /** Decision interval, in standard units. */
  h: number;
  /** The statistic is capped at cap·h (bounded recovery after the shift ends). */
  cap: number;
}

export const CUSUM_DEFAULTS: CusumParams = { k: 0.5, h: 10, cap: 2 };

export interface CusumState {
  upper: number;
  lower: number;
  /** Observations folded in. */
  steps: number;
}

export const CUSUM_START: CusumState = { upper: 0, lower: 0, steps: 0 };

/** Folds one standardised observation into the statistic. */
export function cusumStep(state: CusumState, z: number, params: CusumParams = CUSUM_DEFAULTS): CusumState {
  if (!Number.isFinite(z)) return state;
  const cap = params.cap * params.h;
  return {
    upper: Math.min(cap, Math.max(0, state.upper + z - params.k)),
    lower: Math.min(cap, Math.max(0, state.lower - z - params.k)),
    steps: state.steps + 1,
  };
}

/** The statistic compared with h: the larger side. */
export function cusumStatistic(state: CusumState): number {
  return Math.max(state.upper, state.lower);
}

/**
 * Standardised deviation of a bucket's share x/n from the reference share p0, under a binomial
 * variance inflated by `dispersion` φ (quasi-binomial: φ > 1 when documents come in correlated
 * clusters, e.g. a syndicated story republished with the same tone — for clusters of 1 + Poisson(λ)
 * documents φ ≈ (1 + 3λ + λ²)/(1 + λ)). NaN when there is nothing to standardise.
 */
export function standardizedShare(x: number, n: number, p0: number, dispersion = 1): number {
  if (!(n > 0) || !(p0 > 0 && p0 < 1)) return Number.NaN;
  return (x / n - p0) / Math.sqrt((dispersion * p0 * (1 - p0)) / n);
}
