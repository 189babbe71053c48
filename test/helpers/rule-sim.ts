// Simulated traffic through the real rule code, in memory: per-minute buckets of per-group counts,
// sliding windows summed from them, measureRule and the alert state machine stepped once a minute
// (the event clock's cadence). No Kafka or Redis: these tests are about the statistics and the rules.
import { measureRule, windowKey } from '../../src/alerts/measure.js';
import { step, type AlertRecord, type Transition } from '../../src/alerts/state-machine.js';
import type { AlertRuleConfig } from '../../src/config/schema.js';
import type { GroupWindowStats } from '../../src/domain/windows.js';
import { emptyGroupStats } from '../../src/stats/counters.js';
import { rng } from './fault-traffic.js';

export { rng };

export const MINUTE_MS = 60_000;

/** Poisson draw: Knuth's product method for small means, a rounded normal above 50. */
export function poisson(rand: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(rand)));
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rand();
  while (p > limit) {
    k++;
    p *= rand();
  }
  return k;
}

export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Binomial draw by counting Bernoulli trials (exact; the counts here are at most a few thousand). */
export function binomial(rand: () => number, n: number, p: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) if (rand() < p) x++;
  return x;
}

/** One group's counts in one bucket. */
export interface BucketCounts {
  group: string;
  count: number;
  negative: number;
}

/**
 * Per-minute region traffic: `docsPerSecond` in total, split evenly over `rates.length` groups,
 * Poisson arrivals, each document negative with its group's rate at that minute.
 */
export function regionTraffic(
  seed: number,
  docsPerSecond: number,
  rates: (minute: number) => Record<string, number>,
): (minute: number) => BucketCounts[] {
  const rand = rng(seed);
  return (minute) => {
    const byGroup = rates(minute);
    const groups = Object.keys(byGroup);
    return groups.map((group) => {
      const count = poisson(rand, (docsPerSecond * 60) / groups.length);
      return { group, count, negative: binomial(rand, count, byGroup[group]!) };
    });
  };
}

function windowStats(dimension: string, totals: Map<string, { count: number; negative: number }>) {
  const out: GroupWindowStats[] = [];
  for (const [group, t] of totals) {
    if (t.count <= 0) continue;
    const g = emptyGroupStats(dimension, group);
    g.count = t.count;
    g.labelCounts.negative = t.negative;
    g.labelCounts.positive = t.count - t.negative;
    out.push(g);
  }
  return out;
}

export interface RuleRun {
  transitions: Array<{ minute: number; transition: Transition }>;
  /** Minutes the alert spent firing. */
  firingMinutes: number;
  /** Minute of each transition to firing. */
  firedAt: number[];
  /** The record after the last step (per fingerprint). */
  records: Map<string, AlertRecord>;
}

/**
 * Runs one sentiment/fairness rule over `minutes` of bucketed traffic: the rule's window is the sum of
 * the last window/1m buckets; the rule is measured and stepped at every minute (event clock).
 */
export function runRule(
  rule: AlertRuleConfig,
  minutes: number,
  bucket: (minute: number) => BucketCounts[],
  defaultMinSamples = 30,
): RuleRun {
  const dimension = rule.dimension!;
  const windowBuckets = Math.round(rule.window / MINUTE_MS);
  const history: BucketCounts[][] = [];
  const totals = new Map<string, { count: number; negative: number }>();
  const records = new Map<string, AlertRecord>();
  const run: RuleRun = { transitions: [], firingMinutes: 0, firedAt: [], records };
  for (let minute = 0; minute < minutes; minute++) {
    const counts = bucket(minute);
    history.push(counts);
    for (const c of counts) {
      const t = totals.get(c.group) ?? { count: 0, negative: 0 };
      t.count += c.count;
      t.negative += c.negative;
      totals.set(c.group, t);
    }
    if (history.length > windowBuckets) {
      for (const c of history.shift()!) {
        const t = totals.get(c.group)!;
        t.count -= c.count;
        t.negative -= c.negative;
      }
    }
    const current = new Map([[windowKey(dimension, rule.window), windowStats(dimension, totals)]]);
    const measured = measureRule(rule, { current, reference: new Map(), pipeline: null }, defaultMinSamples);
    for (const m of measured) {
      const key = `${m.dimension}|${m.group}`;
      const { next, transition } = step(rule, records.get(key), m, (minute + 1) * MINUTE_MS);
      if (next) records.set(key, next);
      if (transition) {
        run.transitions.push({ minute, transition });
        if (transition.to === 'firing') run.firedAt.push(minute);
      }
    }
    if ([...records.values()].some((r) => r.state === 'firing')) run.firingMinutes++;
  }
  return run;
}
