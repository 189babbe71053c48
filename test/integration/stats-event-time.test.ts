import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsObservation } from '../../src/domain/observation.js';
import type { StatsApplyResult } from '../../src/domain/windows.js';
import { RedisWindowStore, type WindowStoreOptions } from '../../src/io/redis/window-store.js';
import {
  admitEventTime,
  EMPTY_CLOCK,
  FUTURE_RUN_TO_JUMP,
  type EventTimeVerdict,
  type PartitionClock,
} from '../../src/stats/event-time.js';
import { ALL_DIMENSION } from '../../src/stats/grouping.js';
import { redisUrl, uniqueName } from '../helpers/stack.js';
import { plainObservation } from '../helpers/observations.js';

/**
 * Event time in the window store's Lua on a real Redis (docs/guarantees.md#event-time): bounded
 * out-of-orderness, a future record that cannot move the clock (issue 14's "one record stamped
 * +30 min, then 600 on-time records", issue 18 §5), late and future records reported by id, and the
 * Lua deciding every record exactly as the pure rules of src/stats/event-time.ts.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const LATENESS = 5 * MINUTE;

const observation = (id: string, offset: number, eventTimeMs: number) =>
  plainObservation(id, offset, eventTimeMs);

/** One outlier stamped +30 min after a first on-time record, then 600 on-time records at 2 docs/s. */
function outlierStream(startMs: number): StatsObservation[] {
  const out = [observation('first', 0, startMs), observation('outlier', 1, startMs + 30 * MINUTE)];
  for (let i = 0; i < 600; i++) out.push(observation(`d${i}`, i + 2, startMs + SECOND + i * 500));
  return out;
}

