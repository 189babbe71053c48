import { SENTIMENT_LABELS, type SentimentLabel } from '../domain/enrichment.js';
import type { GroupWindowStats } from '../domain/windows.js';
import { normalTwoSidedP, Z_975 } from './special.js';

/**
 * Fairness metrics per dimension and window (design §5), pure functions over counts.
 *
 * Definitions agree with Fairlearn's on the same counts (checked by test/unit/stats/oracle.test.ts):
 * - "selection" is the rate being compared; by default a *negative prediction* (the harmful outcome
 *   for an issuer or region), i.e. Fairlearn's selection_rate with y_pred = (predicted == negative);
 * - demographic parity difference = max_g r_g − min_g r_g
 *   (fairlearn.metrics.demographic_parity_difference, method="between_groups");
 * - disparate impact ratio = min_g r_g / max_g r_g (demographic_parity_ratio);
 * - equalized odds difference = max over classes c (one-vs-rest) of max(ΔTPR_c, ΔFPR_c), Δ = max − min
 *   across groups (equalized_odds_difference, agg="worst_case", per class). A rate whose denominator
 *   is 0 (a group with no actual member, or no actual non-member, of c) is 0, as Fairlearn's
 *   true_positive_rate / false_positive_rate return it (scikit-learn's normalised confusion matrix
 *   turns 0/0 into 0), and it takes part in the gap. On top of Fairlearn, `minClassSamples` (config
 *   stats.minClassSamples): a group's TPR_c is judged only with at least that many actual members of
 *   c, its FPR_c only with that many actual non-members — one mispredicted document of a class a
 *   group has once would otherwise make a gap of 1. With minClassSamples 0 the figure is Fairlearn's;
 *   test/unit/stats/oracle.test.ts checks it on random tables that include undefined rates;
 * - accuracy gap = max − min of per-group accuracy (MetricFrame(accuracy_score).difference()).
 * Groups with n < minSamples are reported but not judged: they are left out of DPD, DIR, EOD and the
 * accuracy gap, and carry judged = false. Their documents still count in "the rest" for the z-tests.
 */

export type RateKind = 'negative_share' | 'positive_share' | 'mean_polarity';

export interface WilsonInterval {
  low: number;
  high: number;
}

/** A group's rate against all other groups of the dimension together. */
export interface DeviationFromRest {
  restRate: number;
  restN: number;
  /** r_g − r_rest */
  difference: number;
  /** Pooled two-proportion z (proportions) or Welch z (mean polarity). */
  z: number;
  /** Two-sided p-value of z. */
  pValue: number;
}

export interface GroupRate {
  group: string;
  n: number;
  /** Numerator of the rate for proportions (e.g. negative predictions); polarity sum for mean polarity. */
  successes: number;
  rate: number;
  judged: boolean;
  /** 95% Wilson score interval (proportions only). */
  wilson: WilsonInterval | null;
  vsRest: DeviationFromRest | null;
}

export interface DemographicParityDifference {
  value: number | null;
  maxGroup: string | null;
  minGroup: string | null;
}

export interface DisparateImpactRatio {
  value: number | null;
  maxGroup: string | null;
  minGroup: string | null;
}

export interface GroupLabelledRates {
  group: string;
  n: number;
  judged: boolean;
  accuracy: number | null;
  /** One-vs-rest true positive rate per class; 0 when the group has no actual member of the class (Fairlearn). */
  tpr: Record<SentimentLabel, number>;
  /** One-vs-rest false positive rate per class; 0 when the group has no actual non-member (Fairlearn). */
  fpr: Record<SentimentLabel, number>;
  /** Actual members (TPR denominator) and non-members (FPR denominator) of each class. */
  classCounts: Record<SentimentLabel, { members: number; nonMembers: number }>;
}

export interface EqualizedOddsDifference {
  value: number | null;
  /** The class and rate (TPR/FPR) where the worst gap is. */
  worstClass: SentimentLabel | null;
  worstRate: 'tpr' | 'fpr' | null;
}

export interface LabelledFairness {
  groups: GroupLabelledRates[];
  equalizedOddsDifference: EqualizedOddsDifference;
  accuracyGap: number | null;
}

export interface FairnessReport {
  dimension: string;
  rate: RateKind;
  minSamples: number;
  groups: GroupRate[];
  demographicParityDifference: DemographicParityDifference;
  disparateImpactRatio: DisparateImpactRatio;
  /** Judged group with the largest significant-or-not absolute deviation from the rest (smallest p first). */
  worstGroup: GroupRate | null;
  labelled: LabelledFairness | null;
}

