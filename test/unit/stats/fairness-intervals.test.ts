import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../src/alerts/default-rules.js';
import { toAlertEvent, toAlertmanagerAlert } from '../../../src/alerts/events.js';
import { validateRule } from '../../../src/alerts/measure.js';
import { parseConfig } from '../../../src/config/load.js';
import type { AlertRuleConfig } from '../../../src/config/schema.js';
import { groupRates } from '../../../src/stats/fairness.js';
import {
  demographicParityInterval,
  disparateImpactInterval,
  katzRatioInterval,
  newcombeDifferenceInterval,
} from '../../../src/stats/fairness-intervals.js';
import { normalUpperQuantile, Z_975 } from '../../../src/stats/special.js';
import { binomial, regionTraffic, rng, runRule } from '../../helpers/rule-sim.js';

const BASE = 0.2;
const REGIONS = ['amer', 'apac', 'latam'];

/** One region ("emea") at `emea` negative share, the others at BASE: true DIR = BASE / emea. */
function rates(emea: number): Record<string, number> {
  return { emea, ...Object.fromEntries(REGIONS.map((r) => [r, BASE])) };
}

const diRule = (): AlertRuleConfig => defaultAlertRules().find((r) => r.name === 'DisparateImpactRegion')!;

describe('interval building blocks', () => {
  it('normal quantile matches scipy ndtri', () => {
    expect(normalUpperQuantile(0.025)).toBeCloseTo(Z_975, 12);
    expect(normalUpperQuantile(0.005)).toBeCloseTo(2.5758293035489004, 12);
    expect(normalUpperQuantile(0.975)).toBeCloseTo(-Z_975, 12);
  });

  it('Katz log interval: RR 10/100 vs 20/100 = 0.5, 95% [0.24664, 1.01362]', () => {
    const iv = katzRatioInterval(10, 100, 20, 100, Z_975)!;
    expect(iv.estimate).toBeCloseTo(0.5, 12);
    expect(iv.low).toBeCloseTo(0.246641, 5);
    expect(iv.high).toBeCloseTo(1.01362, 5);
    // a zero count: Haldane–Anscombe 0.5 added, interval still finite and containing 0
    const zero = katzRatioInterval(0, 50, 10, 50, Z_975)!;
    expect(zero.estimate).toBe(0);
    expect(zero.low).toBeGreaterThan(0);
    expect(zero.high).toBeLessThan(1);
  });

  it('Newcombe hybrid score interval: Newcombe (1998) example 56/70 − 48/80 = 0.2, [0.0524, 0.3339]', () => {
    const iv = newcombeDifferenceInterval(56, 70, 48, 80, Z_975)!;
    expect(iv.estimate).toBeCloseTo(0.2, 12);
    expect(iv.low).toBeCloseTo(0.0524, 4);
    expect(iv.high).toBeCloseTo(0.3339, 4);
  });

  it('simultaneous DIR and DPD intervals cover the true figures in ≥ 95% of 2,000 random windows', () => {
    const rand = rng(5);
    const truth = { a: 0.2, b: 0.17, c: 0.24, d: 0.2, e: 0.3 };
    const trueDir = 0.17 / 0.3;
    const trueDpd = 0.3 - 0.17;
    let dirCovered = 0;
    let dpdCovered = 0;
    const reps = 2000;
    for (let i = 0; i < reps; i++) {
      const counts = Object.entries(truth).map(([group, p]) => {
        const n = 60 + Math.floor(rand() * 400);
        return { group, n, successes: binomial(rand, n, p) };
      });
      const groups = groupRates(counts, 'negative_share', 30);
      const dir = disparateImpactInterval(groups, 0.95)!;
      const dpd = demographicParityInterval(groups, 0.95)!;
      if (dir.low <= trueDir && trueDir <= dir.high) dirCovered++;
      if (dpd.low <= trueDpd && trueDpd <= dpd.high) dpdCovered++;
      expect(dir.low).toBeLessThanOrEqual(dir.estimate);
      expect(dir.estimate).toBeLessThanOrEqual(dir.high);
      expect(dpd.low).toBeLessThanOrEqual(dpd.estimate);
    }
    expect(dirCovered / reps).toBeGreaterThanOrEqual(0.95);
    expect(dpdCovered / reps).toBeGreaterThanOrEqual(0.95);
  });

  it('groups below min samples are not judged and not counted as pairs', () => {
    const groups = groupRates(
      [
        { group: 'a', n: 200, successes: 40 },
        { group: 'b', n: 200, successes: 60 },
        { group: 'tiny', n: 5, successes: 0 },
      ],
      'negative_share',
      30,
    );
    const iv = disparateImpactInterval(groups, 0.95)!;
    expect(iv.pairs).toBe(1);
    expect(iv.estimate).toBeCloseTo(40 / 60, 12);
    expect(iv.decidingPair).toEqual(['a', 'b']);
  });
});

