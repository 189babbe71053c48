import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MicroBatcher,
  selectBatch,
  type BatchStats,
  type BatcherOptions,
} from '../../../src/inference/batcher.js';

interface Item {
  id: number;
  length: number;
}

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

afterEach(() => {
  vi.useRealTimers();
});

describe('selectBatch', () => {
  it('always takes the oldest item and fills with the nearest lengths within the budget', () => {
    // oldest (index 0) has length 10; budget 40 allows 4 items of ≤ 10 tokens.
    const lengths = [10, 100, 9, 11, 50, 10, 3];
    const picked = selectBatch(lengths, 0, 8, 40);
    // 11 would raise the longest to 11 → 4 × 11 = 44 > 40, so the batch is 0, 5 (10), 2 (9), 6 (3).
    expect(picked).toEqual([0, 2, 5, 6]);
    expect(Math.max(...picked.map((i) => lengths[i] ?? 0)) * picked.length).toBeLessThanOrEqual(40);
  });

  it('length bucketing pads less than first-in-first-out batching of the same queue', () => {
    // alternating short and long windows, as a mix of chat messages and news bodies gives
    const lengths = Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? 12 : 120));
    const padded = (batches: number[][]) =>
      batches.reduce((s, b) => s + b.length * Math.max(...b.map((i) => lengths[i] ?? 0)), 0);
    const fifo: number[][] = [];
    for (let i = 0; i < lengths.length; i += 8) fifo.push(Array.from({ length: 8 }, (_, k) => i + k));
    const bucketed: number[][] = [];
    let remaining = lengths.map((_, i) => i);
    while (remaining.length > 0) {
      const picked = selectBatch(
        remaining.map((i) => lengths[i] ?? 0),
        0,
        8,
        8 * 128,
      ).map((k) => remaining[k] ?? -1);
      bucketed.push(picked);
      remaining = remaining.filter((i) => !picked.includes(i));
    }
    expect(bucketed.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    // FIFO pads every batch to 120; bucketing puts the short ones together: 4·8·12 + 4·8·120
    expect(padded(fifo)).toBe(8 * 8 * 120);
    expect(padded(bucketed)).toBe(4 * 8 * 12 + 4 * 8 * 120);
  });

  it('leaves out items that would make more than maxPaddingRatio of the batch padding', () => {
    // oldest is a 20-token chat window; one 128-token article window is queued among more chat.
    const lengths = [20, 128, 18, 20, 22, 19];
    // without a cap the budget (8 × 128) lets the long window in: padded 6 × 128 = 768 for 227 real
    expect(selectBatch(lengths, 0, 8, 8 * 128)).toEqual([0, 1, 2, 3, 4, 5]);
    // with a 20% cap the chat windows go together (padded 5 × 22 = 110, real 99: 10% padding)
    expect(selectBatch(lengths, 0, 8, 8 * 128, 0.2)).toEqual([0, 2, 3, 4, 5]);
    // and the long window, when it is the oldest, goes alone rather than padding the chat
    expect(selectBatch([128, 20, 18], 0, 8, 8 * 128, 0.2)).toEqual([0]);
  });

  it('never exceeds the padding cap for any queue (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 128 }), { minLength: 1, maxLength: 100 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (lengths, cap) => {
          const picked = selectBatch(lengths, 0, 64, 64 * 128, cap);
          expect(picked).toContain(0);
          const longest = Math.max(...picked.map((i) => lengths[i] ?? 0));
          const real = picked.reduce((s, i) => s + (lengths[i] ?? 0), 0);
          if (picked.length > 1)
            expect(1 - real / (longest * picked.length)).toBeLessThanOrEqual(cap + 1e-12);
        },
      ),
    );
  });

  it('sends an item longer than the budget alone', () => {
    expect(selectBatch([500, 4, 4], 0, 8, 64)).toEqual([0]);
  });
});

