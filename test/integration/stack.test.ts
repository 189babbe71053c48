// Proves that the local stack pairs with the client libraries the service uses: kafkajs (the
// project's version) against Kafka 3.9 in KRaft mode, and ioredis against Redis and Redis Cluster.
import { afterAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';
import { Cluster, Redis } from 'ioredis';
import {
  createTopic,
  deleteTopics,
  kafkaBrokers,
  redisClusterNodes,
  redisUrl,
  uniqueName,
  waitFor,
} from '../helpers/stack.js';

const createdTopics: string[] = [];

afterAll(async () => {
  await deleteTopics(createdTopics);
});

describe('local Kafka with kafkajs', () => {
  it('produces idempotently with gzip and consumes in a group with eachBatch and manual commits', async () => {
    const topic = await createTopic(uniqueName('stack-test'), 4);
    createdTopics.push(topic);
    const groupId = uniqueName('stack-test-group');
    const kafka = new Kafka({
      clientId: 'finsentry-stack-test',
      brokers: kafkaBrokers(),
      logLevel: logLevel.WARN,
    });

    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const sent = Array.from({ length: 40 }, (_, index) => ({
      key: `key-${index % 7}`,
      value: `message-${index}`,
    }));
    const results = await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      acks: -1,
      messages: sent,
    });
    await producer.disconnect();
    expect(results.every((result) => result.errorCode === 0)).toBe(true);
    // Keys spread over more than one of the 4 partitions.
    expect(new Set(results.map((result) => result.partition)).size).toBeGreaterThan(1);

    const received: string[] = [];
    const committedByPartition = new Map<number, string>();
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        for (const message of batch.messages) {
          received.push(message.value?.toString('utf8') ?? '');
          resolveOffset(message.offset);
        }
        const next = (BigInt(batch.lastOffset()) + 1n).toString();
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
        committedByPartition.set(batch.partition, next);
        await heartbeat();
      },
    });
    try {
      await waitFor(() => received.length >= sent.length, 60_000);
    } finally {
      await consumer.disconnect();
    }
    expect([...received].sort()).toEqual(sent.map((message) => message.value).sort());

    const admin = kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committedOffsets = new Map(
        committed?.partitions.map((partition) => [partition.partition, partition.offset]),
      );
      for (const [partition, offset] of committedByPartition) {
        expect(committedOffsets.get(partition)).toBe(offset);
      }
      const totalCommitted = [...committedByPartition.values()].reduce(
        (sum, offset) => sum + Number(offset),
        0,
      );
      expect(totalCommitted).toBe(sent.length);
      await admin.deleteGroups([groupId]);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('local Redis with ioredis', () => {
  it('reads back what it writes on the single node', async () => {
    const redis = new Redis(redisUrl());
    const key = uniqueName('finsentry-test:stack');
    try {
      await redis.set(key, 'value', 'EX', 60);
      expect(await redis.get(key)).toBe('value');
      expect(await redis.incrby(`${key}:counter`, 5)).toBe(5);
    } finally {
      await redis.del(key, `${key}:counter`);
      redis.disconnect();
    }
  });

  it('runs a hash-tagged MULTI in one slot of the 3-node cluster', async () => {
    const cluster = new Cluster(redisClusterNodes());
    const tag = `{${uniqueName('finsentry-test')}}`;
    const keys = [`${tag}:a`, `${tag}:b`];
    try {
      await waitFor(async () => (await cluster.cluster('INFO')).includes('cluster_state:ok'), 30_000);
      expect(cluster.nodes('master')).toHaveLength(3);
      const results = await cluster
        .multi()
        .incrby(keys[0]!, 2)
        .hset(keys[1]!, 'field', 'x')
        .expire(keys[0]!, 60)
        .exec();
      expect(results?.map(([error]) => error)).toEqual([null, null, null]);
      expect(results?.[0]?.[1]).toBe(2);
      expect(await cluster.hget(keys[1]!, 'field')).toBe('x');
      // Keys without the common hash tag land in different slots and a MULTI across them is refused.
      await expect(
        cluster.multi().set(uniqueName('a'), '1').set(uniqueName('b'), '2').exec(),
      ).rejects.toThrow(/CROSSSLOT|slot/i);
    } finally {
      await cluster.del(...keys);
      cluster.disconnect();
    }
  });
});
