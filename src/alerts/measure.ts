import type { AlertRuleConfig } from '../config/schema.js';
import { ruleFieldIssues } from '../config/rules.js';
import { groupPerformance } from '../stats/performance.js';
import type { GroupWindowStats } from '../domain/windows.js';
import { sumGroupStats } from '../stats/counters.js';
import { computeDrift, type DriftFeatureResult } from '../stats/drift.js';
import { fairnessReport, twoProportionZTest, type FairnessReport } from '../stats/fairness.js';
import { demographicParityInterval, disparateImpactInterval } from '../stats/fairness-intervals.js';
import { ALL_DIMENSION, ALL_GROUP } from '../stats/grouping.js';
import { histogramEdges } from '../stats/histograms.js';
import { fisherExactOneSided } from '../stats/special.js';
import {
  CUSUM_DEFAULTS,
  CUSUM_START,
  cusumStatistic,
  cusumStep,
  standardizedShare,
  type CusumState,
} from '../stats/cusum.js';
import type { FairnessSample, GroupSentimentSample } from '../telemetry/metrics.js';
import type { Measurement } from './state-machine.js';
import { measureSurge, SURGE_METRIC } from './surge-rule.js';
import { EQUALIZED_ODDS_METRIC, measureEqualizedOdds } from './equalized-odds-rule.js';

/**
 * Pure rule measurements: from window contents (and their references) and pipeline signals to one
 * Measurement per (rule, dimension, group). The statistics are those of src/stats (Fairlearn/scipy
 * definitions). What each `metric` means, per rule kind:
 *
 * sentiment (one measurement per group of `dimension`):
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
 * fairness (rate r_g = negative share of judged groups):
 *   disparate_impact_ratio = min r / max r, demographic_parity_difference = max r − min r: one
 *     measurement per dimension (group "*") with its simultaneous `confidence` interval (Katz /
 *     Newcombe, Bonferroni over the pairs of judged groups) and the deciding pair of groups; the rule
 *     is judged on the interval's far bound, not on a test of equal rates (docs/alerting.md);
 *   group_deviation_z — per group, |z| of its negative share against the rest of the dimension;
 *   equalized_odds_difference — joined labels, Fairlearn's figure with a per-class minimum, judged on
 *     its simultaneous interval (src/alerts/equalized-odds-rule.ts).
 * drift (dimension default `_all` = every document; group = feature; current vs reference — the pinned
 *   baseline unless the rule says `reference: trailing`; without a baseline the rule is not judged):
 *   psi, js_distance, ks_statistic on `feature` (p_neg, polarity, confidence, tokens, label_mix,
 *   entity_type_mix, unknown_token_rate, truncation_rate); ks_statistic only for numeric features;
 *   p-value (for `maxPValue`): binned two-sample KS for numeric features, χ² homogeneity for mixes;
 *   cusum (feature negative_share): two-sided CUSUM of the per-bucket negative share against the
 *   baseline share, threshold = h (src/stats/cusum.ts).
 * pipeline (group "*"): dlq_rate (DLQ records/s), dlq_share (DLQ records / input records consumed),
 *   consumer_lag (messages), stalled_seconds (seconds the committed offsets have not moved while
 *   lag > 0), input_rate (records/s), late_share (records on the late topic — refused by the window
 *   store as late or future, docs/guarantees.md#event-time — / input records consumed).
 *
 * Groups below min samples are measured but `judged: false` (reported, never fire — design §5).
 */

export interface PipelineSignals {
  dlqRate: number;
  dlqShare: number;
  consumerLag: number;
  stalledSeconds: number;
  inputRate: number;
  /** Late-topic records / input records consumed over the span (0 when the late topic is not read). */
  lateShare?: number;
  /** Consumer lag per input partition, keyed "topic:partition" (the window store's partition keys). */
  partitionLag?: Readonly<Record<string, number>>;
}

