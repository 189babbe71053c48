import type { SentimentLabel, SentimentProbabilities, SentimentResult } from '../domain/enrichment.js';

/** Numerically stable softmax of logits[offset .. offset+n). */
export function softmax(logits: ArrayLike<number>, offset = 0, n = logits.length - offset): number[] {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i] ?? -Infinity);
  const exps = new Array<number>(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((logits[offset + i] ?? -Infinity) - max);
    exps[i] = e;
    sum += e;
  }
  return exps.map((e) => e / sum);
}

/** Canonical probabilities from model-order probabilities; labels missing from the model get 0. */
/** Index of the largest value (the first on a tie). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++)
    if ((values[i] ?? -Infinity) > (values[best] ?? -Infinity)) best = i;
  return best;
}

export function toCanonical(
  probs: readonly number[],
  indexMap: readonly SentimentLabel[],
): SentimentProbabilities {
  const out: SentimentProbabilities = { negative: 0, neutral: 0, positive: 0 };
  indexMap.forEach((label, i) => {
    out[label] += probs[i] ?? 0;
  });
  return out;
}

export interface WindowSentiment {
  probabilities: SentimentProbabilities;
  /** Content tokens of the window: its weight in the document mean. */
  weight: number;
}

export interface DocumentCounts {
  tokens: number;
  unknownTokens: number;
  truncated: boolean;
}

/**
 * Document sentiment from its windows: the token-weighted mean of window probabilities (a window of
 * 10 real tokens counts less than a full one). Ties in the arg-max resolve in the order
 * negative, neutral, positive.
 */
export function aggregateSentiment(
  windows: readonly WindowSentiment[],
  counts: DocumentCounts,
): SentimentResult {
  const totalWeight = windows.reduce((s, w) => s + Math.max(w.weight, 0), 0);
  const probabilities: SentimentProbabilities = { negative: 0, neutral: 0, positive: 0 };
  for (const w of windows) {
    // All-empty windows (an empty text) weigh equally rather than dividing by zero.
    const share = totalWeight > 0 ? Math.max(w.weight, 0) / totalWeight : 1 / windows.length;
    probabilities.negative += share * w.probabilities.negative;
    probabilities.neutral += share * w.probabilities.neutral;
    probabilities.positive += share * w.probabilities.positive;
  }
  const ranked: Array<[SentimentLabel, number]> = [
    ['negative', probabilities.negative],
    ['neutral', probabilities.neutral],
    ['positive', probabilities.positive],
  ];
  let best = ranked[0] as [SentimentLabel, number];
  for (const entry of ranked) if (entry[1] > best[1]) best = entry;
  return {
    label: best[0],
    probabilities,
    polarity: probabilities.positive - probabilities.negative,
    confidence: best[1],
    windows: windows.length,
    truncated: counts.truncated,
    tokens: counts.tokens,
    unknownTokens: counts.unknownTokens,
  };
}
