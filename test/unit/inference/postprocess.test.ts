import { describe, expect, it } from 'vitest';
import {
  LabelSetError,
  parseBioLabel,
  sentimentIndexMap,
  validateNerLabels,
} from '../../../src/inference/label-set.js';
import {
  decodeEntities,
  groupEntities,
  mergeOverlapping,
  normalizeEntityText,
  type NerVocabulary,
} from '../../../src/inference/ner.js';
import { aggregateSentiment, softmax, toCanonical } from '../../../src/inference/sentiment.js';
import type { TokenWindow } from '../../../src/inference/tokenize.js';

describe('sentiment post-processing', () => {
  it('softmax matches the closed form', () => {
    const p = softmax([1, 2, 3]);
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    expect(p[0]).toBeCloseTo(Math.exp(1) / z, 15);
    expect(p[2]).toBeCloseTo(Math.exp(3) / z, 15);
    // stable for large logits
    expect(softmax([1000, 1000])).toEqual([0.5, 0.5]);
  });

  it('maps model label orders and 2-class models to canonical labels', () => {
    expect(sentimentIndexMap(['positive', 'negative', 'neutral'])).toEqual([
      'positive',
      'negative',
      'neutral',
    ]);
    expect(sentimentIndexMap(['Bearish', 'Bullish'])).toEqual(['negative', 'positive']);
    expect(
      sentimentIndexMap(['LABEL_0', 'LABEL_1', 'LABEL_2'], {
        LABEL_0: 'negative',
        LABEL_1: 'neutral',
        LABEL_2: 'positive',
      }),
    ).toEqual(['negative', 'neutral', 'positive']);
    expect(() => sentimentIndexMap(['LABEL_0', 'LABEL_1'])).toThrow(LabelSetError);
    expect(() => sentimentIndexMap(['negative', 'neg', 'positive'])).toThrow(/twice/);
    expect(() => sentimentIndexMap(['negative', 'neutral'])).toThrow(/must include negative and positive/);
    expect(toCanonical([0.3, 0.7], ['negative', 'positive'])).toEqual({
      negative: 0.3,
      neutral: 0,
      positive: 0.7,
    });
  });

  it('aggregates windows by token-weighted mean and derives label, polarity and confidence', () => {
    const result = aggregateSentiment(
      [
        { probabilities: { negative: 0.6, neutral: 0.3, positive: 0.1 }, weight: 30 },
        { probabilities: { negative: 0.1, neutral: 0.2, positive: 0.7 }, weight: 10 },
      ],
      { tokens: 32, unknownTokens: 2, truncated: true },
    );
    // negative = (0.6·30 + 0.1·10) / 40 = 0.475, neutral = 0.275, positive = 0.25
    expect(result.probabilities.negative).toBeCloseTo(0.475, 12);
    expect(result.probabilities.neutral).toBeCloseTo(0.275, 12);
    expect(result.probabilities.positive).toBeCloseTo(0.25, 12);
    expect(result.label).toBe('negative');
    expect(result.polarity).toBeCloseTo(-0.225, 12);
    expect(result.confidence).toBeCloseTo(0.475, 12);
    expect(result).toMatchObject({ windows: 2, truncated: true, tokens: 32, unknownTokens: 2 });
  });
});

describe('BIO labels', () => {
  it('parses prefixes like the HF pipeline', () => {
    expect(parseBioLabel('B-ORG')).toEqual({ prefix: 'B', type: 'ORG' });
    expect(parseBioLabel('I-PER')).toEqual({ prefix: 'I', type: 'PER' });
    expect(parseBioLabel('O')).toEqual({ prefix: 'O', type: 'O' });
    expect(parseBioLabel('MISC')).toEqual({ prefix: 'I', type: 'MISC' });
    expect(() => validateNerLabels(['B-ORG', 'I-ORG'])).toThrow(/no "O"/);
    expect(() => validateNerLabels(['O', 'X'])).toThrow(/no B-\/I-/);
  });
});

