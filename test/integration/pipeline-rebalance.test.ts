// Consumer-group rebalances on the real broker: a second replica joins mid-stream and the first one
// leaves mid-stream; every input still comes out enriched (duplicates allowed) and the window store
// counts each document exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnriched } from '../../src/codec/enriched.js';
import { parseConfig } from '../../src/config/load.js';
import { createRedisClient } from '../../src/io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../src/io/redis/window-store.js';
import { PipelineService } from '../../src/app/pipeline.js';
import { buildObservation } from '../../src/stats/grouping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  committedOffsets,
  encodeChat,
  encodeNews,
  chat,
  highWatermarks,
  news,
  produce,
  readAll,
  testKafka,
} from '../helpers/avro-producer.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';
import { TestEnricher } from '../helpers/test-enricher.js';

const kafka = testKafka();
const base = uniqueName('fs-rebal');
const topics = {
  news: `${base}.news`,
  chat: `${base}.chat`,
  labels: null,
  enriched: `${base}.enriched`,
  dlq: `${base}.dlq`,
  alerts: `${base}.alerts`,
};
const groupId = uniqueName('fs-rebal-group');
const config = parseConfig(
  {
    kafka: { brokers: kafkaBrokers(), groupId, topics, sessionTimeout: '10s' },
    redis: { url: redisUrl(), keyPrefix: uniqueName('fsreb').replace(/-/g, '_') },
    batching: { maxBatchSize: 4, maxInFlightBatches: 2, maxQueuedDocuments: 32 },
  },
  {},
);
const redis = createRedisClient(config.redis);
const store = new RedisWindowStore(redis, windowStoreOptions(config));

function replica(): PipelineService {
  return new PipelineService(config, {
    kafka,
    enricher: new TestEnricher(15),
    stats: store,
    buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, config.stats.dimensions),
    authorKey: 'rebalance-test-author-key-000001',
    logger: createLogger('error'),
    pipelineVersion: 'test',
    backoff: { initialMs: 50, maxMs: 400 },
  });
}

async function committedAll(): Promise<boolean> {
  for (const topic of [topics.news, topics.chat]) {
    const [committed, high] = await Promise.all([
      committedOffsets(kafka, groupId, topic),
      highWatermarks(kafka, topic),
    ]);
    for (const [partition, hw] of high) if (hw > 0n && (committed.get(partition) ?? -1n) < hw) return false;
  }
  return true;
}

const produced = new Set<string>();
async function produceRound(round: number, size: number): Promise<void> {
  const newsMessages = [];
  const chatMessages = [];
  for (let i = 0; i < size; i++) {
    const id = `rb-${round}-${i}`;
    produced.add(id);
    const t = Date.UTC(2026, 0, 5, 11, 0) + round * 1000 + i;
    if (i % 2 === 0) newsMessages.push({ key: id, value: encodeNews(news(id, { published_at: t })) });
    else chatMessages.push({ key: id, value: encodeChat(chat(id, { sent_at: t })) });
  }
  await produce(kafka, topics.news, newsMessages);
  await produce(kafka, topics.chat, chatMessages);
}

afterAll(async () => {
  await deleteTopics([topics.news, topics.chat, topics.enriched, topics.dlq]);
  let cursor = '0';
  do {
    const [next, keys] = await (redis as import('ioredis').Redis).scan(
      cursor,
      'MATCH',
      `${config.redis.keyPrefix}:*`,
      'COUNT',
      1000,
    );
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
});

describe('rebalances', () => {
  it('a replica joining and another leaving mid-stream lose nothing and count nothing twice', async () => {
    for (const t of [topics.news, topics.chat, topics.enriched, topics.dlq]) await createTopic(t, 4);
    let round = 0;
    await produceRound(round++, 40);

    const a = replica();
    await a.start();
    let b: PipelineService | null = null;
    try {
      await waitFor(() => a.processor.counters.enriched >= 10, 60_000, 20);
      await produceRound(round++, 40);
      b = replica();
      await b.start(); // rebalance: partitions move from a to b while a may have batches in flight
      await waitFor(() => b!.ready, 60_000, 20);
      // New input lands on every partition, so the new member has work of its own.
      await produceRound(round++, 40);
      await waitFor(() => b!.processor.counters.enriched > 0, 60_000, 20);
      await produceRound(round++, 40);
      expect(await a.stop(30_000)).toBe(true); // rebalance again: a leaves, b takes everything
      await produceRound(round++, 40);
      await waitFor(committedAll, 120_000, 250);
    } finally {
      if (b) expect(await b.stop(30_000)).toBe(true);
      await a.stop(30_000);
    }

    const enriched = (await readAll(kafka, topics.enriched)).map((r) => decodeEnriched(r.message.value!));
    expect(new Set(enriched.map((d) => d.id))).toEqual(produced);
    const groups = await store.readWindow({ dimension: 'kind', windowMs: 86_400_000 });
    expect(groups.reduce((n, g) => n + g.count, 0)).toBe(produced.size);
  });
});
