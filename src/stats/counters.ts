import { SENTIMENT_LABELS, type SentimentLabel } from '../domain/enrichment.js';
import type { LabelObservation, StatsObservation } from '../domain/observation.js';
import { HISTOGRAM_FEATURES, type GroupWindowStats, type HistogramFeature } from '../domain/windows.js';
import { emptyHistogram, histogramBin, HISTOGRAM_BINS } from './histograms.js';
import { sanitizeEntityType } from './grouping.js';

/**
 * The counters kept per (partition, dimension, group, bucket) in one Redis hash, and their field names.
 *
 * Everything is an integer so that HINCRBY sums are exact, order-independent and replay-deterministic:
 * polarity and its square are stored as fixed-point integers scaled by POLARITY_SCALE (1e6), rounded
 * per document (resolution 1e-6 per document; a sum of 2^53 / 1e6 ≈ 9e9 documents stays exact).
 *
 * Fields: n (count); ln/lu/lp (predicted negative/neutral/positive); ps, pq (polarity sum, sum of
 * squares, ×1e6); hn:i, hp:i, hc:i, ht:i (histogram bin i of p_neg, polarity, confidence, tokens);
 * tk (tokens), uk (unknown tokens), tr (truncated documents); e:TYPE (entities of TYPE);
 * cm:A:P (labelled documents with actual A and predicted P, A/P ∈ n, u, p).
 */
export const POLARITY_SCALE = 1_000_000;

const LABEL_CODE: Record<SentimentLabel, string> = { negative: 'n', neutral: 'u', positive: 'p' };
const CODE_LABEL: Record<string, SentimentLabel> = { n: 'negative', u: 'neutral', p: 'positive' };
const HIST_CODE: Record<HistogramFeature, string> = {
  p_neg: 'hn',
  polarity: 'hp',
  confidence: 'hc',
  tokens: 'ht',
};
const CODE_HIST: Record<string, HistogramFeature> = {
  hn: 'p_neg',
  hp: 'polarity',
  hc: 'confidence',
  ht: 'tokens',
};

export type FieldDeltas = Array<[field: string, delta: number]>;

/** Counter increments one document contributes to each of its groups. */
export function observationDeltas(o: StatsObservation): FieldDeltas {
  const polarity = Math.max(-1, Math.min(1, o.polarity));
  const out: FieldDeltas = [
    ['n', 1],
    [`l${LABEL_CODE[o.label]}`, 1],
    ['ps', Math.round(polarity * POLARITY_SCALE)],
    ['pq', Math.round(polarity * polarity * POLARITY_SCALE)],
    [`hn:${histogramBin('p_neg', o.pNeg)}`, 1],
    [`hp:${histogramBin('polarity', polarity)}`, 1],
    [`hc:${histogramBin('confidence', o.confidence)}`, 1],
    [`ht:${histogramBin('tokens', o.tokens)}`, 1],
  ];
  const tokens = Math.max(0, Math.round(o.tokens));
  if (tokens > 0) out.push(['tk', tokens]);
  const unknown = Math.max(0, Math.round(o.unknownTokens));
  if (unknown > 0) out.push(['uk', unknown]);
  if (o.truncated) out.push(['tr', 1]);
  for (const [rawType, count] of Object.entries(o.entityTypes)) {
    const type = sanitizeEntityType(rawType);
    const c = Math.round(count);
    if (type !== null && c > 0) out.push([`e:${type}`, c]);
  }
  return out;
}

/** Confusion-matrix increment of one labelled document. */
export function labelDeltas(l: LabelObservation): FieldDeltas {
  return [[`cm:${LABEL_CODE[l.actual]}:${LABEL_CODE[l.predicted]}`, 1]];
}

function zeroLabels(): Record<SentimentLabel, number> {
  return { negative: 0, neutral: 0, positive: 0 };
}

export function emptyConfusion(): Record<SentimentLabel, Record<SentimentLabel, number>> {
  return { negative: zeroLabels(), neutral: zeroLabels(), positive: zeroLabels() };
}

