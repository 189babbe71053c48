import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  documentTransform,
  interpolate,
  logitTransform,
  readCalibration,
  TIE_MARGIN,
  topLabelProbabilities,
  type TopLabelCalibration,
} from '../../../src/inference/calibration.js';
import { aggregateSentiment, softmax } from '../../../src/inference/sentiment.js';
import type {
  SentimentLabel,
  SentimentProbabilities,
  SentimentResult,
} from '../../../src/domain/enrichment.js';
import { rng } from '../../helpers/fault-traffic.js';

const LABELS = ['negative', 'neutral', 'positive'] as const;

// The committed English model's fit (training/calibrate_sentiment.py, candidate top_label_4).
const CAL: TopLabelCalibration = {
  method: 'temperature_top_label',
  temperature: 1.5227845937699032,
  topLabel: {
    confidence: [0.3333333333333333, 0.8831593623241186, 0.9433369681797223, 1.0],
    calibrated: [0.17085551942450908, 0.8324453272012841, 0.967808860207354, 0.9999999644992804],
  },
  fittedOn: ['test'],
  eceBefore: 0.09,
  eceAfter: 0.02,
  bins: 15,
};

/** The engine's path for one document: window logits → temperature → softmax → weighted mean → map. */
function apply(windows: number[][], weights: number[], cal = CAL): SentimentResult {
  const scale = logitTransform(cal, LABELS, 'test');
  const result = aggregateSentiment(
    windows.map((l, i) => {
      const [negative, neutral, positive] = softmax(scale(l)) as [number, number, number];
      return { probabilities: { negative, neutral, positive }, weight: weights[i]! };
    }),
    { tokens: 1, unknownTokens: 0, truncated: false },
  );
  return documentTransform(cal)(result);
}

function plainLabel(windows: number[][], weights: number[]): SentimentLabel {
  return apply(windows, weights, { ...CAL, method: 'temperature' } as unknown as TopLabelCalibration).label;
}

const sum = (p: SentimentProbabilities): number => p.negative + p.neutral + p.positive;
const strictArgMax = (p: SentimentProbabilities, label: SentimentLabel): boolean =>
  LABELS.every((l) => l === label || p[l] < p[label]);

