import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import { Evaluator, trailingReference } from '../../src/alerts/evaluator.js';
import { AlertStore } from '../../src/alerts/store.js';
import type { StatsObservation } from '../../src/domain/observation.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { byEventTime, traffic } from '../helpers/alert-traffic.js';
import { redisUrl, uniqueName } from '../helpers/stack.js';

/**
 * `evaluator.clock: event` on the real window store: alert states run on the statistics' watermark,
 * so a `for: 1m` rule fires once one minute of *traffic* has held the condition, with no wall-clock
 * wait, and every alert time is an event time (here a day in the past), as a replay at high speed
 * needs (test/integration/scenarios.test.ts relies on it).
 */

const MINUTE = 60_000;
const RUN = uniqueName('clock').replace(/-/g, '');
const SURGING = `acme${RUN}`;
const CALM = [`beta${RUN}`, `gamma${RUN}`, `delta${RUN}`];

describe('evaluator on the event-time clock', () => {
  const prefix = uniqueName('fs-clock').replace(/[^A-Za-z0-9:_-]/g, '');
  const redis = new Redis(redisUrl());
  const store = new RedisWindowStore(redis, {
    keyPrefix: prefix,
    bucketMs: MINUTE,
    allowedLatenessMs: 3 * 3_600_000,
    ttlSeconds: 4 * 3600,
    dimensions: ['issuer', 'region'],
  });
  let evaluator: Evaluator;
  // The surge rule exactly as shipped (for: 1m): the clock, not a shortened `for`, keeps this fast.
  const rule = defaultAlertRules().find((r) => r.name === 'NegativeSentimentSurge')!;
  // A day before now, on a bucket boundary: event time and wall time are far apart.
  const T = Math.floor((Date.now() - 86_400_000) / MINUTE) * MINUTE;
  let offset = 0;

  async function apply(observations: StatsObservation[]): Promise<void> {
    byEventTime(observations);
    offset += observations.length;
    await store.apply([
      { partitionKey: `${prefix}-p0`, lastOffset: String(offset), observations, labels: [] },
    ]);
  }

  beforeAll(async () => {
    evaluator = new Evaluator({
      redis,
      keyPrefix: prefix,
      windows: store,
      reference: trailingReference(store, 3_600_000),
      rules: [rule],
      publishers: [],
      intervalMs: 60_000, // rounds are driven by the test
      leaseMs: 10_000,
      minSamples: 30,
      bucketMs: MINUTE,
      gaugeDimensions: [{ name: 'issuer', bounded: false }],
      gaugeWindows: [5 * MINUTE],
      clock: 'event',
    });
    await evaluator.lease.tick();
    expect(evaluator.lease.isLeader()).toBe(true);
  });

  afterAll(async () => {
    await evaluator?.stop(true);
    await new AlertStore(redis, prefix).clear();
    await store.deleteAll();
    redis.disconnect();
  });

  it('holds `for` in event time and stamps transitions with the watermark', async () => {
    // Nothing stored yet: no event time, nothing is stepped.
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);

    await apply(
      [SURGING, ...CALM].flatMap((issuer) => traffic(issuer, T - 65 * MINUTE, T - 5 * MINUTE, 300, 1)),
    );
    await apply([
      ...traffic(SURGING, T - 4 * MINUTE, T, 60, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T - 4 * MINUTE, T, 60, 1)),
    ]);
    const watermark1 = await store.watermark();
    expect(watermark1).toBeLessThan(T);
    expect(watermark1).toBeGreaterThan(T - MINUTE);

    const first = await evaluator.evaluateOnce();
    expect(first.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'pending']]);
    expect(first.transitions[0]!.record.activeSinceMs).toBe(watermark1);

    // Wall time passes but no traffic arrives: event time stands still, the alert stays pending.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);

    // Half a minute more of surge traffic: still under the rule's `for` of one minute.
    await apply([
      ...traffic(SURGING, T, T + 30_000, 10, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T, T + 30_000, 10, 1)),
    ]);
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);

    // Past one minute of event time since the pending start: firing, at the watermark.
    await apply([
      ...traffic(SURGING, T + 30_000, T + 90_000, 20, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T + 30_000, T + 90_000, 20, 1)),
    ]);
    const watermark2 = await store.watermark();
    expect(watermark2 - watermark1).toBeGreaterThanOrEqual(rule.for);
    const firing = await evaluator.evaluateOnce();
    expect(firing.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'firing']]);
    expect(firing.transitions[0]!.record).toMatchObject({
      activeSinceMs: watermark1,
      startedAtMs: watermark2,
    });

    // Six calm minutes move the 5-minute window past the surge: resolved, at the watermark.
    await apply(
      [SURGING, ...CALM].flatMap((issuer) => traffic(issuer, T + 2 * MINUTE, T + 8 * MINUTE, 60, 1)),
    );
    const watermark3 = await store.watermark();
    const resolved = await evaluator.evaluateOnce();
    expect(resolved.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'resolved']]);
    expect(resolved.transitions[0]!.record.endedAtMs).toBe(watermark3);
    // Every alert time is an event time, a day away from the wall clock.
    expect(Date.now() - watermark3).toBeGreaterThan(20 * 3_600_000);
  });
});

