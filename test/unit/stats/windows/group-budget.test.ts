import { describe, expect, it } from 'vitest';
import type { StatsBatch } from '../../../../src/domain/windows.js';
import { ALL_DIMENSION } from '../../../../src/stats/grouping.js';
import {
  admitNewGroups,
  FOLDED_GROUP,
  groupBudgetOf,
  withoutFoldedGroup,
} from '../../../../src/stats/windows/group-budget.js';
import { MemoryWindowStore } from '../../../../src/stats/windows/memory-store.js';
import { rng } from '../../../helpers/fault-traffic.js';
import { plainObservation } from '../../../helpers/observations.js';

const MINUTE = 60_000;
const T0 = 1_767_225_600_000;

describe('admitNewGroups', () => {
  const g = (group: string, weight: number, first: number) => ({ group, weight, first });

  it('admits the heaviest new groups into the room left, ties by first appearance', () => {
    const fresh = [g('a', 1, 0), g('b', 3, 1), g('c', 1, 2), g('d', 3, 3), g('e', 2, 4)];
    const { admitted, folded } = admitNewGroups(fresh, 6, 10);
    expect(admitted).toEqual(['b', 'd', 'e']);
    expect(folded.map((f) => f.group)).toEqual(['a', 'c']);
  });

  it('keeps the last tenth of the budget for groups that recurred in the bucket before', () => {
    const fresh = [g('a', 1, 0), g('b', 3, 1), g('c', 1, 2), g('d', 3, 3), g('e', 2, 4)];
    // 7 of 10 held, 9 open: b and d fill the open room, then only the recurring c takes the reserve.
    const { admitted, folded } = admitNewGroups(fresh, 7, 10, (group) => group === 'c');
    expect(admitted).toEqual(['b', 'd', 'c']);
    expect(folded.map((f) => f.group)).toEqual(['e', 'a']);
  });

  it('admits nothing into a full bucket, and everything without a budget', () => {
    const fresh = [g('a', 1, 0), g('b', 2, 1)];
    expect(admitNewGroups(fresh, 10, 10).admitted).toEqual([]);
    expect(admitNewGroups(fresh, 12, 10).folded).toHaveLength(2);
    expect(admitNewGroups(fresh, 10_000, 0)).toEqual({ admitted: ['a', 'b'], folded: [] });
  });
});

describe('groupBudgetOf and withoutFoldedGroup', () => {
  it('overrides the default per dimension, 0 included', () => {
    const budget = groupBudgetOf({
      maxGroupsPerBucket: 1000,
      dimensions: [
        { name: 'ticker', maxGroupsPerBucket: 200 },
        { name: 'region' },
        { name: 'kind', maxGroupsPerBucket: 0 },
      ],
    });
    expect(budget).toEqual({ defaultMax: 1000, byDimension: { ticker: 200, kind: 0 } });
  });

  it('drops the fold from what rules judge', () => {
    expect(withoutFoldedGroup([{ group: 'acme' }, { group: FOLDED_GROUP }])).toEqual([{ group: 'acme' }]);
  });
});

/** One partition's batches: each document names 1 heavy ticker of 3 and 6 tail tickers seen once. */
function tickerBatches(documents: number, perBatch: number, buckets: number) {
  const rand = rng(5);
  /** Per bucket, documents per heavy ticker. */
  const heavy = Array.from({ length: buckets }, () => new Map<string, number>());
  const batches: StatsBatch[] = [];
  let offset = 0;
  let tail = 0;
  while (offset < documents) {
    const observations = [];
    for (let i = 0; i < perBatch && offset < documents; i++) {
      const bucket = Math.floor((offset * buckets) / documents);
      offset += 1;
      const top = ['ACME', 'BETA', 'GAMMA'][Math.floor(rand() ** 2 * 3)]!;
      heavy[bucket]!.set(top, (heavy[bucket]!.get(top) ?? 0) + 1);
      const tickers = [top, ...Array.from({ length: 6 }, () => `T${tail++}`)];
      observations.push(
        plainObservation(`d${offset}`, offset, T0 + bucket * MINUTE + (offset % 50), {
          groups: [
            { dimension: ALL_DIMENSION, value: 'all' },
            ...tickers.map((value) => ({ dimension: 'ticker', value })),
          ],
        }),
      );
    }
    batches.push({ partitionKey: 'news:0', lastOffset: String(offset), observations, labels: [] });
  }
  return { batches, heavy };
}

describe('the in-memory store under a budget', () => {
  it('keeps each bucket within the budget, folds the one-off tail, counted, and counts a steady ticker once it recurs', async () => {
    const options = {
      bucketMs: MINUTE,
      allowedLatenessMs: 5 * MINUTE,
      ttlSeconds: 3600,
      dimensions: ['ticker'],
    };
    const store = new MemoryWindowStore({ ...options, groupBudget: { defaultMax: 50, byDimension: {} } });
    const { batches, heavy } = tickerBatches(600, 16, 3);
    let folded = 0;
    for (const batch of batches) folded += (await store.apply([batch]))[0]!.folded?.ticker ?? 0;
    let counted = 0;
    for (let b = 0; b < 3; b++) {
      const bucket = await store.readWindow({
        dimension: 'ticker',
        windowMs: MINUTE,
        endMs: T0 + (b + 1) * MINUTE,
      });
      // 45 open slots fill with the first groups; the 5 reserved take recurring ones only.
      const groups = withoutFoldedGroup(bucket).length;
      expect(groups).toBeGreaterThanOrEqual(45);
      expect(groups).toBeLessThanOrEqual(50);
      counted += withoutFoldedGroup(bucket).reduce((n, g) => n + g.count, 0);
      // The bucket before held every heavy ticker many times: the reserve takes in the ones the
      // one-off tail arrived ahead of. The first bucket has no bucket before; GAMMA (18% of documents)
      // came after it filled and was folded there.
      for (const [ticker, count] of heavy[b]!) {
        const got = bucket.find((g) => g.group === ticker)?.count;
        if (b > 0) expect(got, `${ticker} in bucket ${b}`).toBe(count);
      }
      if (b === 0) expect(bucket.find((g) => g.group === 'GAMMA')).toBeUndefined();
    }
    // Nothing lost: every (document, ticker) pair is in a ticker or in the fold.
    expect(counted + folded).toBe(600 * 7);
    const window = await store.readWindow({
      dimension: 'ticker',
      windowMs: 3 * MINUTE,
      endMs: T0 + 3 * MINUTE,
    });
    expect(window.find((g) => g.group === FOLDED_GROUP)?.count).toBe(folded);
  });
});
