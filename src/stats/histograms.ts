import type { HistogramFeature } from '../domain/windows.js';

/**
 * Fixed histogram bins of the window store (design §4, §6). Bins never change at run time, so that
 * buckets written by any replica and any version can be summed, and drift metrics compare like with like.
 *
 * - p_neg, confidence: 20 equal bins on [0, 1]; bin i = floor(x · 20), x = 1 falls in bin 19.
 * - polarity (p_pos − p_neg): 20 equal bins on [−1, 1]; bin i = floor((x + 1) · 10), x = 1 in bin 19.
 * - tokens: 10 bins with doubling edges 0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, ∞;
 *   bin i holds edges[i] ≤ x < edges[i+1] (last bin open-ended).
 * Values outside the range are clamped into the first/last bin (NaN goes to bin 0).
 */
export const TOKEN_EDGES = [0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] as const;

export const HISTOGRAM_BINS: Readonly<Record<HistogramFeature, number>> = {
  p_neg: 20,
  polarity: 20,
  confidence: 20,
  tokens: TOKEN_EDGES.length,
};

function clampBin(index: number, bins: number): number {
  if (!Number.isFinite(index) || index < 0) return 0;
  return index >= bins ? bins - 1 : index;
}

export function histogramBin(feature: HistogramFeature, value: number): number {
  switch (feature) {
    case 'p_neg':
    case 'confidence':
      return clampBin(Math.floor(value * 20), 20);
    case 'polarity':
      return clampBin(Math.floor((value + 1) * 10), 20);
    case 'tokens': {
      if (!(value >= 0)) return 0;
      let bin = 0;
      for (let i = 1; i < TOKEN_EDGES.length; i++) if (value >= TOKEN_EDGES[i]!) bin = i;
      return bin;
    }
  }
}

/** Lower edges of the bins, plus the upper edge of the last bin (Infinity for tokens). */
export function histogramEdges(feature: HistogramFeature): number[] {
  switch (feature) {
    case 'p_neg':
    case 'confidence':
      return Array.from({ length: 21 }, (_, i) => i / 20);
    case 'polarity':
      return Array.from({ length: 21 }, (_, i) => -1 + i / 10);
    case 'tokens':
      return [...TOKEN_EDGES, Number.POSITIVE_INFINITY];
  }
}

export function emptyHistogram(feature: HistogramFeature): number[] {
  return new Array<number>(HISTOGRAM_BINS[feature]).fill(0);
}
