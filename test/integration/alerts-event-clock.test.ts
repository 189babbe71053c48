import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import { Evaluator, trailingReference } from '../../src/alerts/evaluator.js';
import { redisAlertPorts } from '../../src/io/redis/alert-ports.js';
import { AlertStore } from '../../src/io/redis/alert-store.js';
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
      ...redisAlertPorts({ redis, keyPrefix: prefix, leaseMs: 10_000 }),
      windows: store,
      reference: trailingReference(store, 3_600_000),
      rules: [rule],
      publishers: [],
      intervalMs: 60_000, // rounds are driven by the test
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

  it('holds `for` in event time, steps through every bucket end the watermark passed, stamps them on transitions', async () => {
    // Nothing stored yet: no event time, nothing is stepped.
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);

    await apply(
      [SURGING, ...CALM].flatMap((issuer) => traffic(issuer, T - 65 * MINUTE, T - 5 * MINUTE, 300, 1)),
    );
    await apply([
      ...traffic(SURGING, T - 4 * MINUTE, T - 5_000, 60, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T - 4 * MINUTE, T - 5_000, 60, 1)),
    ]);
    const watermark1 = await store.watermark();
    expect(watermark1).toBeLessThan(T);
    expect(watermark1).toBeGreaterThan(T - MINUTE);

    // Windows end at the last complete bucket, [T-6m, T-1m): event time "now" is T-1m.
    const first = await evaluator.evaluateOnce();
    expect(first.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'pending']]);
    expect(first.transitions[0]!.record.activeSinceMs).toBe(T - MINUTE);

    // Wall time passes but no traffic arrives: event time stands still, the alert stays pending.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);
    // Traffic that stays inside the bucket being filled does not move the clock either.
    await apply([
      ...traffic(SURGING, T - 4_000, T - 1_000, 3, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T - 4_000, T - 1_000, 3, 1)),
    ]);
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);

    // The bucket [T-1m, T) completes: one minute of event time since the pending start, firing at T.
    await apply([
      ...traffic(SURGING, T, T + 30_000, 10, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T, T + 30_000, 10, 1)),
    ]);
    const firing = await evaluator.evaluateOnce();
    expect(firing.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'firing']]);
    expect(firing.transitions[0]!.record).toMatchObject({ activeSinceMs: T - MINUTE, startedAtMs: T });

    // Calm traffic up to T+8m: one round evaluates every bucket end from T+1m to T+7m in order,
    // and the alert resolves at the first one whose 5-minute window has left the surge behind.
    await apply([SURGING, ...CALM].flatMap((issuer) => traffic(issuer, T + 30_000, T + 8 * MINUTE, 90, 1)));
    const resolved = await evaluator.evaluateOnce();
    expect(resolved.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'resolved']]);
    const endedAt = resolved.transitions[0]!.record.endedAtMs!;
    expect(endedAt % MINUTE).toBe(0);
    expect(endedAt).toBeGreaterThan(T + MINUTE);
    expect(endedAt).toBeLessThan(T + 7 * MINUTE);
    // Every alert time is an event time, a day away from the wall clock.
    expect(Date.now() - endedAt).toBeGreaterThan(20 * 3_600_000);
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
  let p1Lag = 0;

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
      ...redisAlertPorts({ redis, keyPrefix: prefix, leaseMs: 10_000 }),
      windows: store,
      reference: trailingReference(store, 3_600_000),
      rules: [rule],
      publishers: [],
      intervalMs: 60_000,
      minSamples: 30,
      bucketMs: MINUTE,
      gaugeDimensions: [{ name: 'issuer', bounded: false }],
      gaugeWindows: [5 * MINUTE],
      clock: 'event',
      idlePartitionMs: 1_000,
      // p1's consumer lag, as the Kafka offsets would tell it.
      pipelineSignals: () =>
        Promise.resolve({
          dlqRate: 0,
          dlqShare: 0,
          consumerLag: p1Lag,
          stalledSeconds: 0,
          inputRate: 0,
          partitionLag: { [`${prefix}-p1`]: p1Lag },
        }),
    });
    await evaluator.lease.tick();
  });

  afterAll(async () => {
    await evaluator?.stop(true);
    await new AlertStore(redis, prefix).clear();
    await store.deleteAll();
    redis.disconnect();
  });

  it('reads windows as far as the slowest partition got, and past one that went idle (not one with a backlog)', async () => {
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

    // p1 stops advancing with records still waiting (a backlog): behind, not idle, it holds them back.
    p1Lag = 500;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);
    // Nothing waiting and unchanged for longer than idlePartitionMs: idle, and the surge shows.
    p1Lag = 0;
    const round = await evaluator.evaluateOnce();
    const fired = [...(await new AlertStore(redis, prefix).load()).values()];
    expect(fired.map((r) => [r.group, r.state])).toEqual([[SURGING, 'firing']]);
    // The round stepped through the bucket ends from p1's watermark to p0's: the surge shows at one
    // inside it (the surge starts at T-4m; windows end at most at T-1m, the last complete bucket).
    expect(fired[0]!.activeSinceMs).toBeGreaterThanOrEqual(T - 3 * MINUTE);
    expect(fired[0]!.activeSinceMs).toBeLessThanOrEqual(T - MINUTE);
    expect(round.outcome).toBe('ok');
  });
});
