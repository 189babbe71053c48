import { describe, expect, it } from 'vitest';
import { fisherExactOneSided, logGamma } from '../../../src/stats/special.js';

/** Binomial upper tail P(X ≥ k) for X ~ Bin(n, p), by direct summation (the Fisher test's large-reference limit). */
function binomialTail(k: number, n: number, p: number): number {
  let choose = 1;
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) choose = (choose * (n - i + 1)) / i;
    if (i >= k) sum += choose * p ** i * (1 - p) ** (n - i);
  }
  return sum;
}

describe('Fisher exact test (one-sided)', () => {
  it('gives the tea-tasting p-value and is symmetric in its alternatives', () => {
    // [[3, 1], [1, 3]]: P(X ≥ 3) = (16 + 1) / 70 (Fisher 1935; scipy.stats.fisher_exact, "greater").
    expect(fisherExactOneSided(3, 4, 1, 4, 'greater')).toBeCloseTo(17 / 70, 12);
    expect(fisherExactOneSided(1, 4, 3, 4, 'less')).toBeCloseTo(17 / 70, 12);
    expect(fisherExactOneSided(0, 4, 4, 4, 'greater')).toBeCloseTo(1, 12);
    expect(fisherExactOneSided(4, 4, 0, 4, 'greater')).toBeCloseTo(1 / 70, 12);
  });

  it('tends to the binomial tail against a large reference, far above the z-test for small groups', () => {
    const exact = fisherExactOneSided(11, 20, 180_000, 1_000_000, 'greater');
    expect(exact / binomialTail(11, 20, 0.18)).toBeCloseTo(1, 2);
    expect(exact).toBeGreaterThan(2e-4);
  });

  it('has an accurate log-gamma', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(11)).toBeCloseTo(Math.log(3_628_800), 10);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });

  it('returns 1 for empty rows', () => {
    expect(fisherExactOneSided(0, 0, 3, 10, 'greater')).toBe(1);
  });
});