describe('MicroBatcher', () => {
  it('never exceeds the padded-token budget or the batch size, and answers every item with its own output', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 128 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 128, max: 2048 }),
        fc.integer({ min: 1, max: 4 }),
        async (lengths, maxBatchSize, maxBatchTokens, maxInFlightBatches) => {
          const batches: Item[][] = [];
          let running = 0;
          let maxRunning = 0;
          const batcher = new MicroBatcher<Item, number>(
            { maxBatchSize, maxBatchTokens, maxWaitMs: 1, maxInFlightBatches, maxQueued: 64 },
            async (items) => {
              running++;
              maxRunning = Math.max(maxRunning, running);
              batches.push(items);
              await new Promise((r) => setImmediate(r));
              running--;
              return items.map((i) => i.id * 10);
            },
          );
          const results = await Promise.all(lengths.map((length, id) => batcher.submit({ id, length })));
          expect(results).toEqual(lengths.map((_, id) => id * 10));
          for (const batch of batches) {
            expect(batch.length).toBeLessThanOrEqual(maxBatchSize);
            expect(Math.max(...batch.map((i) => i.length)) * batch.length).toBeLessThanOrEqual(
              maxBatchTokens,
            );
          }
          expect(
            batches
              .flat()
              .map((i) => i.id)
              .sort((a, b) => a - b),
          ).toEqual(lengths.map((_, i) => i));
          expect(maxRunning).toBeLessThanOrEqual(maxInFlightBatches);
          await batcher.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('dispatches every item within maxWait plus one batch duration (virtual time)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 30 }),
        async (gaps, maxWaitMs, batchMs) => {
          vi.useFakeTimers();
          const clock = () => Date.now();
          const waits: number[] = [];
          const enqueued = new Map<number, number>();
          const options: BatcherOptions = {
            maxBatchSize: 128,
            maxBatchTokens: 128 * 16,
            maxWaitMs,
            maxInFlightBatches: 1,
            maxQueued: 1000,
          };
          const batcher = new MicroBatcher<Item, number>(
            options,
            (items) => {
              for (const i of items) waits.push(clock() - (enqueued.get(i.id) ?? 0));
              return new Promise((resolve) => setTimeout(() => resolve(items.map((i) => i.id)), batchMs));
            },
            undefined,
            clock,
          );
          const pending: Array<Promise<number>> = [];
          for (const [id, gap] of gaps.entries()) {
            await vi.advanceTimersByTimeAsync(gap);
            enqueued.set(id, clock());
            pending.push(batcher.submit({ id, length: 8 }));
          }
          await vi.advanceTimersByTimeAsync(maxWaitMs + batchMs * (gaps.length + 1));
          await Promise.all(pending);
          vi.useRealTimers();
          expect(waits).toHaveLength(gaps.length);
          for (const w of waits) expect(w).toBeLessThanOrEqual(maxWaitMs + batchMs);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('does not hold a lone item longer than maxWait when nothing runs', async () => {
    vi.useFakeTimers();
    const dispatchedAt: number[] = [];
    const batcher = new MicroBatcher<Item, number>(
      { maxBatchSize: 8, maxBatchTokens: 1024, maxWaitMs: 25, maxInFlightBatches: 2, maxQueued: 10 },
      async (items) => {
        dispatchedAt.push(Date.now());
        return items.map(() => 1);
      },
      undefined,
      () => Date.now(),
    );
    const start = Date.now();
    const result = batcher.submit({ id: 1, length: 5 });
    await vi.advanceTimersByTimeAsync(24);
    expect(dispatchedAt).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(dispatchedAt).toEqual([start + 25]);
    await expect(result).resolves.toBe(1);
  });

  it('dispatches a full batch immediately without waiting for maxWait', async () => {
    vi.useFakeTimers();
    const sizes: number[] = [];
    const batcher = new MicroBatcher<Item, number>(
      { maxBatchSize: 4, maxBatchTokens: 1024, maxWaitMs: 1000, maxInFlightBatches: 1, maxQueued: 100 },
      async (items) => {
        sizes.push(items.length);
        return items.map(() => 0);
      },
      undefined,
      () => Date.now(),
    );
    const all = [1, 2, 3, 4].map((id) => batcher.submit({ id, length: 4 }));
    await vi.advanceTimersByTimeAsync(0);
    expect(sizes).toEqual([4]);
    await Promise.all(all);
  });

  it('bounds the queue: isFull, submit waits for room', async () => {
    const gates: Array<ReturnType<typeof deferred<void>>> = [];
    let maxQueued = 0;
    const batcher = new MicroBatcher<Item, number>(
      { maxBatchSize: 2, maxBatchTokens: 1024, maxWaitMs: 0, maxInFlightBatches: 1, maxQueued: 3 },
      async (items) => {
        const gate = deferred<void>();
        gates.push(gate);
        await gate.promise;
        return items.map((i) => i.id);
      },
    );
    const results = Array.from({ length: 9 }, (_, id) => {
      const p = batcher.submit({ id, length: 4 });
      maxQueued = Math.max(maxQueued, batcher.queued);
      return p;
    });
    await new Promise((r) => setImmediate(r));
    // one batch of 2 is running, the queue holds 3, the other submitters wait for room
    expect(batcher.running).toBe(1);
    expect(batcher.queued).toBe(3);
    expect(batcher.isFull()).toBe(true);
    while (gates.length < 5) {
      const open = gates.length;
      gates[open - 1]?.resolve();
      await new Promise((r) => setImmediate(r));
      maxQueued = Math.max(maxQueued, batcher.queued);
      if (gates.length === open) break;
    }
    gates[gates.length - 1]?.resolve();
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(maxQueued).toBeLessThanOrEqual(3);
    expect(batcher.isFull()).toBe(false);
  });

  it('reports per-batch statistics and rejects the items of a failed batch', async () => {
    const stats: BatchStats[] = [];
    let calls = 0;
    const batcher = new MicroBatcher<Item, number>(
      { maxBatchSize: 3, maxBatchTokens: 1024, maxWaitMs: 5, maxInFlightBatches: 1, maxQueued: 10 },
      async (items) => {
        calls++;
        if (calls === 2) throw new Error('model crashed');
        return items.map((i) => i.id);
      },
      (s) => stats.push(s),
    );
    const first = await Promise.all([
      batcher.submit({ id: 1, length: 4 }),
      batcher.submit({ id: 2, length: 10 }),
    ]);
    expect(first).toEqual([1, 2]);
    await expect(batcher.submit({ id: 3, length: 5 })).rejects.toThrow('model crashed');
    expect(stats.map((s) => [s.size, s.paddedTokens, s.realTokens, s.failed])).toEqual([
      [2, 20, 14, false],
      [1, 5, 5, true],
    ]);
    expect(stats.every((s) => s.modelMs >= 0 && s.maxQueueMs >= s.meanQueueMs)).toBe(true);
  });
});