export function emptyGroupStats(dimension: string, group: string): GroupWindowStats {
  return {
    dimension,
    group,
    count: 0,
    labelCounts: zeroLabels(),
    polaritySum: 0,
    polaritySumSquares: 0,
    histograms: {
      p_neg: emptyHistogram('p_neg'),
      polarity: emptyHistogram('polarity'),
      confidence: emptyHistogram('confidence'),
      tokens: emptyHistogram('tokens'),
    },
    tokens: 0,
    unknownTokens: 0,
    truncated: 0,
    entityTypes: {},
    confusion: null,
  };
}

/**
 * Raw integer counters (field → value) summed over buckets/partitions; converted to
 * GroupWindowStats only at the end so that polarity sums stay exact integers while merging.
 */
export type RawCounters = Map<string, number>;

export function addRawCounters(target: RawCounters, hash: Record<string, string>): void {
  for (const [field, value] of Object.entries(hash)) {
    const v = Number(value);
    if (Number.isFinite(v)) target.set(field, (target.get(field) ?? 0) + v);
  }
}

export function rawToGroupStats(dimension: string, group: string, raw: RawCounters): GroupWindowStats {
  const s = emptyGroupStats(dimension, group);
  for (const [field, value] of raw) {
    if (field === 'n') s.count = value;
    else if (field === 'ps') s.polaritySum = value / POLARITY_SCALE;
    else if (field === 'pq') s.polaritySumSquares = value / POLARITY_SCALE;
    else if (field === 'tk') s.tokens = value;
    else if (field === 'uk') s.unknownTokens = value;
    else if (field === 'tr') s.truncated = value;
    else if (field.length === 2 && field[0] === 'l' && CODE_LABEL[field[1]!])
      s.labelCounts[CODE_LABEL[field[1]!]!] = value;
    else if (field.startsWith('e:')) s.entityTypes[field.slice(2)] = value;
    else if (field.startsWith('cm:')) {
      const actual = CODE_LABEL[field[3]!];
      const predicted = CODE_LABEL[field[5]!];
      if (actual && predicted) {
        s.confusion ??= emptyConfusion();
        s.confusion[actual][predicted] = value;
      }
    } else {
      const feature = CODE_HIST[field.slice(0, 2)];
      if (feature && field[2] === ':') {
        const bin = Number(field.slice(3));
        if (Number.isInteger(bin) && bin >= 0 && bin < HISTOGRAM_BINS[feature])
          s.histograms[feature][bin] = value;
      }
    }
  }
  return s;
}

/** Sum of several GroupWindowStats (e.g. all groups of a single-valued dimension = the total). */
export function sumGroupStats(
  dimension: string,
  group: string,
  parts: readonly GroupWindowStats[],
  /** Weight of each part (default 1); −1 takes a part away (a sliding window, src/alerts/sliding-reference.ts). */
  weights?: readonly number[],
): GroupWindowStats {
  const s = emptyGroupStats(dimension, group);
  parts.forEach((p, k) => {
    const w = weights?.[k] ?? 1;
    s.count += w * p.count;
    for (const l of SENTIMENT_LABELS) s.labelCounts[l] += w * p.labelCounts[l];
    s.polaritySum += w * p.polaritySum;
    s.polaritySumSquares += w * p.polaritySumSquares;
    for (const f of HISTOGRAM_FEATURES)
      p.histograms[f].forEach((v, i) => (s.histograms[f][i] = (s.histograms[f][i] ?? 0) + w * v));
    s.tokens += w * p.tokens;
    s.unknownTokens += w * p.unknownTokens;
    s.truncated += w * p.truncated;
    for (const [t, v] of Object.entries(p.entityTypes)) s.entityTypes[t] = (s.entityTypes[t] ?? 0) + w * v;
    if (p.confusion) {
      s.confusion ??= emptyConfusion();
      for (const a of SENTIMENT_LABELS)
        for (const b of SENTIMENT_LABELS) s.confusion[a][b] += w * p.confusion[a][b];
    }
  });
  return s;
}

export { LABEL_CODE, HIST_CODE };
