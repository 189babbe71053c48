import { Cluster, Redis } from 'ioredis';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAlertEvent, type AlertEvent } from '../../src/alerts/events.js';
import { Evaluator, trailingReference } from '../../src/alerts/evaluator.js';
import { LeaderLease } from '../../src/io/redis/leader-lease.js';
import { PipelineSignalTracker, readOffsetSnapshot } from '../../src/alerts/pipeline-signals.js';
import { redisAlertPorts } from '../../src/io/redis/alert-ports.js';
import { kafkaAlertPublisher } from '../../src/io/kafka/alert-publisher.js';
import { AlertStore } from '../../src/io/redis/alert-store.js';
import { parseConfig } from '../../src/config/load.js';
import type { WindowReader } from '../../src/domain/windows.js';
import {
  createTopic,
  deleteTopics,
  kafkaBrokers,
  redisClusterNodes,
  redisUrl,
  uniqueName,
  waitFor,
} from '../helpers/stack.js';

/**
 * Three evaluator replicas against the real Redis and Kafka. The alert is a pipeline rule on the
 * consumer lag of a real consumer group (read through the Kafka admin API), so the whole path is
 * real: lag appears when records are produced, disappears when the group commits. No statistics are
 * involved, so the window reader is one that honestly holds nothing (watermark 0).
 */
const noWindows: WindowReader = {
  watermark: async () => 0,
  readWindow: async () => [],
  readSeries: async () => [],
  lateCount: async () => 0,
};

const LEASE_MS = 2_000;

