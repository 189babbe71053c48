import type { AlertRuleConfig } from '../config/schema.js';
import type { GroupWindowStats } from '../domain/windows.js';
import { equalizedOddsInterval } from '../stats/equalized-odds.js';
import { labelledFairness } from '../stats/fairness.js';
import type { FairnessSample } from '../telemetry/metrics.js';
import type { Measurement } from './state-machine.js';

/**
 * The `equalized_odds_difference` fairness metric (docs/alerting.md "Equalized odds", issue #19):
 * Fairlearn's equalized odds difference of the window's joined labels over the judged groups of the
 * dimension (src/stats/fairness.ts labelledFairness: a group is judged with ≥ minSamples labels, its
 * TPR_c / FPR_c with ≥ minClassSamples actual members / non-members of c), one measurement per
 * dimension (group "*") with its simultaneous `confidence` interval (src/stats/equalized-odds.ts).
 * A `>` rule is judged on the interval's lower bound, so it fires only when the gap exceeds the
 * threshold with that confidence — not whenever two groups' rates differ.
 */
export const EQUALIZED_ODDS_METRIC = 'equalized_odds_difference';

/** Per-class minimum when the rule states none: stats.minClassSamples' default. */
export const DEFAULT_RULE_MIN_CLASS_SAMPLES = 10;

const DEFAULT_CONFIDENCE = 0.95;
const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

export function measureEqualizedOdds(
  rule: AlertRuleConfig,
  current: readonly GroupWindowStats[],
  minSamples: number,
): Measurement {
  const level = rule.confidence ?? DEFAULT_CONFIDENCE;
  const minClassSamples = rule.minClassSamples ?? DEFAULT_RULE_MIN_CLASS_SAMPLES;
  const withLabels = current.flatMap((g) =>
    g.confusion ? [{ group: g.group, confusion: g.confusion }] : [],
  );
  const labelled = labelledFairness(withLabels, Math.max(1, minSamples), minClassSamples);
  const labels = labelled.groups.reduce((s, g) => s + g.n, 0);
  const eod = labelled.equalizedOddsDifference;
  const m: Measurement = {
    rule: rule.name,
    dimension: rule.dimension ?? '_all',
    group: '*',
    value: eod.value ?? Number.NaN,
    sampleSize: labels,
    judged: false,
    detail: `${labelled.groups.filter((g) => g.judged).length} groups with ≥ ${minSamples} labels (${labels} labels); not judged`,
  };
  const iv = equalizedOddsInterval(labelled, level, minClassSamples);
  if (!iv || eod.value === null) return m;
  const [a, b] = iv.decidingPair;
  m.judged = Number.isFinite(iv.low) && Number.isFinite(iv.high);
  m.interval = { low: iv.low, high: iv.high, level };
  m.groups = [a, b];
  m.detail =
    `worst ${eod.worstRate?.toUpperCase()} of ${eod.worstClass}; ${Math.round(level * 100)}% interval ` +
    `[${fmt(iv.low)}, ${fmt(iv.high)}] (Newcombe, Bonferroni over ${iv.comparisons} comparisons, ` +
    `≥ ${minClassSamples} per class); deciding ${iv.worstRate.toUpperCase()} of ${iv.worstClass}: ${a} vs ${b}`;
  return m;
}

/**
 * Gauge figures of a dimension's equalized odds (finsentry_fairness_equalized_odds_difference and its
 * bounds), with the confidence and per-class minimum of the dimension's equalized-odds rule if it has
 * one (else 0.95 and 10), so that the gauge shows what the rule judges.
 */
export function equalizedOddsSample(
  rules: readonly AlertRuleConfig[],
  dimension: string,
  current: readonly GroupWindowStats[],
  defaultMinSamples: number,
): Partial<Pick<FairnessSample, 'equalizedOddsDifference' | 'equalizedOddsDifferenceInterval'>> {
  const rule = rules.find(
    (r) => r.kind === 'fairness' && r.metric === EQUALIZED_ODDS_METRIC && r.dimension === dimension,
  );
  const probe = { ...(rule ?? { name: 'gauge', kind: 'fairness', dimension }) } as AlertRuleConfig;
  const m = measureEqualizedOdds(probe, current, rule?.minSamples ?? defaultMinSamples);
  return {
    ...(Number.isFinite(m.value) ? { equalizedOddsDifference: m.value } : {}),
    ...(m.interval
      ? { equalizedOddsDifferenceInterval: { low: m.interval.low, high: m.interval.high } }
      : {}),
  };
}