// A hand-made window over "Acme Corp rocks": tokens [CLS] acme co ##rp rocks [SEP]
const TEXT = 'Acme Corp rocks';
const LABELS = ['O', 'B-ORG', 'I-ORG', 'B-PER', 'I-PER'];
const VOCAB: Record<number, string> = {
  1: '[CLS]',
  2: '[SEP]',
  10: 'acme',
  11: 'co',
  12: '##rp',
  13: 'rocks',
  99: '[UNK]',
};
const vocab: NerVocabulary = { idToToken: (id) => VOCAB[id] ?? '', unkId: 99, continuingSubwordPrefix: '##' };
const window: TokenWindow = {
  ids: [1, 10, 11, 12, 13, 2],
  typeIds: [0, 0, 0, 0, 0, 0],
  offsets: [
    [0, 0],
    [0, 4],
    [5, 7],
    [7, 9],
    [10, 15],
    [0, 0],
  ],
  specialMask: [1, 0, 0, 0, 0, 1],
  contentStart: 0,
  realTokens: 4,
};
/** Logits that softmax to the given probabilities (log of probabilities). */
const logitsOf = (rows: number[][]): number[] => rows.flatMap((r) => r.map((p) => Math.log(p)));
const probs = [
  [0.2, 0.2, 0.2, 0.2, 0.2], // [CLS] (skipped)
  [0.1, 0.7, 0.1, 0.05, 0.05], // acme → B-ORG 0.7
  [0.1, 0.1, 0.6, 0.1, 0.1], // co → I-ORG 0.6
  [0.1, 0.05, 0.05, 0.75, 0.05], // ##rp → B-PER 0.75 (sub-word)
  [0.9, 0.025, 0.025, 0.025, 0.025], // rocks → O
  [0.2, 0.2, 0.2, 0.2, 0.2], // [SEP]
];
const decode = (strategy: 'simple' | 'first' | 'max' | 'average') =>
  decodeEntities(TEXT, [{ window, data: logitsOf(probs), offset: 0 }], LABELS, vocab, strategy).map((e) => ({
    type: e.type,
    start: e.start,
    end: e.end,
    score: Number(e.score.toFixed(10)),
  }));

describe('NER aggregation strategies', () => {
  it('simple: token labels, B- starts a new entity, scores averaged', () => {
    expect(decode('simple')).toEqual([
      { type: 'ORG', start: 0, end: 7, score: 0.65 },
      { type: 'PER', start: 7, end: 9, score: 0.75 },
    ]);
  });

  it('first: a word takes its first token label', () => {
    // words: acme (B-ORG .7), corp = co+##rp → first token co: I-ORG .6 → one ORG entity "Acme Corp"
    expect(decode('first')).toEqual([{ type: 'ORG', start: 0, end: 9, score: 0.65 }]);
  });

  it('max: a word takes the label of its most confident token', () => {
    // corp: max(co .6, ##rp .75) → ##rp's B-PER 0.75 → ORG "Acme" then PER "Corp"
    expect(decode('max')).toEqual([
      { type: 'ORG', start: 0, end: 4, score: 0.7 },
      { type: 'PER', start: 5, end: 9, score: 0.75 },
    ]);
  });

  it('average: a word takes the arg-max of its mean scores', () => {
    // corp mean: O .1, B-ORG .075, I-ORG .325, B-PER .425, I-PER .075 → B-PER .425
    expect(decode('average')).toEqual([
      { type: 'ORG', start: 0, end: 4, score: 0.7 },
      { type: 'PER', start: 5, end: 9, score: 0.425 },
    ]);
  });

  it('groups I- continuations and drops O', () => {
    const unit = (label: string, score: number, start: number) => ({
      label,
      score,
      start,
      end: start + 1,
      tokens: [],
    });
    expect(
      groupEntities([
        unit('I-ORG', 0.5, 0),
        unit('I-ORG', 0.7, 1),
        unit('O', 0.9, 2),
        unit('B-LOC', 0.8, 3),
        unit('B-LOC', 0.6, 4),
      ]).map((e) => [e.type, e.start, e.end, e.score]),
    ).toEqual([
      ['ORG', 0, 2, 0.6],
      ['LOC', 3, 4, 0.8],
      ['LOC', 4, 5, 0.6],
    ]);
  });

  it('resolves overlapping window entities: longest first, then higher score', () => {
    const e = (start: number, end: number, score: number) => ({ type: 'ORG', start, end, score, tokens: [] });
    expect(
      mergeOverlapping([e(10, 14, 0.9), e(0, 5, 0.5), e(10, 20, 0.4), e(0, 5, 0.7), e(30, 31, 0.1)]),
    ).toEqual([e(0, 5, 0.7), e(10, 20, 0.4), e(30, 31, 0.1)]);
  });

  it('normalizes entity text for grouping', () => {
    expect(normalizeEntityText('  Apple\u00a0 Inc. ')).toBe('apple inc');
    expect(normalizeEntityText('ＡＣＭＥ  Corp,')).toBe('acme corp');
    expect(normalizeEntityText('"Deutsche Bank"')).toBe('deutsche bank');
  });
});

describe('task detection from config.json', () => {
  it('reads finsentry_task (finsentry or HF pipeline names) before architectures', async () => {
    const { detectTask } = await import('../../../src/inference/model.js');
    expect(
      detectTask({
        finsentry_task: 'token-classification',
        architectures: ['BertForSequenceClassification'],
      }),
    ).toBe('ner');
    expect(detectTask({ finsentry_task: 'sentiment' })).toBe('sentiment');
    expect(detectTask({ architectures: ['DistilBertForTokenClassification'] })).toBe('ner');
    expect(detectTask({ architectures: ['RobertaForSequenceClassification'] })).toBe('sentiment');
    expect(detectTask({ architectures: ['BertModel'] })).toBeUndefined();
  });
});