describe('DisparateImpactRegion on the hypothesis the four-fifths rule states', () => {
  it('the default rules judge DI on a 95% interval, not on a test of equal rates', () => {
    const rule = diRule();
    expect(rule).toMatchObject({ confidence: 0.95, threshold: 0.8, resolveThreshold: 0.85 });
    expect(rule.maxPValue).toBeUndefined();
    expect(validateRule({ ...rule, maxPValue: 0.01 })).toMatch(/maxPValue: does not apply/);
  });

  for (const docsPerSecond of [1, 3, 10, 30]) {
    it(`a compliant region (true DIR 0.85) at ${docsPerSecond} docs/s: 0 alerts in 12 simulated hours`, () => {
      const rule = diRule();
      for (const seed of [1, 2]) {
        const run = runRule(
          rule,
          6 * 60,
          regionTraffic(seed * 100 + docsPerSecond, docsPerSecond, () => rates(BASE / 0.85)),
        );
        expect(run.transitions.filter((t) => t.transition.to === 'firing')).toEqual([]);
        expect(run.firingMinutes).toBe(0);
      }
    });
  }

  it('a violation (true DIR 0.6) at 3 docs/s fires within 30 minutes, names the regions, carries the interval, and resolves once it ends', () => {
    const rule = diRule();
    const onset = 60;
    const end = 150;
    for (const seed of [1, 2, 3, 4, 5]) {
      const run = runRule(
        rule,
        240,
        regionTraffic(seed, 3, (m) => rates(m >= onset && m < end ? BASE / 0.6 : BASE)),
      );
      expect(run.firedAt.length, `seed ${seed}`).toBe(1);
      const delay = run.firedAt[0]! - onset + 1;
      expect(delay, `seed ${seed}`).toBeLessThanOrEqual(30);
      const fired = run.transitions.find((t) => t.transition.to === 'firing')!.transition;
      expect(fired.record.groups).toHaveLength(2);
      expect(fired.record.groups![1]).toBe('emea'); // the deciding ratio is <other region> / emea
      expect(fired.record.interval!.high).toBeLessThan(0.8);
      expect(fired.record.interval!.level).toBe(0.95);
      const resolved = run.transitions.find((t) => t.transition.to === 'resolved');
      expect(resolved, `seed ${seed}`).toBeDefined();
      expect(resolved!.minute).toBeGreaterThanOrEqual(end);
      expect(resolved!.transition.record.interval!.high).toBeGreaterThanOrEqual(0.85);

      const event = toAlertEvent(rule, fired, 1);
      expect(event.group).toBe(fired.record.groups!.join(','));
      expect(event.labels.interval_high).toBe(String(fired.record.interval!.high));
      expect(event.summary).toMatch(/\/emea, interval 0\.\d+–0\.\d+\)/);
      const am = toAlertmanagerAlert(event)!;
      expect(am.labels.group).toBeUndefined(); // identity stays the dimension's
      expect(am.annotations.groups).toBe(event.group);
      expect(am.annotations.description).toMatch(/95% interval \[0\.\d{3}, 0\.\d{3}\]/);
    }
  });

  it('demographic parity difference: fires only when the lower bound is above the threshold', () => {
    const rule = parseConfig(
      {
        alerts: {
          rules: [
            {
              name: 'ParityGap',
              kind: 'fairness',
              dimension: 'region',
              metric: 'demographic_parity_difference',
              comparison: '>',
              threshold: 0.1,
              resolveThreshold: 0.07,
              window: '20m',
              minSamples: 30,
              for: '5m',
            },
          ],
        },
      },
      {},
    ).alerts!.rules[0]!;
    // true gap 0.07 (compliant): silent; true gap 0.2: fires
    const quiet = runRule(
      rule,
      6 * 60,
      regionTraffic(11, 3, () => rates(BASE + 0.07)),
    );
    expect(quiet.firedAt).toEqual([]);
    const loud = runRule(
      rule,
      120,
      regionTraffic(12, 3, (m) => rates(m >= 30 ? BASE + 0.2 : BASE)),
    );
    expect(loud.firedAt.length).toBe(1);
    expect(loud.firedAt[0]! - 30).toBeLessThanOrEqual(30);
  });
});