export interface EvaluationInputs {
  /** Current windows keyed by windowKey(dimension, windowMs). */
  current: ReadonlyMap<string, readonly GroupWindowStats[]>;
  /** Reference windows (trailing or baseline, evaluator.reference), same keys. */
  reference: ReadonlyMap<string, readonly GroupWindowStats[]>;
  pipeline: PipelineSignals | null;
  /**
   * The pinned baseline (`finsentry baseline capture`), by dimension: the default reference of drift
   * rules (docs/alerting.md). null or absent: no baseline captured — drift rules that need it are not
   * judged and say so (never a silent fallback to the trailing window).
   */
  baseline?: BaselineReference | null;
  /** Event time the current windows end at: sequential detectors fold each bucket once. */
  endMs?: number;
  /** State of sequential (CUSUM) rules across evaluations, owned by the caller. */
  sequential?: Map<string, SequentialState>;
}

export interface BaselineReference {
  name: string;
  dimensions: Readonly<Record<string, readonly GroupWindowStats[]>>;
}

export interface SequentialState {
  cusum: CusumState;
  /** Window end of the last bucket folded in. */
  lastEndMs: number;
}

/** Detail of a drift measurement that has no baseline to compare with. */
export const NO_BASELINE =
  'no baseline captured: run `finsentry baseline capture` (drift rules stay unjudged)';

export function windowKey(dimension: string, windowMs: number): string {
  return `${dimension}|${windowMs}`;
}

/**
 * Key of a rule's reference in EvaluationInputs.reference: its window's key (the evaluator's
 * reference), or, for a rule with its own `referenceWindow` (the surge rule's 24 h history), that
 * trailing window ending where the rule's window starts.
 */
