import type { AlertRuleConfig } from '../../config/schema.js';
import { SURGE_METRIC } from '../../config/rules.js';
import type { GroupWindowStats } from '../../domain/windows.js';
import { sumGroupStats } from '../../stats/counters.js';
import { twoProportionZTest } from '../../stats/fairness.js';
import { ALL_GROUP } from '../../stats/grouping.js';
import { histogramEdges } from '../../stats/histograms.js';
import { groupPerformance } from '../../stats/performance.js';
import { fisherExactOneSided } from '../../stats/special.js';
import { fmt, windowKey, type RuleMeasureContext } from '../measure-inputs.js';
import type { Measurement } from '../state-machine.js';
import { measureSurge } from '../surge-rule.js';

/**
 * Sentiment rules, one measurement per group of `dimension`:
 *   negative_share, positive_share — share of documents predicted so; with `maxPValue`, a one-sided
 *     Fisher exact test against the group's reference (its own trailing window/baseline when that
 *     has ≥ minSamples documents, else the pooled reference of the whole dimension — a new issuer is
 *     compared with issuers in general) must also pass.
 *   mean_polarity — mean of p_pos − p_neg.   mean_confidence — mean max-probability (bin centres);
 *   estimated_accuracy — the same figure read as CBPE expected accuracy (probabilities calibrated);
 *   accuracy, macro_f1 — realised, from joined labels, judged on ≥ minSamples labels; label_coverage
 *     — labelled / predicted (src/stats/performance.ts, issue #19).
 *   negative_share_surge — negative share of the group's stories, p-value from src/alerts/surge-rule.ts
 *     (own history shrunk to the pool, beta-binomial, Benjamini–Hochberg across the round).
 */

/** The reference a group's share is tested against: its own, else the dimension's pooled one. */
export interface ShareReference {
  count: number;
  hits: number;
  source: 'group' | 'pooled';
}

export function shareReference(
  own: GroupWindowStats | undefined,
  pooled: GroupWindowStats,
  hitsOf: (g: GroupWindowStats) => number,
  minSamples: number,
): ShareReference | undefined {
  if (own && own.count >= Math.max(1, minSamples))
    return { count: own.count, hits: hitsOf(own), source: 'group' };
  if (pooled.count >= Math.max(1, minSamples))
    return { count: pooled.count, hits: hitsOf(pooled), source: 'pooled' };
  return undefined;
}

/** One group's measurement of a per-group sentiment metric; `m` arrives with identity and judged set. */
type GroupMetric = (m: Measurement, g: GroupWindowStats, group: GroupContext) => void;

interface GroupContext {
  rule: AlertRuleConfig;
  minSamples: number;
  /** The group's own reference, by group. */
  refByGroup: ReadonlyMap<string, GroupWindowStats>;
  /** The reference of the whole dimension. */
  pooled: GroupWindowStats;
}

/** The one-sided alternative a rule's comparison tests. */
function alternativeOf(rule: AlertRuleConfig): 'greater' | 'less' {
  return rule.comparison === '>' || rule.comparison === '>=' ? 'greater' : 'less';
}

function measureShare(m: Measurement, g: GroupWindowStats, ctx: GroupContext): void {
  const { rule, minSamples } = ctx;
  const hitsOf = (s: GroupWindowStats) =>
    rule.metric === 'negative_share' ? s.labelCounts.negative : s.labelCounts.positive;
  m.value = g.count > 0 ? hitsOf(g) / g.count : 0;
  const ref = shareReference(ctx.refByGroup.get(g.group), ctx.pooled, hitsOf, minSamples);
  if (!ref) return;
  // Fisher's exact test, not the z-test's normal approximation: for the 20–40 documents an
  // issuer has in a 5-minute window the z-test overstates significance (11 of 20 against
  // 1,800 of 10,000: z-test p = 8.7e-6, exact 2.2e-4) and fired on noise in small groups.
  const { z } = twoProportionZTest(hitsOf(g), g.count, ref.hits, ref.count);
  m.pValue = fisherExactOneSided(hitsOf(g), g.count, ref.hits, ref.count, alternativeOf(rule));
  m.detail = `reference ${fmt(ref.hits / ref.count)} (${ref.source}, n=${ref.count}), z=${fmt(z)}, p=${m.pValue.toExponential(2)}`;
}

function measureMeanPolarity(m: Measurement, g: GroupWindowStats): void {
  m.value = g.count > 0 ? g.polaritySum / g.count : 0;
}

function histogramMean(bins: readonly number[], edges: readonly number[]): number {
  let n = 0;
  let sum = 0;
  bins.forEach((c, i) => {
    n += c;
    sum += c * ((edges[i]! + edges[i + 1]!) / 2);
  });
  return n > 0 ? sum / n : Number.NaN;
}

// With calibrated probabilities the mean confidence is the CBPE accuracy estimate (issue #19).
function measureMeanConfidence(m: Measurement, g: GroupWindowStats): void {
  m.value = histogramMean(g.histograms.confidence, histogramEdges('confidence'));
}

/**
 * Realised performance metrics from the window's joined labels (src/stats/performance.ts). They are
 * judged on the number of labelled documents, not predictions: a window whose labels have not
 * arrived yet is not judged (minSamples is the minimum number of labels).
 */
function measurePerformance(m: Measurement, g: GroupWindowStats, { rule, minSamples }: GroupContext): void {
  const p = groupPerformance(g);
  const value = { accuracy: p.accuracy, macro_f1: p.macroF1, label_coverage: p.labelCoverage }[
    rule.metric as 'accuracy' | 'macro_f1' | 'label_coverage'
  ];
  m.value = value ?? Number.NaN;
  if (rule.metric === 'label_coverage') return;
  m.sampleSize = p.labelled;
  m.judged = p.labelled > 0 && p.labelled >= minSamples && value !== null;
  m.detail = `${p.labelled} labelled of ${p.predicted} predicted (coverage ${fmt(p.labelCoverage ?? 0)}), estimated accuracy ${fmt(p.estimatedAccuracy ?? Number.NaN)}`;
}

const GROUP_METRICS: Record<string, GroupMetric> = {
  negative_share: measureShare,
  positive_share: measureShare,
  mean_polarity: measureMeanPolarity,
  mean_confidence: measureMeanConfidence,
  estimated_accuracy: measureMeanConfidence,
  accuracy: measurePerformance,
  macro_f1: measurePerformance,
  label_coverage: measurePerformance,
};

export function measureSentimentRule(ctx: RuleMeasureContext): Measurement[] {
  const { rule, current, reference, base, minSamples } = ctx;
  if (rule.metric === SURGE_METRIC)
    return measureSurge(
      rule,
      current,
      reference,
      minSamples,
      ctx.inputs.past?.get(windowKey(base.dimension, rule.window)),
    );
  const metric = GROUP_METRICS[rule.metric];
  if (!metric) throw new Error(`rule ${rule.name}: unknown sentiment metric ${rule.metric}`);
  const group: GroupContext = {
    rule,
    minSamples,
    refByGroup: new Map(reference.map((g) => [g.group, g])),
    pooled: sumGroupStats(base.dimension, ALL_GROUP, reference),
  };
  return current.map((g): Measurement => {
    const judged = g.count >= minSamples && g.count > 0;
    const m: Measurement = { ...base, group: g.group, value: Number.NaN, sampleSize: g.count, judged };
    metric(m, g, group);
    return m;
  });
}