/** 95% Wilson score interval without continuity correction (scipy binomtest(k, n).proportion_ci('wilson')). */
export function wilsonInterval(successes: number, n: number, z: number = Z_975): WilsonInterval | null {
  if (!(n > 0)) return null;
  const p = successes / n;
  const q = 1 - p;
  const denom = 2 * (n + z * z);
  const center = (2 * n * p + z * z) / denom;
  const delta = (z / denom) * Math.sqrt(4 * n * p * q + z * z);
  return { low: successes === 0 ? 0 : center - delta, high: successes === n ? 1 : center + delta };
}

/** Pooled two-proportion z-test of x1/n1 vs x2/n2; z = 0, p = 1 when the pooled variance is 0. */
export function twoProportionZTest(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
): { z: number; pValue: number } {
  if (!(n1 > 0) || !(n2 > 0)) return { z: 0, pValue: 1 };
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, pValue: normalTwoSidedP(z) };
}

/** Welch (large-sample) z for a difference of means from sums and sums of squares. */
export function meanDifferenceZTest(
  a: { n: number; sum: number; sumSquares: number },
  b: { n: number; sum: number; sumSquares: number },
): { z: number; pValue: number } {
  if (a.n < 2 || b.n < 2) return { z: 0, pValue: 1 };
  const variance = (s: typeof a) => Math.max(0, (s.sumSquares - (s.sum * s.sum) / s.n) / (s.n - 1));
  const se = Math.sqrt(variance(a) / a.n + variance(b) / b.n);
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const z = (a.sum / a.n - b.sum / b.n) / se;
  return { z, pValue: normalTwoSidedP(z) };
}

export interface GroupCounts {
  group: string;
  n: number;
  successes: number;
  /** Needed for mean_polarity only. */
  sumSquares?: number;
}

function extremes(groups: readonly GroupRate[]): { max: GroupRate; min: GroupRate } | null {
  const judged = groups.filter((g) => g.judged);
  if (judged.length === 0) return null;
  let max = judged[0]!;
  let min = judged[0]!;
  for (const g of judged) {
    if (g.rate > max.rate || (g.rate === max.rate && g.group < max.group)) max = g;
    if (g.rate < min.rate || (g.rate === min.rate && g.group < min.group)) min = g;
  }
  return { max, min };
}

export function demographicParityDifference(groups: readonly GroupRate[]): DemographicParityDifference {
  const e = extremes(groups);
  if (!e) return { value: null, maxGroup: null, minGroup: null };
  return { value: e.max.rate - e.min.rate, maxGroup: e.max.group, minGroup: e.min.group };
}

/** min/max; null when there is no judged group or the largest rate is 0 (ratio undefined). */
export function disparateImpactRatio(groups: readonly GroupRate[]): DisparateImpactRatio {
  const e = extremes(groups);
  if (!e || !(e.max.rate > 0))
    return { value: null, maxGroup: e?.max.group ?? null, minGroup: e?.min.group ?? null };
  return { value: e.min.rate / e.max.rate, maxGroup: e.max.group, minGroup: e.min.group };
}

/** Per-group rates with Wilson intervals and deviation from the rest. Proportions when kind is a share. */
export function groupRates(counts: readonly GroupCounts[], kind: RateKind, minSamples: number): GroupRate[] {
  const totalN = counts.reduce((s, c) => s + c.n, 0);
  const totalX = counts.reduce((s, c) => s + c.successes, 0);
  const totalSq = counts.reduce((s, c) => s + (c.sumSquares ?? 0), 0);
  return counts.map((c) => {
    const restN = totalN - c.n;
    const restX = totalX - c.successes;
    const rate = c.n > 0 ? c.successes / c.n : 0;
    let vsRest: DeviationFromRest | null = null;
    if (c.n > 0 && restN > 0) {
      const restRate = restX / restN;
      const test =
        kind === 'mean_polarity'
          ? meanDifferenceZTest(
              { n: c.n, sum: c.successes, sumSquares: c.sumSquares ?? 0 },
              { n: restN, sum: restX, sumSquares: totalSq - (c.sumSquares ?? 0) },
            )
          : twoProportionZTest(c.successes, c.n, restX, restN);
      vsRest = { restRate, restN, difference: rate - restRate, z: test.z, pValue: test.pValue };
    }
    return {
      group: c.group,
      n: c.n,
      successes: c.successes,
      rate,
      judged: c.n >= minSamples && c.n > 0,
      wilson: kind === 'mean_polarity' ? null : wilsonInterval(c.successes, c.n),
      vsRest,
    };
  });
}

