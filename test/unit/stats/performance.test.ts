// Realised and estimated model performance per group and window (issue #19 items 2–3), calibration
// measures (issue #15 item 5): pure functions, hand-computed figures, and one pass through the
// in-memory window store so the functions are checked on what the windows really hold.
import { describe, expect, it } from 'vitest';
import {
  confidenceBin,
  expectedCalibrationError,
  goldenSectionMinimize,
} from '../../../src/stats/calibration.js';
import {
  estimatedAccuracyFromHistogram,
  groupPerformance,
  realisedPerformance,
  type Confusion,
} from '../../../src/stats/performance.js';
import { MemoryWindowStore } from '../../../src/stats/windows/memory-store.js';
import { buildStatsReport } from '../../../src/stats/dimension-report.js';
import { renderStatsReport } from '../../../src/cli/commands/stats.js';
import type { SentimentLabel } from '../../../src/domain/enrichment.js';
import type { StatsObservation } from '../../../src/domain/observation.js';
import { scaleLogits } from '../../../src/inference/calibration.js';
import { softmax } from '../../../src/inference/sentiment.js';

const confusion = (rows: number[][]): Confusion => {
  const [n, u, p] = rows as [number[], number[], number[]];
  return {
    negative: { negative: n[0]!, neutral: n[1]!, positive: n[2]! },
    neutral: { negative: u[0]!, neutral: u[1]!, positive: u[2]! },
    positive: { negative: p[0]!, neutral: p[1]!, positive: p[2]! },
  };
};

describe('realisedPerformance', () => {
  it('gives accuracy and scikit-learn macro-F1 from a confusion matrix', () => {
    // rows actual, columns predicted (negative, neutral, positive)
    const r = realisedPerformance(
      confusion([
        [8, 2, 0],
        [1, 6, 3],
        [0, 0, 5],
      ]),
    );
    expect(r.labelled).toBe(25);
    expect(r.accuracy).toBeCloseTo(19 / 25, 12);
    // F1 = 2TP / (actual + predicted): neg 16/19, neu 12/18, pos 10/13
    expect(r.macroF1).toBeCloseTo((16 / 19 + 12 / 18 + 10 / 13) / 3, 12);
  });

  it('leaves out classes that are neither actual nor predicted, and scores a missed class 0', () => {
    const r = realisedPerformance(
      confusion([
        [4, 0, 0],
        [0, 0, 0],
        [2, 0, 0],
      ]),
    );
    // negative F1 = 8/10; positive actual 2, predicted 0 → 0; neutral absent → not averaged
    expect(r.macroF1).toBeCloseTo((8 / 10 + 0) / 2, 12);
    expect(r.accuracy).toBeCloseTo(4 / 6, 12);
  });

  it('is null without labels', () => {
    expect(realisedPerformance(null)).toEqual({ labelled: 0, accuracy: null, macroF1: null });
    expect(
      realisedPerformance(
        confusion([
          [0, 0, 0],
          [0, 0, 0],
          [0, 0, 0],
        ]),
      ).accuracy,
    ).toBeNull();
  });
});

describe('estimatedAccuracyFromHistogram (CBPE)', () => {
  it('is the mean of bin midpoints of the 20-bin confidence histogram', () => {
    const h = new Array<number>(20).fill(0);
    h[19] = 3; // midpoint 0.975
    h[10] = 1; // midpoint 0.525
    expect(estimatedAccuracyFromHistogram(h)).toBeCloseTo((3 * 0.975 + 0.525) / 4, 12);
    expect(estimatedAccuracyFromHistogram(new Array<number>(20).fill(0))).toBeNull();
  });
});

describe('calibration measures', () => {
  it('ECE over equal-width bins matches a hand computation', () => {
    // bin 14 (0.9333–1): confidences 0.95, 0.99 → mean 0.97, 1 of 2 right → |0.5 − 0.97| = 0.47
    // bin 9 (0.6–0.6667): 0.6 right → |1 − 0.6| = 0.4
    const ece = expectedCalibrationError([0.95, 0.99, 0.6], [true, false, true], 15);
    expect(ece).toBeCloseTo((2 / 3) * 0.47 + (1 / 3) * 0.4, 12);
    expect(confidenceBin(1, 15)).toBe(14);
  });

  it('golden-section search finds the minimum of a unimodal function', () => {
    expect(goldenSectionMinimize((x) => (x - 1.7) ** 2, 0.05, 10, 1e-6)).toBeCloseTo(1.7, 5);
  });

  it('temperature scaling softens probabilities and keeps the arg-max', () => {
    const logits = [2, 0.5, -1];
    const plain = softmax(logits);
    const scaled = softmax(scaleLogits(logits, 2));
    expect(scaled[0]).toBeLessThan(plain[0]!);
    expect(scaled[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(0.25) + Math.exp(-0.5)), 12);
    expect(scaleLogits(logits, 1)).toBe(logits);
  });
});

