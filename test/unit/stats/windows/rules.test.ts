import { describe, expect, it } from 'vitest';
import {
  itemChunks,
  mergeCallOutcomes,
  MAX_PAIRS_PER_CALL,
  type CallOutcome,
  type WindowItem,
} from '../../../../src/stats/windows/rules.js';

/** An item with `groups` (dimension, group) pairs at `offset`. */
const item = (offset: string, groups: number): WindowItem => [
  offset,
  0,
  '0',
  Array.from({ length: groups }, (_, g) => ['ticker', `T${g}`]).flat(),
  ['n', 1],
  0,
];

describe('itemChunks', () => {
  it('splits a batch of many-group items into calls of at most the pair limit, each storing its last offset', () => {
    const items = Array.from({ length: 40 }, (_, i) => item(String(100 + i), 57));
    const chunks = itemChunks(items, '150');
    // 8 items of 57 pairs (456) fit under 500; a ninth would not.
    expect(chunks.map((c) => c.to - c.from)).toEqual([8, 8, 8, 8, 8]);
    expect(chunks.map((c) => c.lastOffset)).toEqual(['107', '115', '123', '131', '150']);
    for (const c of chunks) {
      const pairs = items.slice(c.from, c.to).reduce((n, it) => n + it[3].length / 2, 0);
      expect(pairs).toBeLessThanOrEqual(MAX_PAIRS_PER_CALL);
    }
  });

  it('keeps one call when an item alone is over the limit, or when items lack offsets or repeat one', () => {
    expect(itemChunks([item('1', 900)], '1')).toEqual([{ from: 0, to: 1, lastOffset: '1' }]);
    const many = Array.from({ length: 20 }, (_, i) => item(i === 5 ? '' : String(i + 1), 57));
    expect(itemChunks(many, '20')).toHaveLength(1);
    const repeated = Array.from({ length: 20 }, (_, i) => item(String(Math.min(i, 9) + 1), 57));
    expect(itemChunks(repeated, '10')).toHaveLength(1);
  });

  it('leaves an ordinary batch (a few groups per document) in one call', () => {
    const items = Array.from({ length: 60 }, (_, i) => item(String(i + 1), 8));
    expect(itemChunks(items, '60')).toEqual([{ from: 0, to: 60, lastOffset: '60' }]);
  });
});

describe('mergeCallOutcomes', () => {
  const outcome = (o: Partial<CallOutcome>): CallOutcome => ({
    applied: 1,
    late: 0,
    future: 0,
    watermarkMs: 0,
    refused: [],
    folded: {},
    ...o,
  });
  const chunks = [
    { from: 0, to: 3, lastOffset: '3' },
    { from: 3, to: 5, lastOffset: '9' },
  ];

  it('sums counts, makes refused indices batch-wide and keeps the last watermark', () => {
    const merged = mergeCallOutcomes(chunks, [
      outcome({ applied: 0, late: 1, watermarkMs: 10, refused: [2, 1], folded: { ticker: 4 } }),
      outcome({ future: 1, watermarkMs: 20, refused: [0, 2], folded: { ticker: 1, issuer: 2 } }),
    ]);
    expect(merged).toEqual({
      applied: 1,
      late: 1,
      future: 1,
      watermarkMs: 20,
      refused: [2, 1, 3, 2],
      folded: { ticker: 5, issuer: 2 },
    });
  });

  it('reports a missing state when any call found none', () => {
    expect(mergeCallOutcomes(chunks, [outcome({ applied: -1 }), outcome({ applied: -1 })]).applied).toBe(-1);
  });
});
