import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../src/alerts/default-rules.js';
import { measureRule, windowKey, type EvaluationInputs } from '../../../src/alerts/measure.js';
import { breaches } from '../../../src/alerts/state-machine.js';
import { equalizedOddsSample } from '../../../src/alerts/equalized-odds-rule.js';
import { parseConfig } from '../../../src/config/load.js';
import { SENTIMENT_LABELS, type SentimentLabel } from '../../../src/domain/enrichment.js';
import type { GroupWindowStats } from '../../../src/domain/windows.js';
import { emptyGroupStats } from '../../../src/stats/counters.js';
import { equalizedOddsInterval } from '../../../src/stats/equalized-odds.js';
import { labelledFairness } from '../../../src/stats/fairness.js';
import { groupPerformance } from '../../../src/stats/performance.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { rng } from '../../../test/helpers/fault-traffic.js';

type Confusion = Record<SentimentLabel, Record<SentimentLabel, number>>;
const rule = defaultAlertRules().find((r) => r.name === 'EqualizedOddsRegion')!;

const zero = (): Confusion => ({
  negative: { negative: 0, neutral: 0, positive: 0 },
  neutral: { negative: 0, neutral: 0, positive: 0 },
  positive: { negative: 0, neutral: 0, positive: 0 },
});

/** n labelled documents, actual mix 30/40/30; each class predicted right with `hit[c]`, else one of the others. */
function sampleConfusion(rand: () => number, n: number, hit: Record<SentimentLabel, number>): Confusion {
  const m = zero();
  for (let i = 0; i < n; i++) {
    const u = rand();
    const actual: SentimentLabel = u < 0.3 ? 'negative' : u < 0.7 ? 'neutral' : 'positive';
    const others = SENTIMENT_LABELS.filter((c) => c !== actual);
    const predicted = rand() < hit[actual] ? actual : others[rand() < 0.5 ? 0 : 1]!;
    m[actual][predicted] += 1;
  }
  return m;
}

function regionStats(name: string, confusion: Confusion | null, count = 400): GroupWindowStats {
  const g = emptyGroupStats('region', name);
  g.count = count;
  g.confusion = confusion;
  return g;
}

function inputsOf(groups: GroupWindowStats[]): EvaluationInputs {
  return {
    current: new Map([[windowKey('region', rule.window), groups]]),
    reference: new Map(),
    pipeline: null,
  };
}

const even = { negative: 0.85, neutral: 0.85, positive: 0.85 };

describe('equalized odds difference interval (src/stats/equalized-odds.ts)', () => {
  it('brackets the Fairlearn figure, which is its estimate when every rate is defined', () => {
    const rand = rng(7);
    const groups = ['emea', 'amer', 'apac'].map((g) => ({
      group: g,
      confusion: sampleConfusion(rand, 300, g === 'apac' ? { ...even, negative: 0.6 } : even),
    }));
    const labelled = labelledFairness(groups, 50, 0);
    const iv = equalizedOddsInterval(labelled, 0.95, 0)!;
    expect(iv.estimate).toBeCloseTo(labelled.equalizedOddsDifference.value!, 12);
    expect(iv.low).toBeLessThan(iv.estimate);
    expect(iv.high).toBeGreaterThan(iv.estimate);
    // 3 pairs × 3 classes × 2 rates
    expect(iv.comparisons).toBe(18);
    expect(iv.worstClass).toBe('negative');
    expect(iv.worstRate).toBe('tpr');
    expect(iv.decidingPair).toContain('apac');
  });

  it('a group below the per-class minimum takes no part in that class', () => {
    const big = sampleConfusion(rng(1), 300, even);
    const small = zero();
    small.negative.positive = 5; // 5 negatives, all missed: TPR_negative 0
    small.neutral.neutral = 100;
    small.positive.positive = 100;
    const labelled = labelledFairness(
      [
        { group: 'emea', confusion: big },
        { group: 'apac', confusion: small },
      ],
      50,
      20,
    );
    const iv = equalizedOddsInterval(labelled, 0.95, 20)!;
    expect(
      labelled.equalizedOddsDifference.worstClass === 'negative' &&
        labelled.equalizedOddsDifference.worstRate === 'tpr',
    ).toBe(false);
    expect(iv.comparisons).toBe(5); // TPR_negative left out: 1 pair × 5 rates
    expect(iv.low).toBeLessThan(0.25);
  });

  it('does not fire on a gap below the threshold; finds a large gap (simulated, 300 labels per group)', () => {
    const rand = rng(42);
    const runs = 200;
    let firedBelow = 0;
    let naiveBelow = 0;
    let firedAbove = 0;
    for (let i = 0; i < runs; i++) {
      // True EOD 0.20 (TPR_negative 0.85 vs 0.65): below the 0.25 threshold.
      const below = ['emea', 'amer', 'apac'].map((g) =>
        regionStats(g, sampleConfusion(rand, 300, g === 'apac' ? { ...even, negative: 0.65 } : even)),
      );
      const m = measureRule(rule, inputsOf(below), 30)[0]!;
      if (m.judged && breaches(rule, m)) firedBelow++;
      if (m.value > rule.threshold) naiveBelow++;
      // True EOD 0.50 (0.85 vs 0.35).
      const above = ['emea', 'amer', 'apac'].map((g) =>
        regionStats(g, sampleConfusion(rand, 300, g === 'apac' ? { ...even, negative: 0.35 } : even)),
      );
      const a = measureRule(rule, inputsOf(above), 30)[0]!;
      if (a.judged && breaches(rule, a)) firedAbove++;
    }
    console.log(
      `EOD rule over ${runs} runs: true gap 0.20 fired ${firedBelow} (point estimate > 0.25: ${naiveBelow}); true gap 0.50 fired ${firedAbove}`,
    );
    expect(firedBelow / runs).toBeLessThanOrEqual(0.05);
    expect(naiveBelow).toBeGreaterThan(firedBelow); // the interval is what keeps it quiet
    // Measured: 0 of 200 below (the point estimate alone exceeded 0.25 in 49), 167 of 200 above — the
    // price of a simultaneous interval over 18 comparisons with ~90 actual negatives per group.
    expect(firedAbove / runs).toBeGreaterThanOrEqual(0.8);
  });
});