describe('top-label calibration (temperature_top_label)', () => {
  it('gives the outputs of training/calibrate_sentiment.py for fixed logits', () => {
    // Expected: top_label(logit_probs("temperature", ...)) of the script, printed to 17 digits.
    const cases: Array<[number[][], number[], SentimentLabel, [number, number, number]]> = [
      [
        [[-2.430100202560425, -0.4945215880870819, 3.165661096572876]],
        [34],
        'positive',
        [0.030251096136344115, 0.10783592143824706, 0.8619129824254088],
      ],
      [[[0.2, 0.1, -0.3]], [12], 'negative', [0.36114244781786636, 0.361142446252572, 0.27771510592956156]],
      [[[1.1, 0.9, -2.0]], [20], 'negative', [0.4653519687246423, 0.4653519668542529, 0.06929606442110478]],
      [[[-0.5, 0.4, 0.45]], [7], 'positive', [0.21684128256730992, 0.39157935789454523, 0.39157935953814493]],
      [
        [
          [3.0, -1.0, -1.5],
          [-1.0, 0.5, 2.0],
        ],
        [100, 40],
        'negative',
        [0.565853339091719, 0.14941370691810008, 0.28473295399018095],
      ],
      [[[0, 0, 0]], [5], 'negative', [0.33333333433333334, 0.33333333283333333, 0.33333333283333333]],
    ];
    for (const [windows, weights, label, expected] of cases) {
      const r = apply(windows, weights);
      expect(r.label).toBe(label);
      LABELS.forEach((l, i) => expect(r.probabilities[l]).toBeCloseTo(expected[i]!, 12));
      expect(r.confidence).toBe(r.probabilities[label]);
      expect(r.polarity).toBeCloseTo(expected[2] - expected[0], 12);
    }
  });

  it('never changes the arg-max label over random logits; probabilities sum to 1, the label a strict arg-max', () => {
    const rand = rng(19);
    for (let k = 0; k < 5000; k++) {
      const spread = 0.1 + rand() * 12;
      const windows = Array.from({ length: 1 + Math.floor(rand() * 3) }, () =>
        LABELS.map(() => (rand() - 0.5) * spread),
      );
      const weights = windows.map(() => 1 + Math.floor(rand() * 128));
      const r = apply(windows, weights);
      expect(r.label).toBe(plainLabel(windows, weights));
      expect(sum(r.probabilities)).toBeCloseTo(1, 12);
      expect(strictArgMax(r.probabilities, r.label)).toBe(true);
      expect(r.confidence).toBe(r.probabilities[r.label]);
    }
  });

  it('is monotone: a higher input confidence never gives a lower calibrated one', () => {
    for (const ratio of [0, 0.1, 0.5, 1]) {
      let previous = 0;
      for (let c = 1 / 3; c <= 1; c += 0.001) {
        // Other classes in a fixed ratio ratio:1 sharing 1 − c, the top staying the arg-max.
        const neutral = ((1 - c) * ratio) / (1 + ratio);
        const p = { negative: 1 - c - neutral, neutral, positive: c };
        if (Math.max(p.negative, p.neutral) > c) continue;
        const out = topLabelProbabilities(p, 'positive', CAL.topLabel);
        // (where the clamp holds, the floor is constant in theory: allow rounding)
        expect(out.positive).toBeGreaterThanOrEqual(previous - 1e-15);
        previous = out.positive;
      }
    }
    const { confidence: x, calibrated: y } = CAL.topLabel;
    for (let v = 0; v < 1; v += 0.01)
      expect(interpolate(x, y, v + 0.01)).toBeGreaterThanOrEqual(interpolate(x, y, v));
  });

  it('interpolates like numpy.interp: knots exact, constant beyond the ends', () => {
    const x = [0.2, 0.5, 1];
    const y = [0.1, 0.4, 0.9];
    expect(interpolate(x, y, 0)).toBe(0.1);
    expect(interpolate(x, y, 0.5)).toBe(0.4);
    expect(interpolate(x, y, 1)).toBe(0.9);
    expect(interpolate(x, y, 0.35)).toBeCloseTo(0.25, 15);
    expect(interpolate(x, y, 2)).toBe(0.9);
  });

  it('raises a map below the runner-up to just above it, and splits the rest equally when the others are 0', () => {
    const low = { confidence: [0, 1], calibrated: [0, 0] };
    const tied = topLabelProbabilities({ negative: 0.2, neutral: 0.35, positive: 0.45 }, 'positive', low);
    // floor = 0.35 / (0.55 + 0.35): the top equals the runner-up's rescaled share, + TIE_MARGIN.
    expect(tied.positive).toBeCloseTo(0.35 / 0.9 + TIE_MARGIN, 15);
    expect(tied.positive).toBeGreaterThan(tied.neutral);
    expect(sum(tied)).toBeCloseTo(1, 15);
    const certain = topLabelProbabilities({ negative: 1, neutral: 0, positive: 0 }, 'negative', CAL.topLabel);
    expect(certain.neutral).toBe(certain.positive);
    expect(sum(certain)).toBeCloseTo(1, 15);
    expect(certain.negative).toBeGreaterThan(certain.neutral);
  });

  it('leaves temperature and vector calibrations without a document step', () => {
    const r = apply([[1, 0, -1]], [3], { ...CAL, method: 'temperature' } as unknown as TopLabelCalibration);
    expect(r.confidence).toBeCloseTo(softmax([1 / CAL.temperature, 0, -1 / CAL.temperature])[0]!, 15);
    expect(documentTransform(undefined)(r)).toBe(r);
  });
});

describe('calibration.json validation', () => {
  const write = (content: unknown): string => {
    const dir = mkdtempSync(join(tmpdir(), 'finsentry-cal-'));
    writeFileSync(
      join(dir, 'calibration.json'),
      typeof content === 'string' ? content : JSON.stringify(content),
    );
    return dir;
  };

  it('reads a valid top-label file and refuses bad ones with a clear error', () => {
    expect(readCalibration(write(CAL))).toEqual(CAL);
    const bad = (patch: Record<string, unknown>) => write({ ...CAL, ...patch });
    const map = (confidence: unknown, calibrated: unknown) => bad({ topLabel: { confidence, calibrated } });
    expect(() => readCalibration(bad({ topLabel: undefined }))).toThrow(/topLabel must be/);
    expect(() => readCalibration(map([0.3, 1], [0.2, 'x']))).toThrow(/arrays of finite numbers/);
    expect(() => readCalibration(map([0.3], [0.2]))).toThrow(/at least 2 knots/);
    expect(() => readCalibration(map([0.3, 0.6, 1], [0.2, 0.9]))).toThrow(/as many calibrated/);
    expect(() => readCalibration(map([0.3, 0.3, 1], [0.2, 0.5, 0.9]))).toThrow(/strictly increasing/);
    expect(() => readCalibration(map([0.3, 0.6, 1], [0.2, 0.9, 0.8]))).toThrow(/non-decreasing/);
    expect(() => readCalibration(map([0.3, 1.2], [0.2, 0.9]))).toThrow(/\[0, 1\]/);
    expect(() => readCalibration(bad({ temperature: 0 }))).toThrow(/temperature must be a positive number/);
    expect(() => readCalibration(bad({ method: 'isotonic' }))).toThrow(/method must be one of/);
    expect(() => readCalibration(write('[1, 2]'))).toThrow(/expected a JSON object/);
    expect(() => readCalibration(write('{'))).toThrow(/not valid JSON/);
  });
});
