import type { AlertRuleConfig } from '../config/schema.js';
import type { GroupWindowStats } from '../domain/windows.js';
import { judgeSurges } from '../stats/surge.js';
import { fmt } from './measure-inputs.js';
import type { Measurement } from './state-machine.js';

/**
 * The `negative_share_surge` sentiment metric (SURGE_METRIC in src/config/rules.ts; docs/alerting.md
 * "Surge"): the negative share of a group's stories in the window (the window store counts a story
 * once per group), judged against the group's own longer history shrunk towards the pool (empirical
 * Bayes) and raised by the round's common rise, with a beta-binomial test whose dispersion is
 * estimated from the window's predecessors (`past`; the round's own when there are too few), and
 * Benjamini–Hochberg across the groups judged in the round. The measurement's p-value is the
 * BH-adjusted one, so `maxPValue` bounds the expected share of false discoveries among the round's
 * alerts.
 *
 * `reference` is the trailing history the evaluator reads for this rule (`referenceWindow`, 24 h by
 * default for the shipped rule); an empty reference makes every group start at the round's pool.
 * `past` holds the windows of the same length before this one (the evaluator reads the last hour's).
 */

export function measureSurge(
  rule: AlertRuleConfig,
  current: readonly GroupWindowStats[],
  reference: readonly GroupWindowStats[],
  minSamples: number,
  past: ReadonlyArray<readonly GroupWindowStats[]> = [],
): Measurement[] {
  const counts = (g: GroupWindowStats) => ({ group: g.group, hits: g.labelCounts.negative, n: g.count });
  const { judgements, dispersion, dispersionSource, shift } = judgeSurges(
    current.map(counts),
    reference.map(counts),
    minSamples,
    past.map((w) => w.map(counts)),
  );
  const dimension = rule.dimension ?? '_all';
  return judgements.map((j) => ({
    rule: rule.name,
    dimension,
    group: j.group,
    value: j.share,
    sampleSize: j.n,
    judged: j.qValue !== null && j.n > 0,
    ...(j.qValue !== null ? { pValue: j.qValue } : {}),
    detail: `reference ${fmt(j.reference.mean)} (own history shrunk to the pool, weight ${fmt(j.reference.concentration)}), dispersion ${fmt(dispersion)} (${dispersionSource === 'baseline' ? `past ${past.length} windows` : 'this round'}), market shift ${fmt(shift)}, p=${j.pValue.toExponential(2)}${j.qValue !== null ? `, BH q=${j.qValue.toExponential(2)}` : ''}`,
  }));
}
