import { describe, expect, it } from 'vitest';
import type { GroupWindowStats } from '../../../src/domain/windows.js';
import { emptyConfusion, emptyGroupStats } from '../../../src/stats/counters.js';
import {
  chiSquareHomogeneity,
  computeDrift,
  ksBinned,
  negativeRateChange,
  pageHinkley,
  psi,
  type DriftSnapshot,
} from '../../../src/stats/drift.js';
import {
  fairnessReport,
  groupRates,
  labelledFairness,
  twoProportionZTest,
  wilsonInterval,
} from '../../../src/stats/fairness.js';
import { chiSquareSf, kolmogorovSf, normalSf } from '../../../src/stats/special.js';

function group(name: string, n: number, negative: number, positive = 0): GroupWindowStats {
  const s = emptyGroupStats('region', name);
  s.count = n;
  s.labelCounts = { negative, neutral: n - negative - positive, positive };
  s.polaritySum = (positive - negative) * 0.8;
  s.polaritySumSquares = (positive + negative) * 0.64;
  return s;
}

describe('fairness report', () => {
  it('judges only groups with at least min_samples and names the worst group', () => {
    const report = fairnessReport(
      'region',
      [group('emea', 400, 200), group('amer', 500, 100), group('apac', 300, 66), group('latam', 10, 10)],
      { minSamples: 30 },
    );
    expect(report.groups.map((g) => [g.group, g.judged])).toEqual([
      ['emea', true],
      ['amer', true],
      ['apac', true],
      ['latam', false],
    ]);
    // latam's 100% negative share is reported but does not move DPD/DIR.
    expect(report.demographicParityDifference.value).toBeCloseTo(0.5 - 0.2, 12);
    expect(report.demographicParityDifference.maxGroup).toBe('emea');
    expect(report.disparateImpactRatio.value).toBeCloseTo(0.2 / 0.5, 12);
    expect(report.worstGroup?.group).toBe('emea');
    expect(report.worstGroup?.vsRest?.difference).toBeCloseTo(0.5 - (100 + 66 + 10) / 810, 12);
    expect(report.worstGroup!.vsRest!.pValue).toBeLessThan(1e-6);
    expect(report.labelled).toBeNull();
  });

  it('reports an undefined ratio when no judged group has the outcome', () => {
    const report = fairnessReport('region', [group('a', 50, 0), group('b', 60, 0)], { minSamples: 30 });
    expect(report.demographicParityDifference.value).toBe(0);
    expect(report.disparateImpactRatio.value).toBeNull();
  });

  it('supports positive share and mean polarity as the compared rate', () => {
    const stats = [group('a', 100, 10, 60), group('b', 100, 40, 20)];
    const pos = fairnessReport('region', stats, { minSamples: 30, rate: 'positive_share' });
    expect(pos.demographicParityDifference.value).toBeCloseTo(0.4, 12);
    const pol = fairnessReport('region', stats, { minSamples: 30, rate: 'mean_polarity' });
    expect(pol.groups[0]!.rate).toBeCloseTo(0.4, 12);
    expect(pol.groups[1]!.rate).toBeCloseTo(-0.16, 12);
    expect(pol.groups[0]!.wilson).toBeNull();
    expect(pol.groups[0]!.vsRest!.z).toBeGreaterThan(3);
  });

  it('computes labelled metrics from confusion matrices', () => {
    const a = group('a', 100, 50);
    a.confusion = emptyConfusion();
    a.confusion.negative.negative = 40;
    a.confusion.negative.neutral = 10;
    a.confusion.positive.positive = 50;
    const b = group('b', 100, 50);
    b.confusion = emptyConfusion();
    b.confusion.negative.negative = 20;
    b.confusion.negative.positive = 30;
    b.confusion.positive.positive = 50;
    const report = fairnessReport('region', [a, b], { minSamples: 30 });
    const la = report.labelled!.groups.find((g) => g.group === 'a')!;
    expect(la.accuracy).toBeCloseTo(0.9, 12);
    expect(la.tpr.negative).toBeCloseTo(0.8, 12);
    expect(la.tpr.neutral).toBe(0); // no actual neutral documents: 0, as Fairlearn
    expect(la.classCounts.neutral.members).toBe(0);
    expect(report.labelled!.accuracyGap).toBeCloseTo(0.2, 12);
    // b: TPR(neg) 0.4 vs a 0.8 → 0.4; FPR(pos) b 30/50 = 0.6 vs a 0 → 0.6 is the worst gap.
    expect(report.labelled!.equalizedOddsDifference).toEqual({
      value: 0.6,
      worstClass: 'positive',
      worstRate: 'fpr',
    });
  });

  it('handles degenerate tests and intervals', () => {
    expect(twoProportionZTest(0, 10, 0, 20)).toEqual({ z: 0, pValue: 1 });
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(wilsonInterval(0, 10)!.low).toBe(0);
    expect(wilsonInterval(10, 10)!.high).toBe(1);
    expect(groupRates([{ group: 'only', n: 5, successes: 1 }], 'negative_share', 1)[0]!.vsRest).toBeNull();
  });
});

