// Two evaluator replicas on the real Redis (lease, fence, alert store, window store), issue 14: "leader
// paused 1.2 s and its clock stepped back 5 s → both replicas believe they lead, both publish". The
// lease deadline is now on a monotonic clock and every publish checks the fence in Redis first, so
// only one replica publishes: (1) a leader paused past its lease, its wall clock stepped back 5 s,
// does not act; (2) a leader whose lease key was lost (a failover) while its local deadline is still
// valid does not publish the successor's outbox.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import type { AlertEvent } from '../../src/alerts/events.js';
import { Evaluator, trailingReference } from '../../src/alerts/evaluator.js';
import type { AlertPublisher } from '../../src/alerts/ports.js';
import { alertKeys } from '../../src/io/redis/leader-lease.js';
import { redisAlertPorts } from '../../src/io/redis/alert-ports.js';
import { AlertStore } from '../../src/io/redis/alert-store.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { observation, traffic } from '../helpers/alert-traffic.js';
import { redisUrl, uniqueName, waitFor } from '../helpers/stack.js';

const MINUTE = 60_000;
const LEASE_MS = 1_000;

class RecordingPublisher implements AlertPublisher {
  readonly events: AlertEvent[] = [];
  failing = false;
  publish(events: readonly AlertEvent[]): Promise<void> {
    if (this.failing) return Promise.reject(new Error('alerts topic unavailable'));
    this.events.push(...events);
    return Promise.resolve();
  }
}

const redis = new Redis(redisUrl());
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await new AlertStore(redis, p).clear();
  redis.disconnect();
});

/** A window store with one surging issuer among 12, and two replicas evaluating it. */
async function setUp(name: string) {
  const prefix = uniqueName(`fs-${name}`).replace(/[^A-Za-z0-9:_-]/g, '');
  prefixes.push(prefix);
  const store = new RedisWindowStore(redis, {
    keyPrefix: prefix,
    bucketMs: MINUTE,
    allowedLatenessMs: 3 * 3_600_000,
    ttlSeconds: 3600,
    dimensions: ['issuer'],
  });
  const T = Math.floor(Date.now() / MINUTE) * MINUTE;
  const issuers = Array.from({ length: 12 }, (_, i) => `${name}${i}`);
  const batch = [
    ...issuers.flatMap((g) => traffic(g, T - 65 * MINUTE, T - 5 * MINUTE, 300, 1)),
    ...issuers.flatMap((g, i) => traffic(g, T - 4 * MINUTE, T, 60, i === 0 ? 8 : 1)),
    observation(issuers[1]!, 'emea', T + 1_000, false),
  ].sort((a, b) => a.eventTimeMs - b.eventTimeMs);
  await store.apply([
    { partitionKey: `${prefix}-p0`, lastOffset: String(batch.length), observations: batch, labels: [] },
  ]);
  const rules = defaultAlertRules()
    .filter((r) => r.name === 'NegativeSentimentSurge')
    .map((r) => ({ ...r, for: 0 }));
  const replica = (id: string, wallClock: () => number) => {
    const publisher = new RecordingPublisher();
    const evaluator = new Evaluator({
      ...redisAlertPorts({ redis, keyPrefix: prefix, leaseMs: LEASE_MS, replicaId: id }),
      windows: store,
      reference: trailingReference(store, 3_600_000),
      rules,
      publishers: [publisher],
      intervalMs: 60_000,
      minSamples: 30,
      bucketMs: MINUTE,
      gaugeDimensions: [],
      gaugeWindows: [],
      now: wallClock,
    });
    return { evaluator, publisher };
  };
  return { prefix, store, replica, surging: issuers[0]! };
}

describe('leader lease and publish fence on Redis', () => {
  it('a leader paused past its lease with its wall clock stepped back 5 s does not publish', async () => {
    const { store, replica, surging } = await setUp('pause');
    const a = replica('a', () => Date.now());
    const b = replica('b', () => Date.now());
    try {
      await a.evaluator.lease.tick();
      await b.evaluator.lease.tick();
      expect([a.evaluator.lease.isLeader(), b.evaluator.lease.isLeader()]).toEqual([true, false]);
      // A pauses (no renewal) ~1.2 s; B takes the lease once it expires in Redis.
      const pausedAt = performance.now();
      await waitFor(
        async () => {
          await b.evaluator.lease.tick();
          return b.evaluator.lease.isLeader();
        },
        5_000,
        50,
      );
      while (performance.now() - pausedAt < 1_200) await new Promise((r) => setTimeout(r, 50));
      // A resumes with the process's wall clock stepped back 5 s (Date.now, which the lease deadline
      // used to be kept on).
      const wall = Date.now.bind(Date);
      const stepped = vi.spyOn(Date, 'now').mockImplementation(() => wall() - 5_000);
      let roundA;
      try {
        roundA = await a.evaluator.evaluateOnce();
      } finally {
        stepped.mockRestore();
      }
      await b.evaluator.lease.tick();
      const roundB = await b.evaluator.evaluateOnce();
      console.log(
        `LEADER pause 1.2 s + clock −5 s: A round ${roundA.outcome} (published ${a.publisher.events.length}), ` +
          `B round ${roundB.outcome} (published ${b.publisher.events.length}: ${b.publisher.events.map((e) => `${e.group}:${e.state}`).join(',')})`,
      );
      expect(roundA.outcome).toBe('follower');
      expect(a.publisher.events).toEqual([]);
      expect(roundB.outcome).toBe('ok');
      expect(b.publisher.events.map((e) => e.group)).toContain(surging);
    } finally {
      await a.evaluator.stop(true);
      await b.evaluator.stop(true);
      await store.deleteAll();
    }
  });

  it('a leader whose lease was lost does not publish the successor’s outbox, though its local deadline holds', async () => {
    const { prefix, store, replica, surging } = await setUp('fence');
    const a = replica('a', Date.now);
    const b = replica('b', Date.now);
    try {
      await a.evaluator.lease.tick();
      expect(a.evaluator.lease.isLeader()).toBe(true);
      // The lease key is lost (a failover to a replica that missed it); B acquires with a new token.
      await redis.del(alertKeys(prefix).lease);
      await b.evaluator.lease.tick();
      expect(b.evaluator.lease.isLeader()).toBe(true);
      expect(a.evaluator.lease.isLeader()).toBe(true); // locally: its deadline has not passed
      b.publisher.failing = true; // B commits its transitions but cannot publish them yet
      const roundB = await b.evaluator.evaluateOnce();
      const pending = (await new AlertStore(redis, prefix).outbox()).length;
      const roundA = await a.evaluator.evaluateOnce();
      const afterA = (await new AlertStore(redis, prefix).outbox()).length;
      b.publisher.failing = false;
      await b.evaluator.lease.tick(); // renew: the rounds above may have outlasted the 1 s lease
      const drained = await b.evaluator.evaluateOnce();
      console.log(
        `LEADER lease lost: B committed ${roundB.transitions.length} (outbox ${pending}); A round ${roundA.outcome}, ` +
          `published ${a.publisher.events.length}, outbox after A ${afterA}; B then published ${drained.published}`,
      );
      expect(pending).toBeGreaterThan(0);
      expect(a.publisher.events).toEqual([]);
      expect(afterA).toBe(pending);
      expect(roundA.outcome).toBe('fenced');
      expect(drained.published).toBe(pending);
      expect(b.publisher.events.map((e) => e.group)).toContain(surging);
    } finally {
      await a.evaluator.stop(true);
      await b.evaluator.stop(true);
      await store.deleteAll();
    }
  });
});