describe('event time in the window store (single Redis)', () => {
  let redis: Redis;
  const stores: RedisWindowStore[] = [];
  let wallMs = 0;

  function newStore(overrides: Partial<WindowStoreOptions> = {}): RedisWindowStore {
    const store = new RedisWindowStore(redis, {
      keyPrefix: uniqueName('fs-t-et'),
      bucketMs: MINUTE,
      allowedLatenessMs: LATENESS,
      maxFutureSkewMs: LATENESS,
      nowMs: () => wallMs,
      ttlSeconds: 3600,
      dimensions: [],
      ...overrides,
    });
    stores.push(store);
    return store;
  }

  /** Applies observations of one partition in batches of `size` (as the pipeline's micro-batches). */
  async function applyAll(
    store: RedisWindowStore,
    obs: readonly StatsObservation[],
    size = 50,
  ): Promise<StatsApplyResult[]> {
    const results: StatsApplyResult[] = [];
    for (let i = 0; i < obs.length; i += size) {
      const chunk = obs.slice(i, i + size);
      results.push(
        ...(await store.apply([
          { partitionKey: 'news.raw:0', lastOffset: chunk.at(-1)!.offset!, observations: chunk, labels: [] },
        ])),
      );
    }
    return results;
  }

  async function counted(store: RedisWindowStore): Promise<number> {
    const all = await store.readWindow({ dimension: ALL_DIMENSION, windowMs: 24 * 60 * MINUTE });
    return all[0]?.count ?? 0;
  }

  beforeAll(async () => {
    redis = new Redis(redisUrl(), { maxRetriesPerRequest: 3 });
    await redis.ping();
  });

  afterAll(async () => {
    for (const s of stores) await s.deleteAll();
    redis.disconnect();
  });

  it('one record stamped +30 min then 600 on-time records: all 600 counted, the outlier refused as future', async () => {
    const startMs = Date.UTC(2026, 0, 5, 9, 0);
    wallMs = startMs + 10 * SECOND; // live: the wall clock runs with the data
    const stream = outlierStream(startMs);

    // Before: the old default skew (1 h) lets the outlier move the clock, as issue 14 measured.
    const before = newStore({ maxFutureSkewMs: 60 * MINUTE });
    const beforeResults = await applyAll(before, stream);
    const beforeLate = beforeResults.reduce((s, r) => s + r.late, 0);

    // After: skew ≤ lateness (the config check), and the outlier cannot move the clock.
    const after = newStore();
    const afterResults = await applyAll(after, stream);
    const afterLate = afterResults.reduce((s, r) => s + r.late, 0);
    const afterFuture = afterResults.reduce((s, r) => s + (r.future ?? 0), 0);
    const refused = afterResults.flatMap((r) => r.refused ?? []);
    console.log(
      `EVENT-TIME outlier +30m then 600 on-time: before (skew 1h) counted ${await counted(before)} late ${beforeLate}; ` +
        `after (skew 5m) counted ${await counted(after)} late ${afterLate} future ${afterFuture}`,
    );
    expect(beforeLate).toBe(600);
    expect(await counted(before)).toBe(2);
    expect(await counted(after)).toBe(601);
    expect(afterLate).toBe(0);
    expect(refused).toEqual([{ documentId: 'outlier', offset: '1', reason: 'future' }]);
    expect(await after.watermark()).toBe(startMs + SECOND + 599 * 500);
  });

  it('refuses a first record further ahead of the wall clock than the skew (a fresh partition has no event clock yet)', async () => {
    const startMs = Date.UTC(2026, 0, 5, 9, 0);
    wallMs = startMs;
    const store = newStore();
    const stream = outlierStream(startMs).slice(1); // the outlier comes first
    const results = await applyAll(store, stream);
    expect(results.flatMap((r) => r.refused ?? []).map((r) => r.reason)).toEqual(['future']);
    expect(await counted(store)).toBe(600);
  });

  it('reports records older than the watermark as late, by id, and does not count them', async () => {
    const startMs = Date.UTC(2026, 0, 5, 10, 0);
    wallMs = startMs;
    const store = newStore();
    const obs = [
      observation('a', 0, startMs),
      observation('b', 1, startMs + 4 * MINUTE),
      observation('e', 2, startMs + 8 * MINUTE), // clock at +8m, watermark at +3m
      observation('c', 3, startMs + 3 * MINUTE - 1), // 1 ms behind the watermark
      observation('d', 4, startMs + 3 * MINUTE), // exactly at the watermark: on time
    ];
    const [result] = await applyAll(store, obs);
    expect(result!.refused).toEqual([{ documentId: 'c', offset: '3', reason: 'late' }]);
    expect(result!.late).toBe(1);
    expect(await counted(store)).toBe(4);
    expect(await store.lateCount()).toBe(1);
  });

  it(`follows a gap in the data once ${FUTURE_RUN_TO_JUMP} consecutive records agree, and a quiet partition with the wall clock`, async () => {
    const startMs = Date.UTC(2026, 0, 5, 11, 0);
    wallMs = startMs;
    // Replay faster than real time: the wall clock stands still while the data jumps 2 h ahead.
    const replay = newStore();
    const gap = [observation('a', 0, startMs)];
    for (let i = 0; i < 10; i++) gap.push(observation(`g${i}`, i + 1, startMs + 120 * MINUTE + i * SECOND));
    const replayed = (await applyAll(replay, gap)).flatMap((r) => r.refused ?? []);
    expect(replayed.map((r) => r.documentId)).toEqual(['g0', 'g1']);
    expect(await counted(replay)).toBe(9);

    // Live: the partition was quiet for 2 h of wall time, then its records resume: nothing refused.
    const live = newStore();
    await applyAll(live, [observation('a', 0, startMs)]);
    wallMs = startMs + 120 * MINUTE;
    const resumed = await applyAll(live, gap.slice(1));
    expect(resumed.flatMap((r) => r.refused ?? [])).toEqual([]);
    expect(await counted(live)).toBe(11);
  });

  it('decides every record as the pure rules do (random order, late, future, gaps, wall clock steps)', async () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const startMs = Date.UTC(2026, 0, 5, 12, 0);
    const store = newStore();
    let clock: PartitionClock = EMPTY_CLOCK;
    let eventMs = startMs;
    wallMs = startMs;
    const expected: EventTimeVerdict[] = [];
    const actual: EventTimeVerdict[] = [];
    for (let batch = 0; batch < 40; batch++) {
      wallMs += Math.floor(rand() * 20 * SECOND);
      const obs: StatsObservation[] = [];
      for (let i = 0; i < 25; i++) {
        eventMs += Math.floor(rand() * 2 * SECOND);
        const r = rand();
        const t =
          r < 0.05
            ? eventMs + Math.floor((6 + rand() * 40) * MINUTE) // future
            : r < 0.15
              ? eventMs - Math.floor(rand() * 9 * MINUTE) // out of order, sometimes late
              : r < 0.17
                ? (eventMs += 30 * MINUTE) // a gap
                : eventMs;
        const offset = batch * 25 + i;
        obs.push(observation(`p${offset}`, offset, t));
        const admitted = admitEventTime(clock, t, wallMs, {
          allowedLatenessMs: LATENESS,
          maxFutureSkewMs: LATENESS,
        });
        clock = admitted.clock;
        expected.push(admitted.verdict);
      }
      const [result] = await applyAll(store, obs, 25);
      const refused = new Map((result!.refused ?? []).map((r) => [r.documentId, r.reason]));
      for (const o of obs) actual.push(refused.get(o.documentId) ?? 'on-time');
      expect(result!.watermarkMs).toBe(clock.maxEventMs);
    }
    const tally = (v: EventTimeVerdict[]) => ({
      late: v.filter((x) => x === 'late').length,
      future: v.filter((x) => x === 'future').length,
    });
    console.log(`EVENT-TIME parity: ${actual.length} records, Lua ${JSON.stringify(tally(actual))}`);
    expect(actual).toEqual(expected);
    expect(tally(expected).late).toBeGreaterThan(0);
    expect(tally(expected).future).toBeGreaterThan(0);
  });
});
