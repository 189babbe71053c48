import { SENTIMENT_LABELS, type SentimentLabel } from '../domain/enrichment.js';
import type { GroupLabelledRates, LabelledFairness } from './fairness.js';
import { bonferroniZ, newcombeDifferenceInterval } from './fairness-intervals.js';

/**
 * Simultaneous confidence interval of the equalized odds difference (design §5, docs/alerting.md
 * "Equalized odds"), so that a rule can test "the gap exceeds the threshold" rather than "the rates
 * differ" — as the DIR/DPD rules do (src/stats/fairness-intervals.ts).
 *
 * The figure is Fairlearn's (src/stats/fairness.ts labelledFairness, with the per-class minimum):
 * EOD = max over classes c and rates r ∈ {TPR_c, FPR_c} of (max_g r_g − min_g r_g). Each (c, r) is a
 * demographic-parity-like difference between groups, so every ordered pair of groups eligible for
 * that (c, r) gets a Newcombe interval for its difference, at a Bonferroni level over all the
 * comparisons made (pairs summed over the 2 × classes rates). With probability ≥ 1 − α all cover at
 * once, and then max L ≤ EOD ≤ max U over every (c, r, pair). A group takes part in TPR_c with at least
 * `minClassSamples` actual members of c (and ≥ 1), in FPR_c with that many actual non-members; only
 * judged groups (n ≥ minSamples labels) take part.
 */

export interface EqualizedOddsInterval {
  estimate: number;
  low: number;
  high: number;
  level: number;
  /** Pairs of groups compared, summed over the classes and both rates (the Bonferroni count). */
  comparisons: number;
  /** Where the decision bound (the highest lower bound) is. */
  worstClass: SentimentLabel;
  worstRate: 'tpr' | 'fpr';
  decidingPair: [string, string];
}

/** Successes and trials of a group's TPR_c (true positives / members) or FPR_c (false positives / non-members). */
export function rateCounts(
  g: GroupLabelledRates,
  c: SentimentLabel,
  which: 'tpr' | 'fpr',
): { x: number; n: number } {
  const n = which === 'tpr' ? g.classCounts[c].members : g.classCounts[c].nonMembers;
  return { x: Math.round(g[which][c] * n), n };
}

function eligible(
  groups: readonly GroupLabelledRates[],
  c: SentimentLabel,
  which: 'tpr' | 'fpr',
  minClassSamples: number,
) {
  return groups.filter((g) => g.judged && rateCounts(g, c, which).n >= Math.max(1, minClassSamples));
}

export function equalizedOddsInterval(
  labelled: LabelledFairness,
  level: number,
  minClassSamples: number,
): EqualizedOddsInterval | null {
  const rates = SENTIMENT_LABELS.flatMap((c) => (['tpr', 'fpr'] as const).map((which) => ({ c, which })));
  const sets = rates.map((r) => ({ ...r, groups: eligible(labelled.groups, r.c, r.which, minClassSamples) }));
  const comparisons = sets.reduce((s, r) => s + (r.groups.length * (r.groups.length - 1)) / 2, 0);
  if (comparisons === 0) return null;
  const z = bonferroniZ(level, comparisons);
  let best: EqualizedOddsInterval | null = null;
  let estimate = Number.NEGATIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const { c, which, groups } of sets)
    for (const a of groups)
      for (const b of groups) {
        if (a === b) continue;
        const ra = rateCounts(a, c, which);
        const rb = rateCounts(b, c, which);
        const iv = newcombeDifferenceInterval(ra.x, ra.n, rb.x, rb.n, z);
        if (!iv) continue;
        estimate = Math.max(estimate, iv.estimate);
        high = Math.max(high, iv.high);
        if (!best || iv.low > best.low)
          best = {
            estimate: 0,
            low: iv.low,
            high: 0,
            level,
            comparisons,
            worstClass: c,
            worstRate: which,
            decidingPair: [a.group, b.group],
          };
      }
  return best ? { ...best, estimate, high } : null;
}
