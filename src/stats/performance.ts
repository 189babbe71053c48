import { SENTIMENT_LABELS, type SentimentLabel } from '../domain/enrichment.js';
import type { GroupWindowStats } from '../domain/windows.js';
import { labelledRates } from './fairness.js';
import { histogramEdges } from './histograms.js';

/**
 * Model performance per group and window (issue #19 items 2–3), pure functions over window counts.
 *
 * - Realised: accuracy and macro-F1 from the window's confusion matrix of joined labels (macro-F1 as
 *   scikit-learn's f1_score(average='macro'): the unweighted mean of per-class F1 over the classes that
 *   occur as actual or predicted, zero_division = 0), with label coverage = labelled / predicted.
 * - Estimated (confidence-based performance estimation, NannyML CBPE for a classifier): with calibrated
 *   probabilities the expected accuracy of a set of predictions is the mean of their max-probability.
 *   The window keeps a 20-bin confidence histogram (src/stats/histograms.ts), so the mean is taken over
 *   bin midpoints; the estimator's error, this binning included, is stated in the sentiment model card.
 */

export type Confusion = Record<SentimentLabel, Record<SentimentLabel, number>>;

export interface RealisedPerformance {
  labelled: number;
  accuracy: number | null;
  macroF1: number | null;
}

export interface GroupPerformance extends RealisedPerformance {
  group: string;
  predicted: number;
  /** labelled / predicted; null without predictions. Labels may exceed predictions in a window (late joins). */
  labelCoverage: number | null;
  /** CBPE estimate from the confidence histogram; null without predictions. */
  estimatedAccuracy: number | null;
  /**
   * One-vs-rest TPR and FPR per class (the rates of the equalized odds difference, src/stats/fairness.ts),
   * null where the group has no actual member (TPR) or non-member (FPR) of the class — a gauge shows
   * no value rather than Fairlearn's 0 there. Empty without labels.
   */
  classRates: Partial<Record<SentimentLabel, { tpr: number | null; fpr: number | null }>>;
}

/** Per-class rates of a confusion matrix, null where undefined (see GroupPerformance.classRates). */
export function classRates(confusion: Confusion | null): GroupPerformance['classRates'] {
  if (!confusion) return {};
  const r = labelledRates('', confusion, 1);
  if (r.n === 0) return {};
  return Object.fromEntries(
    SENTIMENT_LABELS.map((c) => [
      c,
      {
        tpr: r.classCounts[c].members > 0 ? r.tpr[c] : null,
        fpr: r.classCounts[c].nonMembers > 0 ? r.fpr[c] : null,
      },
    ]),
  );
}

export function realisedPerformance(confusion: Confusion | null): RealisedPerformance {
  if (!confusion) return { labelled: 0, accuracy: null, macroF1: null };
  let labelled = 0;
  let correct = 0;
  for (const a of SENTIMENT_LABELS)
    for (const p of SENTIMENT_LABELS) {
      labelled += confusion[a][p];
      if (a === p) correct += confusion[a][p];
    }
  if (labelled === 0) return { labelled: 0, accuracy: null, macroF1: null };
  const f1s: number[] = [];
  for (const c of SENTIMENT_LABELS) {
    const tp = confusion[c][c];
    const actual = SENTIMENT_LABELS.reduce((s, p) => s + confusion[c][p], 0);
    const predicted = SENTIMENT_LABELS.reduce((s, a) => s + confusion[a][c], 0);
    if (actual === 0 && predicted === 0) continue;
    // F1 = 2·TP / (actual + predicted), which is 0 when either is 0 (zero_division = 0).
    f1s.push((2 * tp) / (actual + predicted));
  }
  return {
    labelled,
    accuracy: correct / labelled,
    macroF1: f1s.reduce((s, v) => s + v, 0) / f1s.length,
  };
}

/** Mean confidence over a confidence histogram, each document at its bin's midpoint; null when empty. */
export function estimatedAccuracyFromHistogram(histogram: readonly number[]): number | null {
  const edges = histogramEdges('confidence');
  let n = 0;
  let sum = 0;
  histogram.forEach((count, i) => {
    n += count;
    sum += count * (((edges[i] ?? 0) + (edges[i + 1] ?? 1)) / 2);
  });
  return n > 0 ? sum / n : null;
}

export function groupPerformance(stats: GroupWindowStats): GroupPerformance {
  const realised = realisedPerformance(stats.confusion);
  return {
    group: stats.group,
    predicted: stats.count,
    ...realised,
    labelCoverage: stats.count > 0 ? realised.labelled / stats.count : null,
    estimatedAccuracy: estimatedAccuracyFromHistogram(stats.histograms.confidence),
    classRates: classRates(stats.confusion),
  };
}
