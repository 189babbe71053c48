import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CASE_PRIOR_FILE,
  carriesCase,
  casedLines,
  casePriorOffsets,
  isSentenceStart,
  readCasePrior,
} from '../../../src/inference/case-prior.js';
import { ModelLoadError } from '../../../src/inference/model.js';
import { decodeEntities, type NerVocabulary } from '../../../src/inference/ner.js';
import type { TokenWindow } from '../../../src/inference/tokenize.js';

const BIO = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG'];
const PRIOR = { upper: 2, lower: 4 };

describe('case prior: which texts carry case', () => {
  it('news prose does; chat in small letters, capitals, Title Case and Chinese do not', () => {
    expect(carriesCase('Shares of Apple fell after the Federal Reserve spoke.')).toBe(true);
    expect(carriesCase('just bought more apple, tesla next lol')).toBe(false);
    expect(carriesCase('APPLE SHARES FALL ON WEAK IPHONE SALES')).toBe(false);
    expect(carriesCase('Apple Shares Fall As Iphone Sales Slow In China')).toBe(false);
    expect(carriesCase('苹果公司股价暴跌，投资者担忧')).toBe(false);
    // capitals that only start sentences are no evidence of names
    expect(carriesCase('Profits fell. Shares dropped. "Sales slowed," it said.')).toBe(false);
  });

  it('finds sentence starts after . ! ? 。 and line breaks, through quotes and brackets, not after commas', () => {
    const text = 'Up 3%. "Shares rose," he said! (Then) it fell, Apple said\nNext';
    expect(isSentenceStart(text, 0)).toBe(true);
    expect(isSentenceStart(text, text.indexOf('Shares'))).toBe(true);
    expect(isSentenceStart(text, text.indexOf('Then'))).toBe(true);
    expect(isSentenceStart(text, text.indexOf('Apple'))).toBe(false);
    expect(isSentenceStart(text, text.indexOf('Next'))).toBe(true);
  });
});

describe('case prior: offsets per token', () => {
  it('shifts entity labels at word starts only: +upper inside a sentence, −lower for small letters', () => {
    const text = 'Shares of Apple and apple-growers rose.';
    const starts = [0, 7, 10, 16, 20, 25, 26, 34, 38];
    //             Shares of Apple and apple - growers rose .
    const offsets = casePriorOffsets(text, casedLines(text), starts, BIO, PRIOR);
    const shiftOf = (i: number) => offsets[i]!;
    expect(shiftOf(0)).toEqual([0, 0, 0, 0, 0]); // sentence start: no evidence
    expect(shiftOf(1)).toEqual([0, -4, -4, -4, -4]); // "of"
    expect(shiftOf(2)).toEqual([0, 2, 2, 2, 2]); // "Apple"
    expect(shiftOf(4)).toEqual([0, -4, -4, -4, -4]); // "apple"
    expect(shiftOf(5)).toEqual([0, 0, 0, 0, 0]); // "-" inside a word
    expect(shiftOf(6)).toEqual([0, 0, 0, 0, 0]); // "growers": not a word start
    expect(shiftOf(8)).toEqual([0, 0, 0, 0, 0]); // "."
    expect(casedLines('shares of apple rose')).toEqual([]);
  });

  it('judges line by line: a Title Case headline gets no prior, the body in prose below it does', () => {
    const text = 'Apple Shares Fall As Iphone Sales Slow\nShares of Apple fell after the apple harvest.';
    const body = text.indexOf('\n') + 1;
    expect(casedLines(text)).toEqual([[body, text.length]]);
    const starts = [
      text.indexOf('Fall'),
      body + text.slice(body).indexOf('Apple'),
      text.lastIndexOf('apple'),
    ];
    expect(casePriorOffsets(text, casedLines(text), starts, BIO, PRIOR).map((row) => row[1])).toEqual([
      0, 2, -4,
    ]);
  });
});

describe('case prior in the viterbi aggregation', () => {
  // WordPiece vocabulary of an uncased model: "Apple" and "apple" are the same token to it.
  const WORDS = ['[CLS]', '[SEP]', 'apple', 'shares', 'of', 'rose', 'while', 'the', 'harvest', 'fell'];
  const vocab: NerVocabulary = {
    idToToken: (id) => WORDS[id] ?? '',
    unkId: undefined,
    continuingSubwordPrefix: '##',
  };
  const window = (text: string): TokenWindow => {
    const words = [...text.matchAll(/\S+/gu)];
    const ids = words.map((m) => WORDS.indexOf(m[0].toLowerCase()));
    return {
      ids: [0, ...ids, 1],
      typeIds: Array<number>(ids.length + 2).fill(0),
      offsets: [[0, 0], ...words.map((m): [number, number] => [m.index, m.index + m[0].length]), [0, 0]],
      specialMask: [1, ...ids.map(() => 0), 1],
      contentStart: 0,
      realTokens: ids.length,
    };
  };
  // The same uncertain row for both "apple" tokens (O .6, B-ORG .4); every other word clearly O.
  const logits = (text: string): number[] =>
    [0, ...window(text).ids.slice(1, -1), 1].flatMap((id) =>
      (id === 2 ? [0.6, 0.0, 0.0, 0.4, 0.0] : [0.96, 0.01, 0.01, 0.01, 0.01]).map((p) => Math.log(p + 1e-9)),
    );
  const entities = (text: string, prior = PRIOR) =>
    decodeEntities(
      text,
      [{ window: window(text), data: logits(text), offset: 0 }],
      BIO,
      vocab,
      'viterbi',
      prior,
    ).map((e) => [e.type, text.slice(e.start, e.end), Number(e.score.toFixed(6))]);

  it('reads the capitalised Apple as an ORG and the apple harvest as none, keeping the model score', () => {
    const text = 'Shares of Apple rose while the apple harvest fell';
    expect(entities(text, { upper: 0, lower: 0 })).toEqual([]);
    expect(entities(text)).toEqual([['ORG', 'Apple', 0.4]]);
  });

  it('leaves text without case to the model alone (chat in small letters)', () => {
    const text = 'shares of apple rose while the apple harvest fell';
    expect(entities(text)).toEqual(entities(text, { upper: 0, lower: 0 }));
  });

  it('leaves the other aggregations alone', () => {
    const text = 'Shares of Apple rose while the apple harvest fell';
    const simple = (prior?: typeof PRIOR) =>
      decodeEntities(
        text,
        [{ window: window(text), data: logits(text), offset: 0 }],
        BIO,
        vocab,
        'simple',
        prior,
      );
    expect(simple(PRIOR)).toEqual(simple(undefined));
  });
});

describe('case prior file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'case-prior-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is optional, read when present, and refused when unusable', () => {
    expect(readCasePrior(dir)).toBeUndefined();
    writeFileSync(
      join(dir, CASE_PRIOR_FILE),
      JSON.stringify({ casePrior: { upper: 3, lower: 6 }, f1CrossFitted: 0.9 }),
    );
    expect(readCasePrior(dir)).toEqual({ upper: 3, lower: 6 });
    writeFileSync(join(dir, CASE_PRIOR_FILE), JSON.stringify({ casePrior: { upper: -1, lower: 6 } }));
    expect(() => readCasePrior(dir)).toThrow(ModelLoadError);
    writeFileSync(join(dir, CASE_PRIOR_FILE), '{ not json');
    expect(() => readCasePrior(dir)).toThrow(/not valid JSON/);
  });
});