describe('evaluation watermark across partitions', () => {
  const prefix = uniqueName('fs-wm').replace(/[^A-Za-z0-9:_-]/g, '');
  const redis = new Redis(redisUrl());
  const store = new RedisWindowStore(redis, {
    keyPrefix: prefix,
    bucketMs: MINUTE,
    allowedLatenessMs: 3 * 3_600_000,
    ttlSeconds: 4 * 3600,
    dimensions: ['issuer', 'region'],
  });
  const rule = { ...defaultAlertRules().find((r) => r.name === 'NegativeSentimentSurge')!, for: 0 };
  const T = Math.floor((Date.now() - 86_400_000) / MINUTE) * MINUTE;
  const offsets = new Map<string, number>();
  let evaluator: Evaluator;

  async function apply(partition: string, observations: StatsObservation[]): Promise<void> {
    byEventTime(observations);
    offsets.set(partition, (offsets.get(partition) ?? 0) + observations.length);
    await store.apply([
      {
        partitionKey: `${prefix}-${partition}`,
        lastOffset: String(offsets.get(partition)),
        observations,
        labels: [],
      },
    ]);
  }

  beforeAll(async () => {
    evaluator = new Evaluator({
      redis,
      keyPrefix: prefix,
      windows: store,
      reference: trailingReference(store, 3_600_000),
      rules: [rule],
      publishers: [],
      intervalMs: 60_000,
      leaseMs: 10_000,
      minSamples: 30,
      bucketMs: MINUTE,
      gaugeDimensions: [{ name: 'issuer', bounded: false }],
      gaugeWindows: [5 * MINUTE],
      clock: 'event',
      idlePartitionMs: 1_000,
    });
    await evaluator.lease.tick();
  });

  afterAll(async () => {
    await evaluator?.stop(true);
    await new AlertStore(redis, prefix).clear();
    await store.deleteAll();
    redis.disconnect();
  });

  it('reads windows as far as the slowest advancing partition got, and past a partition that went idle', async () => {
    // Partition p0 carries a calm history and then a surge that p1 (running behind) has not reached.
    const history = [SURGING, ...CALM].flatMap((issuer) =>
      traffic(issuer, T - 65 * MINUTE, T - 20 * MINUTE, 300, 1),
    );
    await apply('p0', history);
    await apply('p1', traffic(`other${RUN}`, T - 65 * MINUTE, T - 20 * MINUTE, 100, 1));
    await apply('p0', [
      ...traffic(SURGING, T - 4 * MINUTE, T, 60, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T - 4 * MINUTE, T, 60, 1)),
    ]);
    const lagging = (await store.partitionWatermarks()).get(`${prefix}-p1`)!;
    expect(lagging).toBeLessThan(T - 19 * MINUTE);
    expect(await store.watermark()).toBeGreaterThan(T - MINUTE);

    // As of p1's watermark the surge is in the future: nothing to report yet.
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);

    // p1 stops advancing: once idle it no longer holds the windows back and the surge shows.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await evaluator.evaluateOnce(); // sees p1 unchanged for longer than idlePartitionMs
    const round = await evaluator.evaluateOnce();
    const fired = [...(await new AlertStore(redis, prefix).load()).values()];
    expect(fired.map((r) => [r.group, r.state])).toEqual([[SURGING, 'firing']]);
    expect(fired[0]!.activeSinceMs).toBeGreaterThan(T - MINUTE);
    expect(round.outcome).toBe('ok');
  });
});
