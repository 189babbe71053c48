import { describe, expect, it } from 'vitest';
import { measureRule, windowKey, type SequentialState } from '../../../src/alerts/measure.js';
import { step, type AlertRecord } from '../../../src/alerts/state-machine.js';
import { parseConfig } from '../../../src/config/load.js';
import { emptyGroupStats } from '../../../src/stats/counters.js';
import {
  CUSUM_DEFAULTS,
  CUSUM_START,
  cusumStatistic,
  cusumStep,
  standardizedShare,
} from '../../../src/stats/cusum.js';
import { ALL_DIMENSION, ALL_GROUP } from '../../../src/stats/grouping.js';
import { binomial, MINUTE_MS, poisson, rng } from '../../helpers/rule-sim.js';

const P0 = 0.2;
const DAY = 1440;

/** Siegmund's approximation of the two-sided ARL0 for Gaussian observations (half the one-sided). */
function siegmundTwoSided(k: number, h: number): number {
  const b = 2 * k * (h + 1.166);
  return (Math.exp(b) - b - 1) / (2 * k * k) / 2;
}

/** Buckets until the first alarm of a fresh CUSUM on in-control binomial buckets, restarted after each alarm. */
function inControlAlarms(seed: number, buckets: number, docsPerBucket: number, h: number): number {
  const rand = rng(seed);
  let s = CUSUM_START;
  let alarms = 0;
  for (let t = 0; t < buckets; t++) {
    const n = poisson(rand, docsPerBucket);
    if (n < 30) continue; // below min samples: not folded in (as the rule does)
    s = cusumStep(s, standardizedShare(binomial(rand, n, P0), n, P0), { ...CUSUM_DEFAULTS, h });
    if (cusumStatistic(s) > h) {
      alarms++;
      s = CUSUM_START;
    }
  }
  return alarms;
}

const rule = parseConfig(
  {
    alerts: {
      rules: [
        {
          name: 'NegativeShareShift',
          kind: 'drift',
          metric: 'cusum',
          feature: 'negative_share',
          comparison: '>',
          threshold: CUSUM_DEFAULTS.h,
          resolveThreshold: CUSUM_DEFAULTS.h / 2,
          window: '1m',
          minSamples: 30,
          for: '0s',
        },
      ],
    },
  },
  {},
).alerts!.rules[0]!;

/** Runs the cusum rule through measureRule and the state machine, one 1-minute bucket at a time. */
function runCusumRule(minutes: number, share: (minute: number) => number, seed: number) {
  const rand = rng(seed);
  const sequential = new Map<string, SequentialState>();
  const baseline = emptyGroupStats(ALL_DIMENSION, ALL_GROUP);
  baseline.count = 100_000;
  baseline.labelCounts.negative = P0 * 100_000;
  let record: AlertRecord | undefined;
  const firing: boolean[] = [];
  let firstFiring: number | null = null;
  let resolutions = 0;
  for (let minute = 0; minute < minutes; minute++) {
    const g = emptyGroupStats(ALL_DIMENSION, ALL_GROUP);
    g.count = poisson(rand, 120);
    g.labelCounts.negative = binomial(rand, g.count, share(minute));
    const endMs = (minute + 1) * MINUTE_MS;
    const [m] = measureRule(
      rule,
      {
        current: new Map([[windowKey(ALL_DIMENSION, MINUTE_MS), [g]]]),
        reference: new Map(),
        pipeline: null,
        baseline: { name: 'default', dimensions: { [ALL_DIMENSION]: [baseline] } },
        endMs,
        sequential,
      },
      30,
    );
    const { next, transition } = step(rule, record, m, endMs);
    record = next;
    if (transition?.to === 'firing' && firstFiring === null) firstFiring = minute;
    if (transition?.to === 'resolved') resolutions++;
    firing.push(record?.state === 'firing');
  }
  return { firing, firstFiring, resolutions };
}

describe('CUSUM drift detector', () => {
  it('the simulation reproduces Siegmund at a short ARL (h = 5): the method measures what it claims', () => {
    const buckets = 300_000;
    const arl = buckets / inControlAlarms(1, buckets, 60, 5);
    const theory = siegmundTwoSided(0.5, 5);
    expect(arl).toBeGreaterThan(theory * 0.85);
    expect(arl).toBeLessThan(theory * 1.15);
  });

  it('in-control ARL0 at the defaults (k 0.5, h 10) is at least 30 days of 1-minute buckets', () => {
    expect(siegmundTwoSided(CUSUM_DEFAULTS.k, CUSUM_DEFAULTS.h)).toBeGreaterThan(60_000);
    const buckets = 1_000_000; // ~694 days
    const alarms = inControlAlarms(2, buckets, 40, CUSUM_DEFAULTS.h);
    expect(buckets / Math.max(1, alarms)).toBeGreaterThanOrEqual(30 * DAY);
  }, 120_000);

  it('a permanent shift (0.2 → 0.26 negative) is detected within an hour and stays firing to the end', () => {
    const onset = 6 * 60;
    const run = runCusumRule(48 * 60, (m) => (m >= onset ? 0.26 : P0), 3);
    expect(run.firstFiring).not.toBeNull();
    expect(run.firstFiring!).toBeGreaterThanOrEqual(onset);
    expect(run.firstFiring! - onset).toBeLessThanOrEqual(60);
    expect(run.firing.slice(run.firstFiring!).every(Boolean)).toBe(true);
    expect(run.resolutions).toBe(0);
  });

  for (const seed of [4, 7, 8]) {
    it(`a 24-hour ramp to the same end state fires during the ramp and stays firing once it is complete (seed ${seed})`, () => {
      const onset = 6 * 60;
      const ramp = 24 * 60;
      const share = (m: number) => P0 + 0.06 * Math.min(1, Math.max(0, (m - onset) / ramp));
      const run = runCusumRule(onset + ramp + 12 * 60, share, seed);
      expect(run.firstFiring).not.toBeNull();
      expect(run.firstFiring!).toBeGreaterThan(onset);
      expect(run.firstFiring!).toBeLessThan(onset + ramp);
      expect(run.firing.slice(onset + ramp).every(Boolean)).toBe(true);
    });
  }

  it('stationary traffic on the rule code: no alert in 7 simulated days', () => {
    const run = runCusumRule(7 * DAY, () => P0, 5);
    expect(run.firstFiring).toBeNull();
  });

  it('resolves within about (cap − 1)·h/k buckets once the shift ends', () => {
    const run = runCusumRule(6 * 60, (m) => (m >= 60 && m < 180 ? 0.3 : P0), 6);
    expect(run.firstFiring).not.toBeNull();
    expect(run.resolutions).toBe(1);
    const resolvedAt = run.firing.lastIndexOf(true) + 1;
    expect(resolvedAt - 180).toBeLessThanOrEqual(40);
  });
});