describe('special functions', () => {
  it('match known values', () => {
    expect(normalSf(1.959963984540054)).toBeCloseTo(0.025, 14);
    expect(chiSquareSf(3.841458820694124, 1)).toBeCloseTo(0.05, 13);
    expect(chiSquareSf(0, 3)).toBe(1);
    // scipy.special.kolmogorov(1.0) = 0.26999967167735456; kolmogorov(0.5) = 0.9639452436648751
    expect(kolmogorovSf(1)).toBeCloseTo(0.26999967167735456, 14);
    expect(kolmogorovSf(0.5)).toBeCloseTo(0.9639452436648751, 14);
    expect(kolmogorovSf(0)).toBe(1);
  });
});

describe('drift', () => {
  const base = emptyGroupStats('_all', 'all');
  base.count = 1000;
  base.labelCounts = { negative: 200, neutral: 500, positive: 300 };
  base.histograms.p_neg = Array.from({ length: 20 }, (_, i) => 50 + (i % 3));
  base.histograms.polarity = Array.from({ length: 20 }, (_, i) => 40 + i);
  base.histograms.confidence = Array.from({ length: 20 }, (_, i) => (i > 10 ? 80 : 10));
  base.histograms.tokens = [100, 200, 300, 200, 100, 50, 30, 10, 5, 5];
  base.tokens = 60_000;
  base.unknownTokens = 600;
  base.truncated = 12;
  base.entityTypes = { ORG: 700, PER: 200, LOC: 100 };
  const snap = (total: GroupWindowStats, sources: Record<string, number>): DriftSnapshot => ({
    total,
    mixes: { source: sources },
  });

  it('finds no drift between a window and itself', () => {
    const results = computeDrift(
      snap(base, { reuters: 10, bloomberg: 5 }),
      snap(base, { reuters: 10, bloomberg: 5 }),
    );
    expect(results.map((r) => r.feature)).toEqual([
      'p_neg',
      'polarity',
      'confidence',
      'tokens',
      'label_mix',
      'entity_type_mix',
      'unknown_token_rate',
      'truncation_rate',
      'source_mix',
    ]);
    for (const r of results) {
      expect(r.psi).toBeCloseTo(0, 15);
      expect(r.jensenShannon).toBeCloseTo(0, 7);
      if (r.kind === 'numeric') expect(r.ks).toMatchObject({ statistic: 0, pValue: 1 });
      else expect(r.chiSquare!.pValue).toBeCloseTo(1, 12);
    }
  });

  it('flags a shifted distribution and a changed mix', () => {
    const shifted = structuredClone(base);
    shifted.histograms.p_neg = Array.from({ length: 20 }, (_, i) => (i < 10 ? 10 : 90)); // mass moved to high p_neg
    shifted.labelCounts = { negative: 450, neutral: 350, positive: 200 };
    const results = computeDrift(snap(shifted, { reuters: 10 }), snap(base, { reuters: 5, bloomberg: 5 }));
    const pNeg = results.find((r) => r.feature === 'p_neg')!;
    expect(pNeg.psi!).toBeGreaterThan(0.25);
    expect(pNeg.ks!.pValue).toBeLessThan(1e-6);
    const labels = results.find((r) => r.feature === 'label_mix')!;
    expect(labels.chiSquare!.pValue).toBeLessThan(1e-10);
    expect(labels.chiSquare!.dof).toBe(2);
    expect(results.find((r) => r.feature === 'source_mix')!.chiSquare!.dof).toBe(1);
  });

  it('returns null metrics for empty windows', () => {
    expect(psi([0, 0], [1, 2])).toBeNull();
    expect(ksBinned([], [])).toBeNull();
    expect(chiSquareHomogeneity([0, 0], [0, 0])).toBeNull();
    expect(chiSquareHomogeneity([5, 0], [3, 0])).toEqual({ statistic: 0, pValue: 1, dof: 0 });
  });
});

