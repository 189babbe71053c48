import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  betaBinomialSf,
  binomialSf,
  CHI2_1_MEDIAN,
  estimateBetaPrior,
  judgeSurges,
  MAX_CONCENTRATION,
  roundDispersion,
  shrunkRate,
  surgePValue,
} from '../../../src/stats/surge.js';

describe('surge statistics', () => {
  it('beta-binomial and binomial tails equal scipy', () => {
    // scipy.stats.betabinom.sf(11, 30, 2.0, 8.0), betabinom.sf(2, 10, 0.5, 0.5), binom.sf(11, 30, 0.2)
    expect(betaBinomialSf(12, 30, 2, 8)).toBeCloseTo(0.11058259397917913, 10);
    expect(betaBinomialSf(3, 10, 0.5, 0.5)).toBeCloseTo(0.6574249267578125, 10);
    expect(binomialSf(12, 30, 0.2)).toBeCloseTo(0.009493122174722497, 12);
    expect(betaBinomialSf(0, 10, 1, 1)).toBe(1);
    expect(betaBinomialSf(11, 10, 1, 1)).toBe(0);
  });

  it('Benjamini–Hochberg adjusts as statsmodels fdr_bh, in input order', () => {
    expect(benjaminiHochberg([0.01, 0.04, 0.03, 0.005])).toEqual([0.02, 0.04, 0.04, 0.02]);
    expect(benjaminiHochberg([0.5, 0.9])).toEqual([0.9, 0.9]);
    expect(benjaminiHochberg([])).toEqual([]);
  });

  it('estimates the Beta prior by moments and shrinks each group towards the pool, with no switch at a count', () => {
    // Two groups, rates 0.1 and 0.3 over 100 each: p0 = 0.2, var(rates) = 0.02, sampling 0.0016
    // → between 0.0184, κ = 0.16 / 0.0184 − 1.
    const prior = estimateBetaPrior([
      { group: 'a', hits: 10, n: 100 },
      { group: 'b', hits: 30, n: 100 },
    ])!;
    expect(prior.mean).toBeCloseTo(0.2, 12);
    expect(prior.concentration).toBeCloseTo(0.16 / 0.0184 - 1, 9);
    // identical rates: no between-group variance → everything is the pool
    expect(
      estimateBetaPrior([
        { group: 'a', hits: 20, n: 100 },
        { group: 'b', hits: 20, n: 100 },
      ])!.concentration,
    ).toBe(MAX_CONCENTRATION);
    const k = prior.concentration;
    expect(shrunkRate(9, 19, prior).mean).toBeCloseTo((9 + 0.2 * k) / (19 + k), 12);
    // one more document moves the reference a little, never from the pool to the group's own rate
    const at19 = shrunkRate(9, 19, prior).mean;
    const at20 = shrunkRate(9, 20, prior).mean;
    expect(Math.abs(at19 - at20)).toBeLessThan(0.02);
    expect(shrunkRate(0, 0, prior).mean).toBeCloseTo(0.2, 12);
  });

  it('the surge p-value widens with the reference uncertainty and with dispersion', () => {
    const exact = surgePValue(12, 30, { mean: 0.2, concentration: Number.POSITIVE_INFINITY });
    expect(exact).toBeCloseTo(0.009493122174722497, 12);
    // reference known from 10 documents' worth: Beta(2, 8) predictive
    expect(surgePValue(12, 30, { mean: 0.2, concentration: 10 })).toBeCloseTo(0.11058259397917913, 10);
    const dispersed = surgePValue(12, 30, { mean: 0.2, concentration: 1e9 }, 2);
    // φ = 2 at n = 30: ρ = 1/29 → c = 28, Beta(5.6, 22.4)
    expect(dispersed).toBeCloseTo(betaBinomialSf(12, 30, 0.2 * 28, 0.8 * 28), 6);
    expect(dispersed).toBeGreaterThan(exact);
  });

  it('estimates the round dispersion robustly (median Pearson residual / χ²₁ median)', () => {
    const groups = [
      { hits: 2, n: 10, rate: 0.2 }, // residual 0
      { hits: 4, n: 10, rate: 0.2 }, // 4/1.6 = 2.5
      { hits: 3, n: 10, rate: 0.2 }, // 1/1.6 = 0.625
      { hits: 1, n: 10, rate: 0.2 }, // 0.625
      { hits: 10, n: 10, rate: 0.2 }, // 40 (the surge: does not move the median)
    ];
    expect(roundDispersion(groups)).toBeCloseTo(0.625 / CHI2_1_MEDIAN, 12);
    expect(roundDispersion(groups.slice(0, 4))).toBe(1); // too few groups to tell
  });

  it('judges a round: only the surging group of many is significant after BH', () => {
    const history = Array.from({ length: 40 }, (_, i) => ({ group: `g${i}`, hits: 20 + (i % 5), n: 100 }));
    const current = history.map((g) => ({ group: g.group, hits: 6 + (Number(g.group.slice(1)) % 3), n: 30 }));
    current[7] = { group: 'g7', hits: 21, n: 30 };
    const { judgements, dispersion } = judgeSurges(current, history, 20);
    expect(dispersion).toBeGreaterThanOrEqual(1);
    const significant = judgements.filter((j) => j.qValue !== null && j.qValue <= 0.001).map((j) => j.group);
    expect(significant).toEqual(['g7']);
    // a group without history is judged against the pool, not skipped
    const fresh = judgeSurges([...current, { group: 'new', hits: 5, n: 30 }], history, 20);
    expect(fresh.judgements.find((j) => j.group === 'new')!.reference.mean).toBeCloseTo(
      history.reduce((s, g) => s + g.hits, 0) / history.reduce((s, g) => s + g.n, 0),
      12,
    );
  });
});