export function referenceKey(rule: AlertRuleConfig): string {
  const key = windowKey(ruleDimension(rule), rule.window);
  return rule.referenceWindow === undefined ? key : `${key}|own:${rule.referenceWindow}`;
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

// Rule vocabulary lives with the config, which validates rules when it is parsed (src/config/rules.ts).
export { DRIFT_FEATURES, NUMERIC_DRIFT_FEATURES, RULE_METRICS } from '../config/rules.js';

export function ruleDimension(rule: AlertRuleConfig): string {
  if (rule.kind === 'pipeline') return 'pipeline';
  return rule.dimension ?? ALL_DIMENSION;
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

/** One-sided p-value from the library's two-proportion z. */
function alternativeOf(rule: AlertRuleConfig): 'greater' | 'less' {
  return rule.comparison === '>' || rule.comparison === '>=' ? 'greater' : 'less';
}

interface Reference {
  count: number;
  hits: number;
  source: 'group' | 'pooled';
}

function referenceFor(
  own: GroupWindowStats | undefined,
  pooled: GroupWindowStats,
  hitsOf: (g: GroupWindowStats) => number,
  minSamples: number,
): Reference | undefined {
  if (own && own.count >= Math.max(1, minSamples))
    return { count: own.count, hits: hitsOf(own), source: 'group' };
  if (pooled.count >= Math.max(1, minSamples))
    return { count: pooled.count, hits: hitsOf(pooled), source: 'pooled' };
  return undefined;
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
    const ref = referenceFor(refByGroup.get(g.group), pooled, (s) => s.labelCounts.negative, minSamples);
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

/** Drift of every feature, pooled over the groups of a dimension (the `_all` dimension has one group). */
export function driftResults(
  current: readonly GroupWindowStats[],
  reference: readonly GroupWindowStats[],
): DriftFeatureResult[] {
  return computeDrift(
    { total: sumGroupStats(ALL_DIMENSION, ALL_GROUP, current), mixes: {} },
    { total: sumGroupStats(ALL_DIMENSION, ALL_GROUP, reference), mixes: {} },
  );
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

const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

/** Simultaneous confidence level of fairness intervals when a rule states none (docs/alerting.md). */
export const DEFAULT_FAIRNESS_CONFIDENCE = 0.95;

/** Confidence of the gauges' fairness intervals on a dimension: its DIR rule's, else the default. */
export function fairnessGaugeConfidence(rules: readonly AlertRuleConfig[], dimension: string): number {
  const rule = rules.find(
    (r) => r.kind === 'fairness' && r.dimension === dimension && r.metric === 'disparate_impact_ratio',
  );
  return rule?.confidence ?? DEFAULT_FAIRNESS_CONFIDENCE;
}

/**
 * DIR or DPD of a dimension with its simultaneous interval (src/stats/fairness-intervals.ts): the rule
 * is judged on the interval's far bound (state-machine decisionValue), so it fires only when the
 * figure is beyond the threshold with the stated confidence — not merely when rates differ. The
 * measurement names the deciding pair of groups; its identity stays the dimension (group "*") so that
 * a change of pair does not end one alert and start another.
 */
function fairnessFigureMeasurement(
  rule: AlertRuleConfig,
  report: FairnessReport,
  base: { rule: string; dimension: string },
  sampleSize: number,
): Measurement {
  const level = rule.confidence ?? DEFAULT_FAIRNESS_CONFIDENCE;
  const isRatio = rule.metric === 'disparate_impact_ratio';
  const r = isRatio ? report.disparateImpactRatio : report.demographicParityDifference;
  const iv = isRatio
    ? disparateImpactInterval(report.groups, level)
    : demographicParityInterval(report.groups, level);
  const m: Measurement = { ...base, group: '*', value: r.value ?? Number.NaN, sampleSize, judged: false };
  if (!iv || r.value === null) return m;
  const [a, b] = iv.decidingPair;
  const rateOf = (g: string) => report.groups.find((x) => x.group === g)!;
  m.judged = Number.isFinite(iv.low) && Number.isFinite(iv.high);
  m.interval = { low: iv.low, high: iv.high, level };
  m.groups = [a, b];
  m.detail =
    `${Math.round(level * 100)}% interval [${fmt(iv.low)}, ${fmt(iv.high)}] (${isRatio ? 'Katz' : 'Newcombe'}, ` +
    `Bonferroni over ${iv.pairs} pairs); deciding pair ${a} ${fmt(rateOf(a).rate)} (n=${rateOf(a).n}) ` +
    `${isRatio ? '/' : '−'} ${b} ${fmt(rateOf(b).rate)} (n=${rateOf(b).n})`;
  return m;
}

export function measureRule(
  rule: AlertRuleConfig,
  inputs: EvaluationInputs,
  defaultMinSamples: number,
): Measurement[] {
  const minSamples = rule.minSamples ?? defaultMinSamples;
  const dimension = ruleDimension(rule);
  const base = { rule: rule.name, dimension };
  if (rule.kind === 'pipeline') {
    const s = inputs.pipeline;
    if (!s) return [];
    const values: Record<string, number> = {
      dlq_rate: s.dlqRate,
      dlq_share: s.dlqShare,
      consumer_lag: s.consumerLag,
      stalled_seconds: s.stalledSeconds,
      input_rate: s.inputRate,
      late_share: s.lateShare ?? 0,
    };
    const value = values[rule.metric];
    if (value === undefined) throw new Error(`rule ${rule.name}: unknown pipeline metric ${rule.metric}`);
    return [{ ...base, group: '*', value, sampleSize: 0, judged: Number.isFinite(value) }];
  }

  const current = inputs.current.get(windowKey(dimension, rule.window)) ?? [];
  const reference = inputs.reference.get(referenceKey(rule)) ?? [];
  if (rule.kind === 'sentiment' && rule.metric === SURGE_METRIC)
    return measureSurge(rule, current, reference, minSamples);
  if (rule.kind === 'fairness' && rule.metric === EQUALIZED_ODDS_METRIC)
    return [measureEqualizedOdds(rule, current, minSamples)];

  if (rule.kind === 'sentiment') {
    const refByGroup = new Map(reference.map((g) => [g.group, g]));
    const pooled = sumGroupStats(dimension, ALL_GROUP, reference);
    return current.map((g): Measurement => {
      const judged = g.count >= minSamples && g.count > 0;
      const m: Measurement = { ...base, group: g.group, value: Number.NaN, sampleSize: g.count, judged };
      switch (rule.metric) {
        case 'negative_share':
        case 'positive_share': {
          const hitsOf = (s: GroupWindowStats) =>
            rule.metric === 'negative_share' ? s.labelCounts.negative : s.labelCounts.positive;
          m.value = g.count > 0 ? hitsOf(g) / g.count : 0;
          const ref = referenceFor(refByGroup.get(g.group), pooled, hitsOf, minSamples);
          if (ref) {
            // Fisher's exact test, not the z-test's normal approximation: for the 20–40 documents an
            // issuer has in a 5-minute window the z-test overstates significance (11 of 20 against
            // 1,800 of 10,000: z-test p = 8.7e-6, exact 2.2e-4) and fired on noise in small groups.
            const { z } = twoProportionZTest(hitsOf(g), g.count, ref.hits, ref.count);
            m.pValue = fisherExactOneSided(hitsOf(g), g.count, ref.hits, ref.count, alternativeOf(rule));
            m.detail = `reference ${fmt(ref.hits / ref.count)} (${ref.source}, n=${ref.count}), z=${fmt(z)}, p=${m.pValue.toExponential(2)}`;
          }
          break;
        }
        case 'mean_polarity':
          m.value = g.count > 0 ? g.polaritySum / g.count : 0;
          break;
        // With calibrated probabilities the mean confidence is the CBPE accuracy estimate (issue #19).
        case 'mean_confidence':
        case 'estimated_accuracy':
          m.value = histogramMean(g.histograms.confidence, histogramEdges('confidence'));
          break;
        default:
          if (!measurePerformance(rule, g, m, minSamples))
            throw new Error(`rule ${rule.name}: unknown sentiment metric ${rule.metric}`);
      }
      return m;
    });
  }

  if (rule.kind === 'fairness') {
    const report = fairnessReport(dimension, current, { minSamples });
    const judgedCount = report.groups.filter((g) => g.judged).length;
    const sampleSize = current.reduce((s, g) => s + g.count, 0);
    switch (rule.metric) {
      case 'disparate_impact_ratio':
      case 'demographic_parity_difference':
        return [fairnessFigureMeasurement(rule, report, base, sampleSize)];
      case 'group_deviation_z':
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
      default:
        throw new Error(`rule ${rule.name}: unknown fairness metric ${rule.metric}`);
    }
  }

  return measureDrift(rule, inputs, current, reference, base, minSamples);
}

/** The reference of a drift rule: the pinned baseline unless the rule asks for the trailing window. */
function driftReference(
  rule: AlertRuleConfig,
  inputs: EvaluationInputs,
  trailing: readonly GroupWindowStats[],
): { stats: readonly GroupWindowStats[]; label: string } | null {
  if (rule.reference === 'trailing') return { stats: trailing, label: 'trailing window' };
  if (!inputs.baseline) return null;
  return {
    stats: inputs.baseline.dimensions[ruleDimension(rule)] ?? [],
    label: `baseline "${inputs.baseline.name}"`,
  };
}

function measureDrift(
  rule: AlertRuleConfig,
  inputs: EvaluationInputs,
  current: readonly GroupWindowStats[],
  trailing: readonly GroupWindowStats[],
  base: { rule: string; dimension: string },
  minSamples: number,
): Measurement[] {
  const feature = rule.feature ?? (rule.metric === 'cusum' ? 'negative_share' : 'p_neg');
  const reference = driftReference(rule, inputs, trailing);
  if (!reference) {
    const n = current.reduce((s, g) => s + g.count, 0);
    return [
      { ...base, group: feature, value: Number.NaN, sampleSize: n, judged: false, detail: NO_BASELINE },
    ];
  }
  if (rule.metric === 'cusum') return [measureCusum(rule, inputs, current, reference, base, minSamples)];
  const d = driftResults(current, reference.stats).find((r) => r.feature === feature);
  if (!d) throw new Error(`rule ${rule.name}: unknown drift feature ${feature}`);
  const values: Record<string, number | null> = {
    psi: d.psi,
    js_distance: d.jensenShannon,
    ks_statistic: d.ks?.statistic ?? null,
  };
  const value = values[rule.metric];
  if (value === undefined) throw new Error(`rule ${rule.name}: unknown drift metric ${rule.metric}`);
  const m: Measurement = {
    ...base,
    group: feature,
    value: value ?? Number.NaN,
    sampleSize: d.currentN,
    judged: value !== null && d.currentN >= minSamples && d.referenceN >= minSamples,
    detail: `current n=${d.currentN}, ${reference.label} n=${d.referenceN}`,
  };
  // Significance of the drift, whatever the size metric: binned KS for numeric features, χ² for
  // mixes. PSI alone is biased upward on sparse histograms (a bin empty on one side contributes
  // ≈ p·ln(p/ε)): on stationary traffic with 100 documents a side the PSI of p_neg over 20 bins is
  // typically above 0.5, so a PSI threshold without a significance requirement fires on noise.
  if (d.ks) m.pValue = d.ks.pValue;
  else if (d.chiSquare) m.pValue = d.chiSquare.pValue;
  return [m];
}

/**
 * CUSUM of the per-bucket negative share against the reference share (src/stats/cusum.ts). The
 * rule's window is the bucket the statistic is fed with (1m); each window end is folded in once
 * (inputs.endMs), buckets below min samples are skipped. The value is the statistic, compared with
 * the rule's threshold h; the state lives in inputs.sequential (in memory: a new leader starts at 0).
 */
function measureCusum(
  rule: AlertRuleConfig,
  inputs: EvaluationInputs,
  current: readonly GroupWindowStats[],
  reference: { stats: readonly GroupWindowStats[]; label: string },
  base: { rule: string; dimension: string },
  minSamples: number,
): Measurement {
  const params = { ...CUSUM_DEFAULTS, h: rule.threshold, k: rule.sequential?.k ?? CUSUM_DEFAULTS.k };
  const dispersion = rule.sequential?.dispersion ?? 1;
  const bucket = sumGroupStats('', ALL_GROUP, current);
  const ref = sumGroupStats('', ALL_GROUP, reference.stats);
  const p0 = ref.count > 0 ? ref.labelCounts.negative / ref.count : Number.NaN;
  const key = `${rule.name}|${base.dimension}`;
  const prev = inputs.sequential?.get(key) ?? { cusum: CUSUM_START, lastEndMs: 0 };
  let state = prev;
  const endMs = inputs.endMs ?? prev.lastEndMs + 1;
  if (endMs > prev.lastEndMs && ref.count >= minSamples) {
    const z =
      bucket.count >= minSamples
        ? standardizedShare(bucket.labelCounts.negative, bucket.count, p0, dispersion)
        : Number.NaN;
    state = { cusum: cusumStep(prev.cusum, z, params), lastEndMs: endMs };
    inputs.sequential?.set(key, state);
  }
  const share = bucket.count > 0 ? bucket.labelCounts.negative / bucket.count : Number.NaN;
  return {
    ...base,
    group: 'negative_share',
    value: cusumStatistic(state.cusum),
    sampleSize: bucket.count,
    judged: ref.count >= minSamples && state.cusum.steps > 0,
    detail: `CUSUM up ${fmt(state.cusum.upper)} / down ${fmt(state.cusum.lower)} (k ${params.k}, h ${params.h}, φ ${dispersion}); bucket share ${fmt(share)} (n=${bucket.count}) vs ${reference.label} ${fmt(p0)} (n=${ref.count})`,
  };
}

/** Validates rule metrics/features up front so a typo fails at start-up, not at the first evaluation. */
export function validateRule(rule: AlertRuleConfig): string | undefined {
  const issues = ruleFieldIssues(rule);
  return issues.length > 0 ? `alerts.rules ${rule.name}: ${issues.join('; ')}` : undefined;
}

/**
 * Realised performance metrics from the window's joined labels (src/stats/performance.ts). They are
 * judged on the number of labelled documents, not predictions: a window whose labels have not
 * arrived yet is not judged (minSamples is the minimum number of labels).
 */
function measurePerformance(
  rule: AlertRuleConfig,
  g: GroupWindowStats,
  m: Measurement,
  minSamples: number,
): boolean {
  const p = groupPerformance(g);
  const value = { accuracy: p.accuracy, macro_f1: p.macroF1, label_coverage: p.labelCoverage }[
    rule.metric as 'accuracy' | 'macro_f1' | 'label_coverage'
  ];
  if (value === undefined) return false;
  m.value = value ?? Number.NaN;
  if (rule.metric === 'label_coverage') return true;
  m.sampleSize = p.labelled;
  m.judged = p.labelled > 0 && p.labelled >= minSamples && value !== null;
  m.detail = `${p.labelled} labelled of ${p.predicted} predicted (coverage ${fmt(p.labelCoverage ?? 0)}), estimated accuracy ${fmt(p.estimatedAccuracy ?? Number.NaN)}`;
  return true;
}