describe('groupPerformance on the in-memory window store', () => {
  it('gives per-group realised accuracy, coverage and the CBPE estimate of one window', async () => {
    const store = new MemoryWindowStore({
      bucketMs: 60_000,
      allowedLatenessMs: 300_000,
      ttlSeconds: 3600,
      dimensions: [],
      expiry: 'event',
    });
    const t0 = 1_700_000_000_000;
    const obs = (
      id: string,
      region: string,
      confidence: number,
      label: SentimentLabel,
    ): StatsObservation => ({
      documentId: id,
      eventTimeMs: t0 + 1000,
      groups: [{ dimension: 'region', value: region }],
      label,
      pNeg: label === 'negative' ? confidence : 0,
      pPos: label === 'positive' ? confidence : 0,
      polarity: 0,
      confidence,
      tokens: 12,
      unknownTokens: 0,
      truncated: false,
      entityTypes: {},
    });
    const lab = (id: string, region: string, predicted: SentimentLabel, actual: SentimentLabel) => ({
      documentId: id,
      eventTimeMs: t0 + 1000,
      groups: [{ dimension: 'region', value: region }],
      predicted,
      actual,
    });
    await store.apply([
      {
        partitionKey: 'news.raw:0',
        lastOffset: '3',
        observations: [
          obs('a', 'emea', 0.97, 'negative'),
          obs('b', 'emea', 0.62, 'neutral'),
          obs('c', 'emea', 0.91, 'positive'),
          obs('d', 'apac', 0.99, 'positive'),
        ],
        labels: [lab('a', 'emea', 'negative', 'negative'), lab('b', 'emea', 'neutral', 'positive')],
      },
    ]);
    const groups = await store.readWindow({ dimension: 'region', windowMs: 300_000, endMs: t0 + 60_000 });
    const emea = groupPerformance(groups.find((g) => g.group === 'emea')!);
    expect(emea.predicted).toBe(3);
    expect(emea.labelled).toBe(2);
    expect(emea.labelCoverage).toBeCloseTo(2 / 3, 12);
    expect(emea.accuracy).toBeCloseTo(1 / 2, 12);
    // bins 19, 12, 18 → midpoints 0.975, 0.625, 0.925
    expect(emea.estimatedAccuracy).toBeCloseTo((0.975 + 0.625 + 0.925) / 3, 12);
    const apac = groupPerformance(groups.find((g) => g.group === 'apac')!);
    expect(apac.labelled).toBe(0);
    expect(apac.accuracy).toBeNull();
    expect(apac.labelCoverage).toBe(0);

    // `finsentry stats` shows the same figures beside each other
    const report = await buildStatsReport(store, 60_000, {
      dimension: 'region',
      windowMs: 300_000,
      endMs: t0 + 60_000,
      minSamples: 1,
      topK: 5,
      reference: { kind: 'trailing', name: '', window: 300_000 },
      mixDimensions: [],
    });
    expect(report.performance.find((p) => p.group === 'emea')).toEqual(emea);
    const line = renderStatsReport(report)
      .split('\n')
      .find((l) => l.startsWith('emea ') && l.includes('0.667'));
    expect(line?.trim().split(/\s+/)).toEqual(['emea', '3', '2', '0.667', '0.500', '0.333', '0.842']);
    // …and TPR/FPR of every class: neutral has no actual member in emea, so its TPR is undefined (-).
    const lines = renderStatsReport(report).split('\n');
    const header = lines.findIndex((l) => l.includes('TPR neg') && l.includes('FPR pos'));
    const rates = lines.slice(header).find((l) => l.startsWith('emea '));
    expect(rates?.trim().split(/\s+/)).toEqual([
      'emea',
      '2',
      '0.500',
      '1.000',
      '0.000',
      '-',
      '0.500',
      '0.000',
      '0.000',
      'yes',
    ]);
    expect(report.performance.find((p) => p.group === 'emea')!.classRates.neutral).toEqual({
      tpr: null,
      fpr: 0.5,
    });
  });
});
