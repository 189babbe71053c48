import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { SENTIMENT_LABELS } from '../../src/domain/enrichment.js';
import type { LabelObservation, StatsObservation } from '../../src/domain/observation.js';
import type { StatsApplyResult, StatsBatch } from '../../src/domain/windows.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { ALL_DIMENSION } from '../../src/stats/grouping.js';
import { FOLDED_GROUP } from '../../src/stats/windows/group-budget.js';
import { MemoryWindowStore } from '../../src/stats/windows/memory-store.js';
import { rng } from '../helpers/fault-traffic.js';
import { redisUrl, uniqueName } from '../helpers/stack.js';
import { plainObservation } from '../helpers/observations.js';

/**
 * The in-memory window store (src/stats/windows/memory-store.ts) against the Redis one: the same
 * batches — three partitions, event times jittered within and beyond the allowed lateness, future
 * timestamps, labels, duplicated batches, replays that straddle the stored offset, observations
 * without offsets — give the same apply results and the same reads (watermarks, late counts, windows
 * of every dimension, per-bucket series, applied offsets, baselines).
 */

const MINUTE = 60_000;
const T0 = 1_767_225_600_000; // 2026-01-01T00:00Z
const DIMENSIONS = ['region', 'issuer'];
const REGIONS = ['emea', 'amer', 'apac'];
const ISSUERS = ['apple', 'tesla', 'sap', 'bnp paribas'];

/**
 * Batches of each partition in offset order, interleaved across partitions, with replays mixed in.
 * With `stories`, news is syndicated: most observations are copies of one of the last few stories
 * (same issuer, any partition), so the same story reaches the store on several partitions, late,
 * in the future and in redelivered batches.
 */
function stream(seed: number, stories = false, issuerOf?: (rand: () => number) => string): StatsBatch[] {
  const rand = rng(seed);
  const recent: Array<{ id: string; issuer: string }> = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const batches: StatsBatch[] = [];
  const offsets = [0, 0, 0];
  /** Max event time generated per partition: its watermark in the store. */
  const clock = [0, 0, 0];
  const sent: StatsBatch[] = [];
  for (let step = 0; step < 90; step++) {
    const p = Math.floor(rand() * 3);
    const observations: StatsObservation[] = [];
    const labels: LabelObservation[] = [];
    const size = 1 + Math.floor(rand() * 25);
    for (let i = 0; i < size; i++) {
      const offset = ++offsets[p]!;
      // Mostly advancing with the step; some 10 min late (beyond the 5 min lateness), some 2 min
      // late (within), a few in the future.
      const r = rand();
      const shift = r < 0.08 ? -10 * MINUTE : r < 0.2 ? -2 * MINUTE : r > 0.97 ? 30 * MINUTE : 0;
      let eventTimeMs = T0 + step * 20_000 + Math.floor(rand() * 20_000) + shift + (rand() < 0.5 ? 0.5 : 0);
      // Now and then exactly on the lateness bound of the partition's clock, or 1 ms past it.
      const edge = rand();
      if (clock[p]! > 0 && edge < 0.05) eventTimeMs = clock[p]! - 5 * MINUTE;
      else if (clock[p]! > 0 && edge < 0.1) eventTimeMs = clock[p]! - 5 * MINUTE - 1;
      clock[p] = Math.max(clock[p]!, Math.floor(eventTimeMs));
      const groups = [
        { dimension: ALL_DIMENSION, value: 'all' },
        { dimension: 'region', value: pick(REGIONS) },
        ...(rand() < 0.7 ? [{ dimension: 'issuer', value: issuerOf ? issuerOf(rand) : pick(ISSUERS) }] : []),
      ];
      let storyId: string | undefined;
      if (stories) {
        const copy = recent.length > 0 && rand() < 0.6 ? pick(recent) : undefined;
        const story = copy ?? { id: `s-${p}-${offset}`, issuer: pick(ISSUERS) };
        if (!copy && recent.push(story) > 6) recent.shift();
        storyId = story.id;
        groups.splice(2, groups.length, { dimension: 'issuer', value: story.issuer });
      }
      const label = pick(SENTIMENT_LABELS);
      if (rand() < 0.15) {
        labels.push({
          documentId: `l-${p}-${offset}`,
          offset: String(offset),
          eventTimeMs,
          groups,
          predicted: label,
          actual: pick(SENTIMENT_LABELS),
        });
        continue;
      }
      const pNeg = rand();
      // Kafka timestamps: mostly written just after the event, some missing (-1, 0 in tests), some
      // from a producer clock ahead of the store's.
      const stamp = rand();
      const recordTimeMs =
        stamp < 0.05
          ? -1
          : stamp < 0.1
            ? 0
            : stamp > 0.95
              ? Date.now() + 60 * MINUTE
              : Math.floor(eventTimeMs) + 500;
      observations.push({
        documentId: `d-${p}-${offset}`,
        ...(rand() < 0.05 ? {} : { offset: String(offset) }),
        ...(storyId === undefined ? {} : { storyId }),
        ...(rand() < 0.1 ? {} : { recordTimeMs }),
        eventTimeMs,
        groups,
        label,
        pNeg,
        pPos: (1 - pNeg) / 2,
        polarity: (1 - pNeg) / 2 - pNeg,
        confidence: rand(),
        tokens: Math.floor(rand() * 500),
        unknownTokens: Math.floor(rand() * 5),
        truncated: rand() < 0.05,
        entityTypes: rand() < 0.5 ? { ORG: 1 + Math.floor(rand() * 3) } : {},
      });
    }
    const batch: StatsBatch = {
      partitionKey: `news.raw:${p}`,
      lastOffset: String(offsets[p]),
      observations,
      labels,
    };
    batches.push(batch);
    sent.push(batch);
    // A duplicate of an earlier batch (a redelivery) or a replay straddling the stored offset.
    if (rand() < 0.15) batches.push(pick(sent));
    if (rand() < 0.1 && observations.length > 2) {
      const tail = observations.slice(observations.length - 2);
      batches.push({ ...batch, lastOffset: String(offsets[p]! + 1), observations: [...tail] });
      offsets[p]! += 1;
    }
  }
  return batches;
}

