import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/tools/scenarios/random.js';
import {
  baselineDispersion,
  benjaminiHochberg,
  betaBinomialSf,
  binomialSf,
  CHI2_1_MEDIAN,
  commonShift,
  estimateBetaPrior,
  judgeSurges,
  MAX_CONCENTRATION,
  roundDispersion,
  shrunkRate,
  shiftedRate,
  surgePValue,
  type RateCounts,
} from '../../../src/stats/surge.js';

/** n Bernoulli(p) draws from a seeded stream. */
function binomial(random: Random, n: number, p: number): number {
  let hits = 0;
  for (let i = 0; i < n; i++) if (random.chance(p)) hits += 1;
  return hits;
}

/**
 * A small market as the issuer-surge scenario has it (16 issuers, docs/scenarios.md "Realism"): a
 * day's history at 0.2 negative each, the past hour's twelve 5-minute windows drawn binomially at
 * that rate, 40 stories per issuer and window.
 */
function smallMarket(seed: number): { history: RateCounts[]; past: RateCounts[][] } {
  const random = Random.fromSeed(seed);
  const groups = Array.from({ length: 16 }, (_, i) => `g${i}`);
  return {
    history: groups.map((group) => ({ group, hits: 100, n: 500 })),
    past: Array.from({ length: 12 }, () =>
      groups.map((group) => ({ group, hits: binomial(random, 40, 0.2), n: 40 })),
    ),
  };
}

const significant = (round: ReturnType<typeof judgeSurges>) =>
  round.judgements.filter((j) => j.qValue !== null && j.qValue <= 0.001 && j.share > 0.5).map((j) => j.group);

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

  it('estimates the dispersion from the past windows, so that what else moves in the round does not explain a surge away', () => {
    const { history, past } = smallMarket(12);
    // The round as the scenario generator made it when the surging issuer was its region's largest
    // (measured 2026-12-07: round dispersion 9.1, the surge at 82 of 101 stories not significant): g0
    // surges, its regional peers fall to the floor, every other issuer rises to keep the regions' ratios.
    const current: RateCounts[] = [
      { group: 'g0', hits: 30, n: 40 },
      ...[1, 2, 3, 4, 5].map((i) => ({ group: `g${i}`, hits: 1, n: 40 })),
      ...[6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => ({ group: `g${i}`, hits: 14, n: 40 })),
    ];
    const fromRound = judgeSurges(current, history, 10);
    expect(fromRound.dispersionSource).toBe('round');
    expect(fromRound.dispersion).toBeGreaterThan(3);
    expect(significant(fromRound)).toEqual([]);
    const fromPast = judgeSurges(current, history, 10, past);
    expect(fromPast.dispersionSource).toBe('baseline');
    expect(fromPast.dispersion).toBeLessThan(1.6);
    expect(significant(fromPast)).toEqual(['g0']);
  });

  it('a market-wide rise raises every reference: issuers moving with the market do not fire, one rising beyond it does', () => {
    const { history, past } = smallMarket(13);
    const market = history.map((g) => ({ group: g.group, hits: 18, n: 40 })); // 0.45 against 0.2, every issuer
    const round = judgeSurges(market, history, 10, past);
    expect(round.shift).toBeCloseTo(Math.log(18.5 / 22.5) - Math.log(0.2 / 0.8), 1);
    expect(significant(round)).toEqual([]);
    market[3] = { group: 'g3', hits: 36, n: 40 };
    expect(significant(judgeSurges(market, history, 10, past))).toEqual(['g3']);
  });

  it('baseline dispersion: binomial past windows give about 1, overdispersed ones more, too few pairs none', () => {
    const { past } = smallMarket(14);
    const rate = () => 0.2;
    expect(baselineDispersion(past, rate, 10)).toBeLessThan(1.6);
    // every window alternates between 2 and 14 of 40 (variance far above the binomial's 6.4)
    const wide = past.map((w, k) => w.map((g, i) => ({ ...g, hits: (i + k) % 2 ? 14 : 2 })));
    expect(baselineDispersion(wide, rate, 10)).toBeGreaterThan(3);
    expect(baselineDispersion([past[0]!.slice(0, 4)], rate, 10)).toBeNull(); // 4 pairs
    expect(baselineDispersion(past, rate, 41)).toBeNull(); // no window has the min samples
    expect(baselineDispersion(past, () => undefined, 10)).toBeNull(); // no reference for any group
  });

  it('the common shift is the median rise in log-odds, never negative', () => {
    const at = (hits: number) => ({ hits, n: 99, rate: 0.2 });
    // logit(20.5/100) − logit(0.2) for the median group
    expect(commonShift([at(10), at(20), at(60)])).toBeCloseTo(Math.log(20.5 / 79.5) - Math.log(0.25), 12);
    expect(commonShift([at(5), at(6), at(7)])).toBe(0);
    expect(commonShift([])).toBe(0);
    expect(shiftedRate(0.2, Math.log(3))).toBeCloseTo(0.75 / 1.75, 12); // odds 0.25 × 3
    expect(shiftedRate(0.2, 0)).toBe(0.2);
  });
});
