import { describe, expect, it } from 'vitest';
import { BioViterbi } from '../../../src/inference/bio-viterbi.js';
import { parseBioLabel } from '../../../src/inference/label-set.js';
import { decodeEntities, type NerVocabulary } from '../../../src/inference/ner.js';
import type { TokenWindow } from '../../../src/inference/tokenize.js';

const BIO = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG'];

/** Valid BIO: I-X only after B-X or I-X (for a type that has a B- label), never first. */
function valid(labels: readonly string[], path: readonly number[]): boolean {
  const tags = labels.map(parseBioLabel);
  const hasBegin = new Set(tags.filter((t) => t.prefix === 'B').map((t) => t.type));
  return path.every((k, i) => {
    const tag = tags[k]!;
    if (tag.prefix !== 'I' || !hasBegin.has(tag.type)) return true;
    const previous = i === 0 ? undefined : tags[path[i - 1]!];
    return previous !== undefined && previous.prefix !== 'O' && previous.type === tag.type;
  });
}

/** The oracle: every label sequence enumerated, the valid one with the highest product kept. */
function bruteForce(labels: readonly string[], scores: number[][]): { path: number[]; logScore: number } {
  let best = { path: [] as number[], logScore: -Infinity };
  const total = labels.length ** scores.length;
  for (let code = 0; code < total; code++) {
    const path = scores.map((_, i) => Math.floor(code / labels.length ** i) % labels.length);
    if (!valid(labels, path)) continue;
    const logScore = path.reduce((s, k, i) => s + Math.log(scores[i]![k]!), 0);
    if (logScore > best.logScore) best = { path, logScore };
  }
  return best;
}

/** A seeded generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomScores(next: () => number, length: number, labels: number): number[][] {
  return Array.from({ length }, () => {
    // peaked rows, as a trained token head gives, so that the arg-max path is often invalid
    const raw = Array.from({ length: labels }, () => next() ** 4 + 1e-6);
    const sum = raw.reduce((s, v) => s + v, 0);
    return raw.map((v) => v / sum);
  });
}

describe('BIO-constrained Viterbi decoding', () => {
  it('finds the best valid sequence: equal to exhaustive search on 300 random score matrices', () => {
    const next = random(42);
    let argmaxInvalid = 0;
    for (let c = 0; c < 300; c++) {
      const scores = randomScores(next, 1 + (c % 6), BIO.length);
      const path = new BioViterbi(BIO).decode(scores);
      const oracle = bruteForce(BIO, scores);
      expect(valid(BIO, path)).toBe(true);
      expect(path.reduce((s, k, i) => s + Math.log(scores[i]![k]!), 0)).toBeCloseTo(oracle.logScore, 10);
      const argmax = scores.map((row) => row.indexOf(Math.max(...row)));
      if (!valid(BIO, argmax)) argmaxInvalid++;
    }
    // the comparison is not vacuous: arg-max alone breaks the constraint in many of these cases
    expect(argmaxInvalid).toBeGreaterThan(50);
  });

  it('adds a prior in log space: equal to exhaustive search on scores × e^prior (100 random cases)', () => {
    const next = random(7);
    for (let c = 0; c < 100; c++) {
      const scores = randomScores(next, 1 + (c % 6), BIO.length);
      const prior = scores.map((row) => row.map(() => (next() - 0.5) * 8));
      const path = new BioViterbi(BIO).decode(scores, prior);
      const weighted = scores.map((row, i) => row.map((p, k) => p * Math.exp(prior[i]![k]!)));
      const logScore = (p: number[]) => p.reduce((s, k, i) => s + Math.log(weighted[i]![k]!), 0);
      expect(valid(BIO, path)).toBe(true);
      expect(logScore(path)).toBeCloseTo(bruteForce(BIO, weighted).logScore, 10);
    }
  });

  it('keeps an entity whole with the type its tokens support together (巴 B-PER .5, 利邦宁 I-ORG)', () => {
    const scores = [
      [0.1, 0.5, 0.05, 0.3, 0.05], // 巴: arg-max B-PER
      [0.1, 0.05, 0.25, 0.05, 0.55], // 利: arg-max I-ORG, invalid after B-PER
      [0.7, 0.05, 0.1, 0.05, 0.1], // ，
    ];
    // B-PER I-PER O = .5·.25·.7 = .0875 against B-ORG I-ORG O = .3·.55·.7 = .1155
    expect(new BioViterbi(BIO).decode(scores).map((k) => BIO[k])).toEqual(['B-ORG', 'I-ORG', 'O']);
  });

  it('lets I- start an entity of a type that has no B- label (IO tagging), and reads unprefixed labels as I-', () => {
    const io = ['O', 'I-PER', 'ORG'];
    const scores = [
      [0.2, 0.8, 0],
      [0.1, 0.1, 0.8],
    ];
    expect(new BioViterbi(io).decode(scores)).toEqual([1, 2]);
    expect(new BioViterbi(io).decode([])).toEqual([]);
  });

  it('as the viterbi aggregation: one ORG entity where simple gives a PER and an ORG piece', () => {
    const text = '巴利邦宁';
    const vocab: NerVocabulary = {
      idToToken: (id) => ['<s>', '</s>', '▁巴', '利', '邦宁'][id] ?? '',
      unkId: undefined,
      continuingSubwordPrefix: undefined,
    };
    const window: TokenWindow = {
      ids: [0, 2, 3, 4, 1],
      typeIds: [0, 0, 0, 0, 0],
      offsets: [
        [0, 0],
        [0, 1],
        [1, 2],
        [2, 4],
        [0, 0],
      ],
      specialMask: [1, 0, 0, 0, 1],
      contentStart: 0,
      realTokens: 3,
    };
    const rows = [
      [0.2, 0.2, 0.2, 0.2, 0.2],
      [0.1, 0.5, 0.05, 0.3, 0.05],
      [0.1, 0.05, 0.25, 0.05, 0.55],
      [0.1, 0.05, 0.25, 0.05, 0.55],
      [0.2, 0.2, 0.2, 0.2, 0.2],
    ];
    const data = rows.flatMap((r) => r.map(Math.log));
    const decode = (strategy: 'simple' | 'viterbi') =>
      decodeEntities(text, [{ window, data, offset: 0 }], BIO, vocab, strategy).map((e) => [
        e.type,
        text.slice(e.start, e.end),
        Number(e.score.toFixed(10)),
      ]);
    expect(decode('simple')).toEqual([
      ['PER', '巴', 0.5],
      ['ORG', '利邦宁', 0.55],
    ]);
    expect(decode('viterbi')).toEqual([['ORG', '巴利邦宁', Number(((0.3 + 0.55 + 0.55) / 3).toFixed(10))]]);
  });
});
