import { wilsonInterval } from './fairness.js';

/**
 * Confidence intervals of the two fairness figures between two groups (design §5), so that a reviewer
 * sees how far a disparate impact ratio or parity difference could be from its point estimate:
 * - difference of proportions p1 − p2: Newcombe's hybrid score interval (his method 10), built from
 *   the two 95% Wilson intervals; good coverage at small n and near 0 or 1, unlike the Wald interval;
 * - ratio p1 / p2: the Katz log interval exp(ln r ± z·√(1/x1 − 1/n1 + 1/x2 − 1/n2)); undefined when a
 *   group has no success.
 * Both are for two fixed groups; applied to the min and max of several groups (chosen after looking)
 * they understate the uncertainty of "the largest gap".
 */
export interface Interval {
  low: number;
  high: number;
}

const Z_975 = 1.959963984540054;

export function differenceInterval(x1: number, n1: number, x2: number, n2: number): Interval | null {
  const w1 = wilsonInterval(x1, n1);
  const w2 = wilsonInterval(x2, n2);
  if (!w1 || !w2) return null;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const d = p1 - p2;
  return {
    low: d - Math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2),
    high: d + Math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2),
  };
}

export function ratioInterval(x1: number, n1: number, x2: number, n2: number): Interval | null {
  if (!(x1 > 0 && x2 > 0 && n1 > 0 && n2 > 0)) return null;
  const ratio = x1 / n1 / (x2 / n2);
  const se = Math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2);
  return { low: ratio * Math.exp(-Z_975 * se), high: ratio * Math.exp(Z_975 * se) };
}
