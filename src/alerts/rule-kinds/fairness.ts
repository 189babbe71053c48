import type { AlertRuleConfig } from '../../config/schema.js';
import { fairnessReport, type FairnessReport } from '../../stats/fairness.js';
import { demographicParityInterval, disparateImpactInterval } from '../../stats/fairness-intervals.js';
import { fmt, type RuleMeasureContext } from '../measure-inputs.js';
import type { Measurement } from '../state-machine.js';

/**
 * Fairness rules (rate r_g = negative share of judged groups):
 *   disparate_impact_ratio = min r / max r, demographic_parity_difference = max r − min r: one
 *     measurement per dimension (group "*") with its simultaneous `confidence` interval (Katz /
 *     Newcombe, Bonferroni over the pairs of judged groups) and the deciding pair of groups; the rule
 *     is judged on the interval's far bound, not on a test of equal rates (docs/alerting.md);
 *   group_deviation_z — per group, |z| of its negative share against the rest of the dimension.
 */

/** Simultaneous confidence level of fairness intervals when a rule states none (docs/alerting.md). */
export const DEFAULT_FAIRNESS_CONFIDENCE = 0.95;

/** A fairness rule with its dimension's report: what each fairness metric reads. */
interface FairnessContext {
  rule: AlertRuleConfig;
  report: FairnessReport;
  base: { rule: string; dimension: string };
  /** Documents in the dimension's current window. */
  sampleSize: number;
}

/**
 * DIR or DPD of a dimension with its simultaneous interval (src/stats/fairness-intervals.ts): the rule
 * is judged on the interval's far bound (state-machine decisionValue), so it fires only when the
 * figure is beyond the threshold with the stated confidence — not merely when rates differ. The
 * measurement names the deciding pair of groups; its identity stays the dimension (group "*") so that
 * a change of pair does not end one alert and start another.
 */
function measureFairnessFigure({ rule, report, base, sampleSize }: FairnessContext): Measurement[] {
  const level = rule.confidence ?? DEFAULT_FAIRNESS_CONFIDENCE;
  const isRatio = rule.metric === 'disparate_impact_ratio';
  const r = isRatio ? report.disparateImpactRatio : report.demographicParityDifference;
  const iv = isRatio
    ? disparateImpactInterval(report.groups, level)
    : demographicParityInterval(report.groups, level);
  const m: Measurement = { ...base, group: '*', value: r.value ?? Number.NaN, sampleSize, judged: false };
  if (!iv || r.value === null) return [m];
  const [a, b] = iv.decidingPair;
  const rateOf = (g: string) => report.groups.find((x) => x.group === g)!;
  m.judged = Number.isFinite(iv.low) && Number.isFinite(iv.high);
  m.interval = { low: iv.low, high: iv.high, level };
  m.groups = [a, b];
  m.detail =
    `${Math.round(level * 100)}% interval [${fmt(iv.low)}, ${fmt(iv.high)}] (${isRatio ? 'Katz' : 'Newcombe'}, ` +
    `Bonferroni over ${iv.pairs} pairs); deciding pair ${a} ${fmt(rateOf(a).rate)} (n=${rateOf(a).n}) ` +
    `${isRatio ? '/' : '−'} ${b} ${fmt(rateOf(b).rate)} (n=${rateOf(b).n})`;
  return [m];
}

/** Per group, |z| of its negative share against the rest; judged only when ≥ 2 groups are. */
function measureGroupDeviation({ report, base }: FairnessContext): Measurement[] {
  const judgedCount = report.groups.filter((g) => g.judged).length;
  return report.groups.map((g): Measurement => ({
    ...base,
    group: g.group,
    value: g.vsRest ? Math.abs(g.vsRest.z) : Number.NaN,
    sampleSize: g.n,
    ...(g.vsRest
      ? { pValue: g.vsRest.pValue, detail: `${fmt(g.rate)} vs rest ${fmt(g.vsRest.restRate)}` }
      : {}),
    judged: g.judged && g.vsRest !== null && judgedCount >= 2,
  }));
}

const FAIRNESS_METRICS: Record<string, (ctx: FairnessContext) => Measurement[]> = {
  disparate_impact_ratio: measureFairnessFigure,
  demographic_parity_difference: measureFairnessFigure,
  group_deviation_z: measureGroupDeviation,
};

export function measureFairnessRule({ rule, current, base, minSamples }: RuleMeasureContext): Measurement[] {
  const metric = FAIRNESS_METRICS[rule.metric];
  if (!metric) throw new Error(`rule ${rule.name}: unknown fairness metric ${rule.metric}`);
  const report = fairnessReport(base.dimension, current, { minSamples });
  const sampleSize = current.reduce((s, g) => s + g.count, 0);
  return metric({ rule, report, base, sampleSize });
}
