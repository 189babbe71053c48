import type { GroupRate } from './fairness.js';
import { normalUpperQuantile } from './special.js';
import { wilsonInterval } from './fairness.js';

/**
 * Confidence intervals for the dimension-wide fairness figures (design §5, docs/alerting.md), so that
 * a rule can test the hypothesis its threshold states — "the disparate impact ratio is below 0.8" —
 * instead of "the rates are not equal". A region whose true ratio is 0.85 is compliant however many
 * documents it has; a test of equal rates rejects more often the more documents there are.
 *
 * Both figures are extremes over the judged groups (DIR = min_{i,j} r_i / r_j, DPD = max_{i,j} r_i − r_j),
 * so their intervals are built from one interval per pair of groups, each at level 1 − α/M where
 * M = k(k−1)/2 is the number of pairs (Bonferroni). With probability ≥ 1 − α every pair's interval
 * covers its pair's true ratio (difference) at once, and then
 *   min_ij L_ij ≤ DIR ≤ min_ij U_ij      and      max_ij L_ij ≤ DPD ≤ max_ij U_ij,
 * a simultaneous (1 − α) interval for the figure whatever pair is truly the extreme one — the choice
 * of "the most different pair" after looking at the data is covered by the adjustment.
 *
 * Per pair:
 * - ratio of two proportions: Katz et al. (1978) log interval, log(p1/p2) ± z·√(1/x1 − 1/n1 + 1/x2 − 1/n2);
 *   when a count is 0 or equals its n the log is undefined and 0.5 is added to every cell of the 2×2
 *   table (x + 0.5, n + 1: Haldane–Anscombe), the usual correction;
 * - difference of two proportions: Newcombe's (1998) hybrid score interval (method 10) from the two
 *   Wilson intervals, which keeps its coverage near 0 and 1 where the Wald interval does not.
 */

export interface FairnessInterval {
  /** The point estimate (the figure itself). */
  estimate: number;
  low: number;
  high: number;
  /** Simultaneous confidence level, e.g. 0.95. */
  level: number;
  /** Pairs of judged groups the adjustment covers, k(k−1)/2. */
  pairs: number;
  /** The pair (numerator, denominator) — or (minuend, subtrahend) — whose interval gives the decision bound. */
  decidingPair: [string, string];
}

export interface PairInterval {
  estimate: number;
  low: number;
  high: number;
}

/** An interval for two proportions x1/n1 and x2/n2 at standard-normal quantile z; null when one is empty. */
export type PairFn = (x1: number, n1: number, x2: number, n2: number, z: number) => PairInterval | null;

/** Katz log interval for p1/p2 (estimate +∞ when p2 = 0). */
export const katzRatioInterval: PairFn = (x1, n1, x2, n2, z) => {
  if (!(n1 > 0) || !(n2 > 0)) return null;
  const estimate = x1 / n1 / (x2 / n2);
  const correct = x1 === 0 || x2 === 0 || x1 === n1 || x2 === n2;
  const [a, m, b, n] = correct ? [x1 + 0.5, n1 + 1, x2 + 0.5, n2 + 1] : [x1, n1, x2, n2];
  const logRatio = Math.log(a / m / (b / n));
  const se = Math.sqrt(1 / a - 1 / m + 1 / b - 1 / n);
  return {
    estimate: Number.isFinite(estimate) ? estimate : Number.POSITIVE_INFINITY,
    low: Math.exp(logRatio - z * se),
    high: Math.exp(logRatio + z * se),
  };
};

/** Newcombe's hybrid score interval for p1 − p2. */
export const newcombeDifferenceInterval: PairFn = (x1, n1, x2, n2, z) => {
  const w1 = wilsonInterval(x1, n1, z);
  const w2 = wilsonInterval(x2, n2, z);
  if (!w1 || !w2) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const d = p1 - p2;
  return {
    estimate: d,
    low: d - Math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2),
    high: d + Math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2),
  };
};

/** z of each pair's two-sided interval for a simultaneous `level` over `pairs` pairs. */
export function bonferroniZ(level: number, pairs: number): number {
  return normalUpperQuantile((1 - level) / (2 * Math.max(1, pairs)));
}

/**
 * Combines the pair intervals over every ordered pair of judged groups: the figure's estimate and
 * bounds are the extremes (min for a ratio, max for a difference) of the pairs' estimates and bounds.
 */
function simultaneous(
  groups: readonly GroupRate[],
  level: number,
  pairFn: PairFn,
  extreme: 'min' | 'max',
  decideOn: 'low' | 'high',
): FairnessInterval | null {
  const judged = groups.filter((g) => g.judged && g.n > 0);
  const k = judged.length;
  if (k < 2) return null;
  const pairs = (k * (k - 1)) / 2;
  const z = bonferroniZ(level, pairs);
  const better = (a: number, b: number) => (extreme === 'min' ? a < b : a > b);
  let estimate = Number.NaN;
  let low = Number.NaN;
  let high = Number.NaN;
  let decidingPair: [string, string] | null = null;
  for (const gi of judged) {
    for (const gj of judged) {
      if (gi === gj) continue;
      const iv = pairFn(gi.successes, gi.n, gj.successes, gj.n, z);
      if (!iv) continue;
      if (Number.isNaN(estimate) || better(iv.estimate, estimate)) estimate = iv.estimate;
      if (Number.isNaN(low) || better(iv.low, low)) {
        low = iv.low;
        if (decideOn === 'low') decidingPair = [gi.group, gj.group];
      }
      if (Number.isNaN(high) || better(iv.high, high)) {
        high = iv.high;
        if (decideOn === 'high') decidingPair = [gi.group, gj.group];
      }
    }
  }
  if (!decidingPair || !Number.isFinite(estimate)) return null;
  return { estimate, low, high, level, pairs, decidingPair };
}

/**
 * Simultaneous interval of the disparate impact ratio min_g r_g / max_g r_g. The deciding pair is the
 * one with the lowest upper bound (the bound a `<` rule is judged on). Null with fewer than two judged
 * groups or when every judged rate is 0 (ratio undefined, as disparateImpactRatio).
 */
export function disparateImpactInterval(
  groups: readonly GroupRate[],
  level: number,
): FairnessInterval | null {
  if (!groups.some((g) => g.judged && g.rate > 0)) return null;
  return simultaneous(groups, level, katzRatioInterval, 'min', 'high');
}

/**
 * Simultaneous interval of the demographic parity difference max_g r_g − min_g r_g. The deciding pair
 * is the one with the highest lower bound (the bound a `>` rule is judged on).
 */
export function demographicParityInterval(
  groups: readonly GroupRate[],
  level: number,
): FairnessInterval | null {
  return simultaneous(groups, level, newcombeDifferenceInterval, 'max', 'low');
}