/**
 * Applies `batches` to both stores in calls of 1 to `span` batches (as the pipeline groups them),
 * expecting equal results; the Redis results of each call go to `seen`.
 */
async function applyToBoth(
  onRedis: RedisWindowStore,
  inMemory: MemoryWindowStore,
  batches: readonly StatsBatch[],
  span: number,
  seen: (results: StatsApplyResult[]) => void = () => {},
): Promise<void> {
  for (let i = 0; i < batches.length;) {
    const call = batches.slice(i, i + 1 + (i % span));
    i += call.length;
    const fromRedis = await onRedis.apply(call);
    expect(await inMemory.apply(call)).toEqual(fromRedis);
    seen(fromRedis);
  }
}

describe('in-memory window store = Redis window store', () => {
  const redis = new Redis(redisUrl());
  const options = {
    keyPrefix: uniqueName('fs-parity').replace(/[^A-Za-z0-9:_-]/g, ''),
    bucketMs: MINUTE,
    allowedLatenessMs: 5 * MINUTE,
    ttlSeconds: 3600,
    dimensions: DIMENSIONS,
  };
  const onRedis = new RedisWindowStore(redis, options);
  const inMemory = new MemoryWindowStore(options);

  afterAll(async () => {
    await onRedis.deleteAll();
    redis.disconnect();
  });

  it('same apply results and the same reads for the same batches', async () => {
    const batches = stream(7);
    // Applied in calls of 1–4 batches, as the pipeline groups them.
    await applyToBoth(onRedis, inMemory, batches, 4);
    expect(await onRedis.lateCount()).toBeGreaterThan(0);
    expect(await inMemory.lateCount()).toBe(await onRedis.lateCount());
    expect(await inMemory.watermark()).toBe(await onRedis.watermark());
    expect(await inMemory.partitionWatermarks()).toEqual(await onRedis.partitionWatermarks());
    expect(await inMemory.appliedOffsets()).toEqual(await onRedis.appliedOffsets());
    const wm = await onRedis.watermark();
    for (const dimension of [ALL_DIMENSION, ...DIMENSIONS]) {
      for (const windowMs of [5 * MINUTE, 15 * MINUTE, 60 * MINUTE]) {
        for (const endMs of [undefined, wm - 7 * MINUTE, T0 + 3 * MINUTE]) {
          const query = { dimension, windowMs, ...(endMs === undefined ? {} : { endMs }) };
          const expected = await onRedis.readWindow(query);
          if (dimension === 'region' && windowMs === 60 * MINUTE && endMs === undefined)
            expect(expected.length).toBe(REGIONS.length);
          expect(await inMemory.readWindow(query)).toEqual(expected);
        }
      }
    }
    const several = await onRedis.readSeriesOfGroups({
      dimension: 'issuer',
      groups: ['apple', 'sap', 'nobody'],
      windowMs: 20 * MINUTE,
    });
    for (const group of ['apple', 'sap', 'nobody']) {
      const expected = await inMemory.readSeries({ dimension: 'issuer', group, windowMs: 20 * MINUTE });
      expect(await onRedis.readSeries({ dimension: 'issuer', group, windowMs: 20 * MINUTE })).toEqual(
        expected,
      );
      expect(several.get(group)).toEqual(expected);
    }
    expect(await inMemory.readAllDimensions(30 * MINUTE)).toEqual(
      await onRedis.readAllDimensions(30 * MINUTE),
    );
    const { capturedAtMs: _r, ...fromRedis } = await onRedis.captureBaseline('parity', 15 * MINUTE, 1);
    const { capturedAtMs: _m, ...fromMemory } = await inMemory.captureBaseline('parity', 15 * MINUTE, 1);
    expect(fromMemory).toEqual(fromRedis);
    expect(await inMemory.readBaseline('parity')).toEqual(await onRedis.readBaseline('parity'));
  });

  it("count a sparse partition's backlog alike, judged at the records' own timestamps", async () => {
    // Records 10 minutes apart, consumed together two hours later (a consumer catching up): judged at
    // the processing time the second and later are `future`; at their Kafka timestamps none is.
    const clock = () => T0 + 120 * MINUTE;
    const sparse = { ...options, keyPrefix: `${options.keyPrefix}-sparse`, nowMs: clock };
    const stores = [new RedisWindowStore(redis, sparse), new MemoryWindowStore(sparse)] as const;
    const observation = (i: number, stamped: boolean) =>
      plainObservation(`sparse-${stamped}-${i}`, i + 1, T0 + i * 10 * MINUTE, {
        ...(stamped ? { recordTimeMs: T0 + i * 10 * MINUTE + 1000 } : {}),
      });
    const batch = (partition: string, stamped: boolean): StatsBatch => ({
      partitionKey: partition,
      lastOffset: '6',
      observations: Array.from({ length: 6 }, (_, i) => observation(i, stamped)),
      labels: [],
    });
    try {
      const results = await Promise.all(
        stores.map((s) => s.apply([batch('news.raw:7', true), batch('news.raw:8', false)])),
      );
      expect(results[1]).toEqual(results[0]);
      expect(results[0]!.map((r) => [r.late, r.future])).toEqual([
        [0, 0],
        [0, 5],
      ]);
    } finally {
      await stores[0].deleteAll();
    }
  });

  it('counts a story once per issuer alike: claims across partitions, late copies, replays', async () => {
    const stories = { windowMs: 15 * MINUTE, dimensions: ['issuer'] };
    const withStories = { ...options, keyPrefix: `${options.keyPrefix}-st`, stories };
    const redisStories = new RedisWindowStore(redis, withStories);
    const memoryStories = new MemoryWindowStore(withStories);
    const batches = stream(11, true);
    let copies = 0;
    try {
      await applyToBoth(redisStories, memoryStories, batches, 3, (results) => {
        copies += results.reduce((n, r) => n + (r.storyCopies ?? 0), 0);
      });
      // Copies were skipped in the issuer dimension only: the issuer total is below the regions' total.
      const wm = await redisStories.watermark();
      const total = (await redisStories.readWindow({ dimension: ALL_DIMENSION, windowMs: 60 * MINUTE }))[0]!;
      const issuers = await redisStories.readWindow({ dimension: 'issuer', windowMs: 60 * MINUTE });
      expect(copies).toBeGreaterThan(0);
      expect(issuers.reduce((n, g) => n + g.count, 0)).toBeLessThan(total.count);
      for (const dimension of [ALL_DIMENSION, ...DIMENSIONS])
        for (const endMs of [undefined, wm - 7 * MINUTE]) {
          const query = { dimension, windowMs: 30 * MINUTE, ...(endMs === undefined ? {} : { endMs }) };
          expect(await memoryStories.readWindow(query)).toEqual(await redisStories.readWindow(query));
        }
    } finally {
      await redisStories.deleteAll();
    }
  });

  it("folds a bucket's groups beyond the cardinality budget alike, and loses no count", async () => {
    // Heavy-tailed issuers: the four known ones carry half the mentions, the rest is a long tail of
    // names seen once or twice, so buckets overflow a budget of 5 issuers.
    const issuerOf = (rand: () => number): string =>
      rand() < 0.5
        ? ISSUERS[Math.floor(rand() * rand() * ISSUERS.length)]!
        : `tail-${Math.floor(rand() ** 2 * 400)}`;
    const groupBudget = { defaultMax: 0, byDimension: { issuer: 5 } };
    const budgeted = { ...options, keyPrefix: `${options.keyPrefix}-cb`, groupBudget };
    const redisBudget = new RedisWindowStore(redis, budgeted);
    const memoryBudget = new MemoryWindowStore(budgeted);
    const unbounded = new MemoryWindowStore(options);
    const batches = stream(13, false, issuerOf);
    let folded = 0;
    try {
      await unbounded.apply(batches);
      await applyToBoth(redisBudget, memoryBudget, batches, 4, (results) => {
        folded += results.reduce((n, r) => n + (r.folded?.issuer ?? 0), 0);
      });
      expect(folded).toBeGreaterThan(0);
      const wm = await redisBudget.watermark();
      for (let end = T0 + MINUTE; end <= wm + MINUTE; end += MINUTE) {
        const query = { dimension: 'issuer', windowMs: MINUTE, endMs: end };
        const bucket = await redisBudget.readWindow(query);
        expect(await memoryBudget.readWindow(query)).toEqual(bucket);
        // Per bucket: at most 5 issuers per partition shard (3 shards), plus the fold.
        expect(bucket.filter((g) => g.group !== FOLDED_GROUP).length).toBeLessThanOrEqual(15);
        const sum = (gs: typeof bucket) => gs.reduce((n, g) => n + g.count, 0);
        expect(sum(bucket)).toBe(sum(await unbounded.readWindow(query)));
      }
      // The fold holds every folded document (its count) and label (its confusion matrix).
      const all = await redisBudget.readWindow({ dimension: 'issuer', windowMs: 24 * 60 * MINUTE });
      const fold = all.find((g) => g.group === FOLDED_GROUP)!;
      const labels = Object.values(fold.confusion ?? {}).flatMap((row) => Object.values(row));
      expect(fold.count + labels.reduce((n, c) => n + c, 0)).toBe(folded);
      // Dimensions without a budget are untouched.
      expect(await redisBudget.readWindow({ dimension: 'region', windowMs: 60 * MINUTE })).toEqual(
        await unbounded.readWindow({ dimension: 'region', windowMs: 60 * MINUTE }),
      );
    } finally {
      await redisBudget.deleteAll();
    }
  });

  it('rejects the same bad batches, and a rejected call changes nothing', async () => {
    const store = new MemoryWindowStore(options);
    const good: StatsBatch = { partitionKey: 'p:0', lastOffset: '3', observations: [], labels: [] };
    for (const bad of [
      { ...good, lastOffset: '-1' },
      { ...good, partitionKey: 'p {0}' },
      {
        ...good,
        observations: [{ ...stream(1)[0]!.observations[0]!, eventTimeMs: Number.NaN }],
      },
      {
        ...good,
        observations: [
          { ...stream(1)[0]!.observations[0]!, groups: [{ dimension: 'region', value: 'a|b' }] },
        ],
      },
    ]) {
      await expect(onRedis.apply([good, bad])).rejects.toThrow();
      await expect(store.apply([good, bad])).rejects.toThrow();
    }
    expect(await store.partitions()).toEqual([]);
  });
});
