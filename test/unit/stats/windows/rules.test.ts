import { describe, expect, it } from 'vitest';
import {
  itemChunks,
  mergeCallOutcomes,
  MAX_GROUPS_PER_CALL,
  type CallOutcome,
  type WindowItem,
} from '../../../../src/stats/windows/rules.js';

/** An item at `offset` naming `shared` groups every item names and `oneOff` groups only it names. */
const item = (offset: string, oneOff: number, shared = 0): WindowItem => [
  offset,
  0,
  '0',
  [
    ...Array.from({ length: shared }, (_, g) => ['ticker', `S${g}`]),
    ...Array.from({ length: oneOff }, (_, g) => ['ticker', `T${offset}-${g}`]),
  ].flat(),
  ['n', 1],
  0,
];

/** Distinct (bucket, dimension, group) cells of items [from, to). */
const cells = (items: readonly WindowItem[]): number =>
  new Set(items.flatMap((it) => it[3].filter((_, j) => j % 2 === 1).map((g) => `${it[2]}|${g}`))).size;

describe('itemChunks', () => {
  it('splits a batch of one-off-group items into calls of at most the cell limit, each storing its last offset', () => {
    const items = Array.from({ length: 40 }, (_, i) => item(String(100 + i), 57));
    const chunks = itemChunks(items, '150');
    // 3 items of 57 new cells (171) fit under 200; a fourth would not.
    expect(chunks.map((c) => c.to - c.from)).toEqual([...Array<number>(13).fill(3), 1]);
    expect(chunks.map((c) => c.lastOffset).slice(0, 3)).toEqual(['102', '105', '108']);
    expect(chunks.at(-1)!.lastOffset).toBe('150');
    for (const c of chunks) expect(cells(items.slice(c.from, c.to))).toBeLessThanOrEqual(MAX_GROUPS_PER_CALL);
  });

  it('counts a group once however many items of the call name it', () => {
    // 6 shared + 4 one-off each: 6 + 4k cells for k items, so 48 items fit (198), the 49th does not.
    const items = Array.from({ length: 60 }, (_, i) => item(String(i + 1), 4, 6));
    expect(itemChunks(items, '60').map((c) => c.to - c.from)).toEqual([48, 12]);
  });

  it('keeps one call when an item alone is over the limit, or when items lack offsets or repeat one', () => {
    expect(itemChunks([item('1', 900)], '1')).toEqual([{ from: 0, to: 1, lastOffset: '1' }]);
    const many = Array.from({ length: 20 }, (_, i) => item(i === 5 ? '' : String(i + 1), 57));
    expect(itemChunks(many, '20')).toHaveLength(1);
    const repeated = Array.from({ length: 20 }, (_, i) => item(String(Math.min(i, 9) + 1), 57));
    expect(itemChunks(repeated, '10')).toHaveLength(1);
  });

  it('leaves an ordinary batch (documents sharing a few groups) in one call', () => {
    const items = Array.from({ length: 64 }, (_, i) => item(String(i + 1), 1, 8));
    expect(itemChunks(items, '64')).toEqual([{ from: 0, to: 64, lastOffset: '64' }]);
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