describe('evaluator leader election with 3 replicas', () => {
  const prefix = uniqueName('fs-leader');
  const inputTopic = uniqueName('leader-in');
  const dlqTopic = uniqueName('leader-dlq');
  const alertsTopic = uniqueName('leader-alerts');
  const groupId = uniqueName('leader-group');
  const kafka = new Kafka({ clientId: 'leader-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer;
  const received: AlertEvent[] = [];
  const replicas: Array<{
    evaluator: Evaluator;
    redis: Redis;
    admin: Admin;
    producer: Producer;
    killed: boolean;
  }> = [];
  const rules = parseConfig(
    {
      alerts: {
        rules: [
          {
            name: 'ConsumerLagHigh',
            kind: 'pipeline',
            metric: 'consumer_lag',
            comparison: '>',
            threshold: 50,
            resolveThreshold: 10,
            for: '1s',
            severity: 'warning',
            summary: 'lag {{value}}',
          },
        ],
      },
    },
    {},
  ).alerts!.rules;

  beforeAll(async () => {
    await createTopic(inputTopic, 2);
    await createTopic(dlqTopic, 1);
    await createTopic(alertsTopic, 1);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
    consumer = kafka.consumer({ groupId: uniqueName('leader-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: alertsTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push(decodeAlertEvent(message.value!));
      },
    });
    for (let i = 0; i < 3; i++) {
      const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1, lazyConnect: false });
      const replicaAdmin = kafka.admin();
      await replicaAdmin.connect();
      const replicaProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await replicaProducer.connect();
      const tracker = new PipelineSignalTracker(60_000);
      const evaluator = new Evaluator({
        ...redisAlertPorts({ redis, keyPrefix: prefix, leaseMs: LEASE_MS, replicaId: `replica-${i}` }),
        windows: noWindows,
        reference: trailingReference(noWindows, 3_600_000),
        rules,
        publishers: [kafkaAlertPublisher(replicaProducer, alertsTopic)],
        pipelineSignals: async () =>
          tracker.push(
            await readOffsetSnapshot({ admin: replicaAdmin, groupId, inputTopics: [inputTopic], dlqTopic }),
          ),
        intervalMs: 250,
        minSamples: 1,
        bucketMs: 60_000,
        gaugeDimensions: [],
        gaugeWindows: [],
      });
      replicas.push({ evaluator, redis, admin: replicaAdmin, producer: replicaProducer, killed: false });
    }
    for (const r of replicas) r.evaluator.start();
  });

  afterAll(async () => {
    for (const r of replicas) {
      if (!r.killed) await r.evaluator.stop(true);
      await r.producer.disconnect();
      await r.admin.disconnect();
      if (r.redis.status !== 'end') {
        await new AlertStore(r.redis, prefix).clear();
        r.redis.disconnect();
      }
    }
    await consumer?.disconnect();
    await producer?.disconnect();
    await admin?.disconnect();
    await deleteTopics([inputTopic, dlqTopic, alertsTopic]);
  });

  const leaders = () => replicas.filter((r) => !r.killed && r.evaluator.lease.isLeader());
  const eventsFor = (state: string) =>
    received.filter((e) => e.rule === 'ConsumerLagHigh' && e.state === state);

  it('one leader fires once; after the leader is killed another takes over without re-firing and resolves once', async () => {
    const first = await waitFor(() => (leaders().length === 1 ? leaders()[0] : undefined), 15_000);
    const firstToken = first.evaluator.lease.current()!.token;
    expect(leaders()).toHaveLength(1);

    // 120 records nobody consumed: lag 120 > 50 → pending → firing (for = 1 s)
    await producer.send({
      topic: inputTopic,
      messages: Array.from({ length: 120 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });
    await waitFor(() => eventsFor('firing').length === 1, 30_000);
    expect(eventsFor('pending')).toHaveLength(1);

    // Kill the leader mid-alert: no more renewals, connection closed, lease NOT released.
    first.killed = true;
    await first.evaluator.stop(false);
    first.redis.disconnect();
    const killedAt = Date.now();

    const second = await waitFor(() => (leaders().length === 1 ? leaders()[0] : undefined), 15_000);
    expect(second).not.toBe(first);
    const secondToken = second.evaluator.lease.current()!.token;
    expect(secondToken).toBeGreaterThan(firstToken);
    // The successor could only acquire after the dead leader's lease expired in Redis (no overlap).
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE_MS - 1_000);

    // Let the new leader evaluate a few rounds with the alert still firing: it must not re-fire.
    await waitFor(async () => (await second.evaluator.evaluateOnce()).outcome === 'ok', 10_000);
    await second.evaluator.evaluateOnce();
    expect(eventsFor('firing')).toHaveLength(1);

    // The group catches up (commits the end offsets): lag 0 → resolved, exactly once.
    const ends = await admin.fetchTopicOffsets(inputTopic);
    await admin.setOffsets({
      groupId,
      topic: inputTopic,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    });
    await waitFor(() => eventsFor('resolved').length >= 1, 30_000);
    // a few more rounds on whichever replica leads now: still exactly one of each
    const leaderNow = await waitFor(() => leaders()[0], 10_000);
    await leaderNow.evaluator.evaluateOnce();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(eventsFor('pending')).toHaveLength(1);
    expect(eventsFor('firing')).toHaveLength(1);
    expect(eventsFor('resolved')).toHaveLength(1);
    const [firing] = eventsFor('firing');
    const [resolved] = eventsFor('resolved');
    expect(resolved!.fingerprint).toBe(firing!.fingerprint);
    expect(resolved!.started_at).toBe(firing!.started_at);
    expect(resolved!.ended_at).toBeGreaterThanOrEqual(resolved!.started_at);
    expect(Number(resolved!.labels.fencing_token)).toBeGreaterThan(Number(firing!.labels.fencing_token));
  });

  it('fences a stale leader: its writes are refused once a successor holds the lease', async () => {
    const p = uniqueName('fs-fence');
    const a = new Redis(redisUrl());
    const b = new Redis(redisUrl());
    try {
      const leaseA = new LeaderLease({ redis: a, keyPrefix: p, leaseMs: 300, replicaId: 'a' });
      const leaseB = new LeaderLease({ redis: b, keyPrefix: p, leaseMs: 300, replicaId: 'b' });
      await leaseA.tick();
      const termA = leaseA.current()!;
      expect(termA).not.toBeNull();
      await leaseB.tick();
      expect(leaseB.isLeader()).toBe(false); // A's lease is live
      const store = new AlertStore(a, p);
      expect(await store.commit(termA, [], [], [])).toBe(true);
      // A "pauses" past its lease; B takes over with a larger token.
      await waitFor(
        async () => {
          await leaseB.tick();
          return leaseB.isLeader();
        },
        5_000,
        50,
      );
      expect(leaseB.current()!.token).toBeGreaterThan(termA.token);
      expect(await store.commit(termA, [], [], [])).toBe(false);
      expect(await new AlertStore(b, p).commit(leaseB.current()!, [], [], [])).toBe(true);
      // A's renewal fails (compare-and-extend) and it steps down; its release cannot delete B's lease.
      await leaseA.tick();
      expect(leaseA.isLeader()).toBe(false);
      await leaseA.stop(true);
      await leaseB.tick();
      expect(leaseB.isLeader()).toBe(true);
      await leaseB.stop(true);
      expect(await a.exists(`${p}:{alerts}:leader`)).toBe(0);
    } finally {
      await new AlertStore(a, p).clear();
      a.disconnect();
      b.disconnect();
    }
  });

  it('works on Redis Cluster: lease, fencing and state writes share one slot', async () => {
    const p = uniqueName('fs-cluster');
    const a = new Cluster(redisClusterNodes());
    const b = new Cluster(redisClusterNodes());
    try {
      const leaseA = new LeaderLease({ redis: a, keyPrefix: p, leaseMs: 300, replicaId: 'a' });
      const leaseB = new LeaderLease({ redis: b, keyPrefix: p, leaseMs: 300, replicaId: 'b' });
      await leaseA.tick();
      await leaseB.tick();
      expect([leaseA.isLeader(), leaseB.isLeader()]).toEqual([true, false]);
      const termA = leaseA.current()!;
      const storeA = new AlertStore(a, p);
      const record = {
        fingerprint: 'f1',
        rule: 'R',
        severity: 'warning' as const,
        dimension: 'issuer',
        group: 'acme',
        state: 'firing' as const,
        value: 0.9,
        threshold: 0.5,
        windowMs: 300_000,
        sampleSize: 40,
        pValue: null,
        activeSinceMs: 1,
        startedAtMs: 2,
        endedAtMs: null,
        changedAtMs: 2,
        summary: 's',
        runbookUrl: '',
      };
      expect(await storeA.commit(termA, [record], [], [])).toBe(true);
      await waitFor(
        async () => {
          await leaseB.tick();
          return leaseB.isLeader();
        },
        5_000,
        50,
      );
      expect(await storeA.commit(termA, [{ ...record, state: 'resolved' }], [], [])).toBe(false);
      const seenByB = await new AlertStore(b, p).load();
      expect(seenByB.get('f1')?.state).toBe('firing');
      await leaseB.stop(true);
    } finally {
      await new AlertStore(a, p).clear();
      a.disconnect();
      b.disconnect();
    }
  });
});
