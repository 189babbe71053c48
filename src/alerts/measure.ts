import type { AlertRuleConfig } from '../config/schema.js';
import { ruleFieldIssues } from '../config/rules.js';
import { groupPerformance } from '../stats/performance.js';
import type { GroupWindowStats } from '../domain/windows.js';
import { sumGroupStats } from '../stats/counters.js';
import { twoProportionZTest, type FairnessReport } from '../stats/fairness.js';
import { demographicParityInterval, disparateImpactInterval } from '../stats/fairness-intervals.js';
import { ALL_GROUP } from '../stats/grouping.js';
import type { FairnessSample, GroupSentimentSample } from '../telemetry/metrics.js';
import {
  referenceKey,
  ruleDimension,
  windowKey,
  type EvaluationInputs,
  type RuleKindMeasurer,
} from './measure-inputs.js';
import { measureDriftRule } from './rule-kinds/drift.js';
import { DEFAULT_FAIRNESS_CONFIDENCE, measureFairnessRule } from './rule-kinds/fairness.js';
import { measurePipelineRule } from './rule-kinds/pipeline.js';
import { measureSentimentRule, shareReference } from './rule-kinds/sentiment.js';
import type { Measurement } from './state-machine.js';

/**
 * Pure rule measurements: from window contents (and their references) and pipeline signals to one
 * Measurement per (rule, dimension, group). The statistics are those of src/stats (Fairlearn/scipy
 * definitions). Each rule kind has its measurer in src/alerts/rule-kinds/ (one file a kind, which
 * says what each of its metrics means); measureRule dispatches on the kind (MEASURE_BY_KIND).
 *
 * Groups below min samples are measured but `judged: false` (reported, never fire — design §5).
 */

export {
  NO_BASELINE,
  referenceKey,
  ruleDimension,
  windowKey,
  type BaselineReference,
  type EvaluationInputs,
  type PipelineSignals,
  type SequentialState,
} from './measure-inputs.js';
export { driftResults } from './rule-kinds/drift.js';
export { DEFAULT_FAIRNESS_CONFIDENCE } from './rule-kinds/fairness.js';

/** The measurer of each rule kind; a new kind is one more entry (and its file in rule-kinds/). */
const MEASURE_BY_KIND: Record<AlertRuleConfig['kind'], RuleKindMeasurer> = {
  sentiment: measureSentimentRule,
  fairness: measureFairnessRule,
  drift: measureDriftRule,
  pipeline: measurePipelineRule,
};

export function measureRule(
  rule: AlertRuleConfig,
  inputs: EvaluationInputs,
  defaultMinSamples: number,
): Measurement[] {
  const dimension = ruleDimension(rule);
  const windowed = rule.kind !== 'pipeline';
  return MEASURE_BY_KIND[rule.kind]({
    rule,
    inputs,
    current: windowed ? (inputs.current.get(windowKey(dimension, rule.window)) ?? []) : [],
    reference: windowed ? (inputs.reference.get(referenceKey(rule)) ?? []) : [],
    base: { rule: rule.name, dimension },
    minSamples: rule.minSamples ?? defaultMinSamples,
  });
}

/** The rules' own trailing references the evaluator reads besides its configured one. */
export function ownReferences(
  rules: readonly AlertRuleConfig[],
): Array<{ key: string; dimension: string; windowMs: number; referenceMs: number }> {
  const seen = new Map<string, { key: string; dimension: string; windowMs: number; referenceMs: number }>();
  for (const rule of rules) {
    if (rule.kind === 'pipeline' || rule.referenceWindow === undefined) continue;
    const key = referenceKey(rule);
    seen.set(key, {
      key,
      dimension: ruleDimension(rule),
      windowMs: rule.window,
      referenceMs: rule.referenceWindow,
    });
  }
  return [...seen.values()];
}

/** The (dimension, window) pairs a rule set needs read. */
export function requiredWindows(
  rules: readonly AlertRuleConfig[],
): Array<{ dimension: string; windowMs: number }> {
  const seen = new Map<string, { dimension: string; windowMs: number }>();
  for (const rule of rules) {
    if (rule.kind === 'pipeline') continue;
    const dimension = ruleDimension(rule);
    seen.set(windowKey(dimension, rule.window), { dimension, windowMs: rule.window });
  }
  return [...seen.values()];
}

/** Per-group sentiment figures for the gauges, including the z of the negative share against its reference. */
export function groupSentiment(
  current: readonly GroupWindowStats[],
  reference: readonly GroupWindowStats[] | undefined,
  minSamples: number,
): GroupSentimentSample[] {
  const refByGroup = new Map((reference ?? []).map((g) => [g.group, g]));
  const pooled = sumGroupStats('', ALL_GROUP, reference ?? []);
  return current.map((g) => {
    const ref = shareReference(refByGroup.get(g.group), pooled, (s) => s.labelCounts.negative, minSamples);
    const z = ref ? twoProportionZTest(g.labelCounts.negative, g.count, ref.hits, ref.count).z : Number.NaN;
    return {
      group: g.group,
      count: g.count,
      negative: g.labelCounts.negative,
      meanPolarity: g.count > 0 ? g.polaritySum / g.count : 0,
      negativeShareZ: z,
      performance: groupPerformance(g),
    };
  });
}

/**
 * Gauge figures of a fairness report; alpha decides which groups count as breaching, `level` is the
 * confidence of the DIR/DPD intervals (the dimension's DIR rule's, default 0.95).
 */
export function fairnessSample(
  report: FairnessReport,
  alpha = 0.01,
  level = DEFAULT_FAIRNESS_CONFIDENCE,
): Partial<FairnessSample> {
  const judged = report.groups.filter((g) => g.judged);
  const out: Partial<FairnessSample> = {
    judgedGroups: judged.length,
    breachingGroups: judged.filter((g) => g.vsRest !== null && g.vsRest.pValue <= alpha).length,
    worstGroupZ: report.worstGroup?.vsRest ? Math.abs(report.worstGroup.vsRest.z) : 0,
  };
  if (judged.length >= 2 && report.demographicParityDifference.value !== null)
    out.demographicParityDifference = report.demographicParityDifference.value;
  if (judged.length >= 2 && report.disparateImpactRatio.value !== null)
    out.disparateImpactRatio = report.disparateImpactRatio.value;
  const dir = disparateImpactInterval(report.groups, level);
  if (dir) out.disparateImpactRatioInterval = { low: dir.low, high: dir.high };
  const dpd = demographicParityInterval(report.groups, level);
  if (dpd) out.demographicParityDifferenceInterval = { low: dpd.low, high: dpd.high };
  return out;
}

/** Confidence of the gauges' fairness intervals on a dimension: its DIR rule's, else the default. */
export function fairnessGaugeConfidence(rules: readonly AlertRuleConfig[], dimension: string): number {
  const rule = rules.find(
    (r) => r.kind === 'fairness' && r.dimension === dimension && r.metric === 'disparate_impact_ratio',
  );
  return rule?.confidence ?? DEFAULT_FAIRNESS_CONFIDENCE;
}

/** Validates rule metrics/features up front so a typo fails at start-up, not at the first evaluation. */
export function validateRule(rule: AlertRuleConfig): string | undefined {
  const issues = ruleFieldIssues(rule);
  return issues.length > 0 ? `alerts.rules ${rule.name}: ${issues.join('; ')}` : undefined;
}