export function countsFromWindow(stats: readonly GroupWindowStats[], kind: RateKind): GroupCounts[] {
  return stats.map((s) => {
    switch (kind) {
      case 'negative_share':
        return { group: s.group, n: s.count, successes: s.labelCounts.negative };
      case 'positive_share':
        return { group: s.group, n: s.count, successes: s.labelCounts.positive };
      case 'mean_polarity':
        return { group: s.group, n: s.count, successes: s.polaritySum, sumSquares: s.polaritySumSquares };
    }
  });
}

type Confusion = Record<SentimentLabel, Record<SentimentLabel, number>>;

export function labelledRates(group: string, confusion: Confusion, minSamples: number): GroupLabelledRates {
  let n = 0;
  let correct = 0;
  for (const a of SENTIMENT_LABELS) for (const p of SENTIMENT_LABELS) n += confusion[a][p];
  for (const c of SENTIMENT_LABELS) correct += confusion[c][c];
  const tpr = {} as Record<SentimentLabel, number>;
  const fpr = {} as Record<SentimentLabel, number>;
  const classCounts = {} as GroupLabelledRates['classCounts'];
  for (const c of SENTIMENT_LABELS) {
    const members = SENTIMENT_LABELS.reduce((s, p) => s + confusion[c][p], 0);
    const falsePositives = SENTIMENT_LABELS.filter((a) => a !== c).reduce((s, a) => s + confusion[a][c], 0);
    const nonMembers = n - members;
    tpr[c] = members > 0 ? confusion[c][c] / members : 0;
    fpr[c] = nonMembers > 0 ? falsePositives / nonMembers : 0;
    classCounts[c] = { members, nonMembers };
  }
  return {
    group,
    n,
    judged: n >= minSamples && n > 0,
    accuracy: n > 0 ? correct / n : null,
    tpr,
    fpr,
    classCounts,
  };
}

function spread(values: Array<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return null;
  return Math.max(...present) - Math.min(...present);
}

/**
 * Labelled fairness of the judged groups. `minClassSamples` (default 0: Fairlearn's figure) leaves a
 * group's TPR_c out of the class-c gap when it has fewer actual members of c, its FPR_c when it has
 * fewer actual non-members.
 */
export function labelledFairness(
  confusions: ReadonlyArray<{ group: string; confusion: Confusion }>,
  minSamples: number,
  minClassSamples = 0,
): LabelledFairness {
  const groups = confusions.map((c) => labelledRates(c.group, c.confusion, minSamples));
  const judged = groups.filter((g) => g.judged);
  let eod: EqualizedOddsDifference = { value: null, worstClass: null, worstRate: null };
  for (const c of SENTIMENT_LABELS) {
    for (const which of ['tpr', 'fpr'] as const) {
      const denominator = (g: GroupLabelledRates) =>
        which === 'tpr' ? g.classCounts[c].members : g.classCounts[c].nonMembers;
      const gap = spread(judged.filter((g) => denominator(g) >= minClassSamples).map((g) => g[which][c]));
      if (gap !== null && (eod.value === null || gap > eod.value))
        eod = { value: gap, worstClass: c, worstRate: which };
    }
  }
  return { groups, equalizedOddsDifference: eod, accuracyGap: spread(judged.map((g) => g.accuracy)) };
}

/** Full report for one dimension and window from the store's group stats. */
export function fairnessReport(
  dimension: string,
  stats: readonly GroupWindowStats[],
  opts: { minSamples: number; rate?: RateKind; minClassSamples?: number },
): FairnessReport {
  const kind = opts.rate ?? 'negative_share';
  const groups = groupRates(countsFromWindow(stats, kind), kind, opts.minSamples);
  let worstGroup: GroupRate | null = null;
  for (const g of groups) {
    if (!g.judged || !g.vsRest) continue;
    if (
      !worstGroup?.vsRest ||
      g.vsRest.pValue < worstGroup.vsRest.pValue ||
      (g.vsRest.pValue === worstGroup.vsRest.pValue &&
        Math.abs(g.vsRest.difference) > Math.abs(worstGroup.vsRest.difference))
    )
      worstGroup = g;
  }
  const withLabels = stats.filter(
    (s): s is GroupWindowStats & { confusion: Confusion } => s.confusion !== null,
  );
  return {
    dimension,
    rate: kind,
    minSamples: opts.minSamples,
    groups,
    demographicParityDifference: demographicParityDifference(groups),
    disparateImpactRatio: disparateImpactRatio(groups),
    worstGroup,
    labelled:
      withLabels.length > 0
        ? labelledFairness(
            withLabels.map((s) => ({ group: s.group, confusion: s.confusion })),
            opts.minSamples,
            opts.minClassSamples ?? 0,
          )
        : null,
  };
}