describe('Page-Hinkley', () => {
  it('stays quiet on a stable rate and alarms on a surge', () => {
    const stable = Array.from({ length: 200 }, (_, i) => 0.2 + 0.02 * Math.sin(i));
    expect(pageHinkley(stable).alarms).toEqual([]);
    const surge = [...stable.slice(0, 100), ...Array.from({ length: 20 }, () => 0.45)];
    const result = pageHinkley(surge);
    expect(result.alarms.length).toBeGreaterThanOrEqual(1);
    expect(result.alarms[0]).toBeGreaterThanOrEqual(100);
    expect(result.alarms[0]).toBeLessThan(105);
  });

  it('runs on a group series, skipping empty buckets', () => {
    const series: Array<[number, GroupWindowStats]> = Array.from({ length: 60 }, (_, i) => {
      const neg = i < 40 ? 20 : 60;
      return [i * 60_000, group('emea', i % 10 === 5 ? 0 : 100, i % 10 === 5 ? 0 : neg)];
    });
    const change = negativeRateChange(series);
    expect(change.alarmsAtMs[0]).toBeGreaterThanOrEqual(40 * 60_000);
    expect(change.alarmsAtMs[0]).toBeLessThanOrEqual(43 * 60_000);
  });
});

describe('equalized odds per-class minimum (stats.minClassSamples)', () => {
  const confusion = (rows: number[][]) => {
    const labels = ['negative', 'neutral', 'positive'] as const;
    return Object.fromEntries(
      labels.map((a, i) => [a, Object.fromEntries(labels.map((p, j) => [p, rows[i]![j]!]))]),
    ) as Parameters<typeof labelledFairness>[0][number]['confusion'];
  };
  // Group b has one actual negative document, mispredicted: its negative TPR is 0 against a's 0.8.
  const groups = [
    {
      group: 'a',
      confusion: confusion([
        [16, 2, 2],
        [1, 8, 1],
        [1, 1, 8],
      ]),
    },
    {
      group: 'b',
      confusion: confusion([
        [0, 1, 0],
        [1, 13, 1],
        [0, 1, 13],
      ]),
    },
  ];

  it('with 0 it is Fairlearn: the single document makes the gap', () => {
    const eod = labelledFairness(groups, 20, 0).equalizedOddsDifference;
    expect(eod.value).toBeCloseTo(0.8, 12);
    expect(eod).toMatchObject({ worstClass: 'negative', worstRate: 'tpr' });
  });

  it('with 10 the negative TPR of b (1 actual negative) is not judged; the other rates still are', () => {
    const eod = labelledFairness(groups, 20, 10).equalizedOddsDifference;
    expect(eod.value).not.toBeNull();
    expect(eod.value!).toBeLessThan(0.2);
    expect(eod.worstClass === 'negative' && eod.worstRate === 'tpr').toBe(false);
  });
});