describe('EqualizedOddsRegion rule (src/alerts/equalized-odds-rule.ts)', () => {
  it('is one dimension-wide measurement with its interval, the deciding pair and the Fairlearn value', () => {
    const rand = rng(3);
    const groups = ['emea', 'amer', 'apac'].map((g) =>
      regionStats(g, sampleConfusion(rand, 300, g === 'amer' ? { ...even, positive: 0.3 } : even)),
    );
    const [m] = measureRule(rule, inputsOf(groups), 30);
    const expected = labelledFairness(
      groups.map((g) => ({ group: g.group, confusion: g.confusion! })),
      50,
      20,
    ).equalizedOddsDifference.value!;
    expect(m!.group).toBe('*');
    expect(m!.value).toBeCloseTo(expected, 12);
    expect(m!.interval!.low).toBeGreaterThan(0.25);
    expect(m!.groups).toContain('amer');
    expect(m!.detail).toMatch(/TPR of positive/);
    expect(breaches(rule, m!)).toBe(true);
  });

  it('is not judged before labels arrive, nor with one group of enough labels', () => {
    const none = measureRule(rule, inputsOf([regionStats('emea', null), regionStats('apac', null)]), 30)[0]!;
    expect(none.judged).toBe(false);
    const rand = rng(5);
    const one = measureRule(
      rule,
      inputsOf([
        regionStats('emea', sampleConfusion(rand, 300, even)),
        regionStats('apac', sampleConfusion(rand, 20, { negative: 0, neutral: 0, positive: 0 })),
      ]),
      30,
    )[0]!;
    expect(one.judged).toBe(false);
  });

  it('config validation: confidence and minClassSamples belong to it, maxPValue does not', () => {
    const base = { kind: 'fairness', dimension: 'region', comparison: '>', threshold: 0.2, window: '1h' };
    const issues = (r: Record<string, unknown>) => {
      try {
        parseConfig({ alerts: { rules: [{ name: 'R', ...base, ...r }] } }, {});
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(issues({ metric: 'equalized_odds_difference', confidence: 0.9, minClassSamples: 5 })).toBe('');
    expect(issues({ metric: 'equalized_odds_difference', maxPValue: 0.01 })).toMatch(
      /maxPValue: does not apply/,
    );
    expect(issues({ metric: 'demographic_parity_difference', minClassSamples: 5 })).toMatch(
      /minClassSamples: applies to fairness rules with metric equalized_odds_difference only/,
    );
  });
});

describe('per-class rate and equalized odds gauges', () => {
  it('export TPR/FPR per group and class (bounded labels) and the EOD with its bounds', async () => {
    const metrics = createMetrics({
      stats: { dimensions: [{ name: 'region', bounded: true }], topK: 10 },
      processMetrics: false,
    });
    const rand = rng(11);
    const groups = ['emea', 'apac'].map((g) =>
      regionStats(g, sampleConfusion(rand, 300, g === 'apac' ? { ...even, negative: 0.4 } : even)),
    );
    metrics.groupSentiment(
      'region',
      rule.window,
      groups.map((g) => ({
        group: g.group,
        count: g.count,
        negative: 0,
        meanPolarity: 0,
        performance: groupPerformance(g),
      })),
    );
    metrics.fairness('region', rule.window, equalizedOddsSample([rule], 'region', groups, 30));
    const text = await metrics.registry.metrics();
    const apac = groups[1]!.confusion!;
    const members = apac.negative.negative + apac.negative.neutral + apac.negative.positive;
    const tpr = text.match(
      /finsentry_group_true_positive_rate\{dimension="region",group="apac",window="1h",class="negative"\} ([0-9.e-]+)/,
    );
    expect(Number(tpr?.[1])).toBeCloseTo(apac.negative.negative / members, 9);
    expect(text).toMatch(
      /finsentry_group_false_positive_rate\{dimension="region",group="emea",window="1h",class="positive"\}/,
    );
    const eod = text.match(
      /finsentry_fairness_equalized_odds_difference\{dimension="region",window="1h"\} ([0-9.e-]+)/,
    );
    expect(Number(eod?.[1])).toBeGreaterThan(0.3);
    expect(text).toMatch(
      /finsentry_fairness_equalized_odds_difference_bound\{dimension="region",window="1h",bound="lower"\}/,
    );
  });
});
