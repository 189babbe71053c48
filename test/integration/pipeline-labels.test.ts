// Delayed human labels on the real broker and Redis: labels are joined to the remembered predictions
// and counted in the window store's confusion matrices per group; labels without a known prediction
// are not counted, invalid ones go to the DLQ.
import { afterAll, describe, expect, it } from 'vitest';
import { schemaType } from '../../src/codec/schemas.js';
import type { LabelRecord } from '../../src/codec/records.js';
import { parseConfig } from '../../src/config/load.js';
import type { SentimentLabel } from '../../src/domain/enrichment.js';
import { createRedisClient } from '../../src/io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../src/io/redis/window-store.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import { LabelJoinSink, RedisPredictionIndex } from '../../src/pipeline/label-join.js';
import { PipelineService } from '../../src/app/pipeline.js';
import { buildObservation } from '../../src/stats/grouping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  committedOffsets,
  encodeNews,
  highWatermarks,
  news,
  produce,
  readAll,
  testKafka,
} from '../helpers/avro-producer.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';
import { expectedLabel, TestEnricher } from '../helpers/test-enricher.js';

const kafka = testKafka();
const base = uniqueName('fs-labels');
const topics = {
  news: `${base}.news`,
  chat: `${base}.chat`,
  labels: `${base}.labels`,
  enriched: `${base}.enriched`,
  dlq: `${base}.dlq`,
  alerts: `${base}.alerts`,
};
const groupId = uniqueName('fs-labels-group');
const config = parseConfig(
  {
    kafka: { brokers: kafkaBrokers(), groupId, topics, sessionTimeout: '10s' },
    redis: { url: redisUrl(), keyPrefix: uniqueName('fslab').replace(/-/g, '_') },
    batching: { maxBatchSize: 8, maxInFlightBatches: 2 },
  },
  {},
);
const redis = createRedisClient(config.redis);

async function committedAll(topicNames: string[]): Promise<boolean> {
  for (const topic of topicNames) {
    const [committed, high] = await Promise.all([
      committedOffsets(kafka, groupId, topic),
      highWatermarks(kafka, topic),
    ]);
    for (const [partition, hw] of high) if (hw > 0n && (committed.get(partition) ?? -1n) < hw) return false;
  }
  return true;
}

afterAll(async () => {
  await deleteTopics(Object.values(topics).filter((t) => t !== topics.alerts));
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

describe('labels joined to predictions', () => {
  it('counts confusion matrices per group from delayed labels', async () => {
    for (const t of [topics.news, topics.chat, topics.labels]) await createTopic(t, 2);
    await createTopic(topics.enriched, 2);
    await createTopic(topics.dlq, 1);

    const store = new RedisWindowStore(redis, windowStoreOptions(config));
    const predictions = new RedisPredictionIndex(redis, config.redis.keyPrefix, 3600);
    const labelSink = new LabelJoinSink(predictions, store, createLogger('error'));
    const service = new PipelineService(config, {
      kafka,
      enricher: new TestEnricher(),
      stats: store,
      buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, config.stats.dimensions),
      labels: labelSink,
      predictions,
      authorKey: 'labels-test-author-key-00000001',
      logger: createLogger('error'),
      pipelineVersion: 'test',
      backoff: { initialMs: 50, maxMs: 400 },
    });

    const headlines = [
      'Acme Corp shares plunge on fraud probe',
      'Acme Corp beats estimates on record profit',
      'Acme Corp holds annual meeting',
    ];
    const docs = Array.from({ length: 18 }, (_, i) =>
      news(`lab-${i}`, {
        published_at: Date.UTC(2026, 0, 5, 9, 0) + i * 1000,
        headline: headlines[i % 3]!,
        body: 'Statement follows.',
      }),
    );
    await produce(
      kafka,
      topics.news,
      docs.map((d) => ({ key: d.id, value: encodeNews(d) })),
    );
    const expected: Record<SentimentLabel, Record<SentimentLabel, number>> = {
      negative: { negative: 0, neutral: 0, positive: 0 },
      neutral: { negative: 0, neutral: 0, positive: 0 },
      positive: { negative: 0, neutral: 0, positive: 0 },
    };
    await service.start();
    try {
      await waitFor(() => committedAll([topics.news]), 60_000, 200);

      // A labeller disagrees with every third prediction; one label is for an unknown document, one is invalid.
      const actualOf = (i: number, predicted: SentimentLabel): SentimentLabel =>
        i % 3 === 2 ? (predicted === 'neutral' ? 'positive' : 'neutral') : predicted;
      const labelType = schemaType('Label');
      const labelRecord = (documentId: string, label: SentimentLabel): LabelRecord => ({
        document_id: documentId,
        label,
        labeller: 'desk-review',
        labelled_at: Date.UTC(2026, 0, 6),
        document_event_time: null,
        document_kind: 'news',
      });
      const labelMessages = docs.slice(0, 15).map((d, i) => {
        const predicted = expectedLabel(`${d.headline}\n\n${d.body}`);
        const actual = actualOf(i, predicted);
        expected[actual][predicted]++;
        return { key: d.id, value: labelType.toBuffer(labelRecord(d.id, actual)) };
      });
      labelMessages.push({
        key: 'unknown-doc',
        value: labelType.toBuffer(labelRecord('never-seen', 'negative')),
      });
      labelMessages.push({ key: 'bad-label', value: labelType.toBuffer(labelRecord('', 'negative')) });
      await produce(kafka, topics.labels, labelMessages);
      await waitFor(() => committedAll([topics.labels]), 60_000, 200);
    } finally {
      expect(await service.stop(30_000)).toBe(true);
    }

    expect(labelSink.matched).toBe(15);
    expect(labelSink.unmatched).toBe(1);
    const [newsGroup] = (await store.readWindow({ dimension: 'kind', windowMs: 86_400_000 })).filter(
      (g) => g.group === 'news',
    );
    expect(newsGroup?.count).toBe(18);
    const confusion = newsGroup?.confusion;
    expect(confusion).not.toBeNull();
    // confusion[actual][predicted]; every third label (the neutral headline) says positive.
    expect(expected).toEqual({
      negative: { negative: 5, neutral: 0, positive: 0 },
      neutral: { negative: 0, neutral: 0, positive: 0 },
      positive: { negative: 0, neutral: 5, positive: 5 },
    });
    expect(confusion).toEqual(expected);

    const dead = await readAll(kafka, topics.dlq);
    expect(
      dead.map((d) => [d.message.key?.toString(), readDeadLetterHeaders(d.message.headers).reason]),
    ).toEqual([['bad-label', 'invalid-field']]);
  });
});
