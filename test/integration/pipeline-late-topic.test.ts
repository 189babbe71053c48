// Event time through the pipeline on the real broker and Redis (docs/guarantees.md#event-time): one
// news record stamped 30 minutes ahead of its partition, then 600 on-time records at 2 docs/s, then one
// record older than the watermark. Every on-time document is counted; the outlier (future) and the
// old record (late) are enriched, left out of the windows and put on the late-records topic with their
// reason (issue 14's row "one record stamped +30 min": 1 counted, 600 late before).
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createRedisClient } from '../../src/io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../src/io/redis/window-store.js';
import { LATE_REASON_HEADER } from '../../src/pipeline/late-records.js';
import { PipelineService } from '../../src/app/pipeline.js';
import { ALL_DIMENSION, buildObservation } from '../../src/stats/grouping.js';
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
import { TestEnricher } from '../helpers/test-enricher.js';

const kafka = testKafka();
const base = uniqueName('fs-late');
const topics = {
  news: `${base}.news`,
  chat: `${base}.chat`,
  labels: null,
  enriched: `${base}.enriched`,
  dlq: `${base}.dlq`,
  alerts: `${base}.alerts`,
  late: `${base}.late`,
};
const groupId = uniqueName('fs-late-group');
const config = parseConfig(
  {
    kafka: { brokers: kafkaBrokers(), groupId, topics, sessionTimeout: '10s' },
    redis: { url: redisUrl(), keyPrefix: uniqueName('fslate').replace(/-/g, '_') },
    batching: { maxBatchSize: 32, maxInFlightBatches: 2 },
  },
  {},
);
const redis = createRedisClient(config.redis);
const store = new RedisWindowStore(redis, windowStoreOptions(config));

afterAll(async () => {
  await deleteTopics([topics.news, topics.chat, topics.enriched, topics.dlq, topics.late]);
  await store.deleteAll();
  redis.disconnect();
});

describe('late-records topic', () => {
  it('counts all 600 on-time records after a +30 min outlier, and puts the outlier and a late record on the late topic', async () => {
    for (const t of [topics.news, topics.chat, topics.enriched, topics.dlq, topics.late])
      await createTopic(t, 1);
    const T = Date.UTC(2026, 0, 5, 9, 0);
    const docs = [
      news('first', { published_at: T }),
      news('outlier', { published_at: T + 30 * 60_000 }),
      ...Array.from({ length: 600 }, (_, i) => news(`on-time-${i}`, { published_at: T + 1_000 + i * 500 })),
      news('too-old', { published_at: T - 10 * 60_000 }),
    ];
    await produce(
      kafka,
      topics.news,
      docs.map((d) => ({ key: d.id, value: encodeNews(d) })),
    );
    const service = new PipelineService(config, {
      kafka,
      enricher: new TestEnricher(),
      stats: store,
      buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, config.stats.dimensions),
      authorKey: 'late-test-author-key-000000001',
      logger: createLogger('error'),
      pipelineVersion: 'test',
      backoff: { initialMs: 50, maxMs: 400 },
    });
    await service.start();
    try {
      await waitFor(
        async () => {
          const [committed, high] = await Promise.all([
            committedOffsets(kafka, groupId, topics.news),
            highWatermarks(kafka, topics.news),
          ]);
          return (committed.get(0) ?? -1n) >= (high.get(0) ?? 0n);
        },
        120_000,
        200,
      );
    } finally {
      expect(await service.stop(30_000)).toBe(true);
    }

    const enriched = await readAll(kafka, topics.enriched);
    const late = await readAll(kafka, topics.late);
    const [all] = await store.readWindow({ dimension: ALL_DIMENSION, windowMs: 86_400_000 });
    const reasons = late.map((r) => [
      r.message.key?.toString(),
      r.message.headers?.[LATE_REASON_HEADER]?.toString(),
    ]);
    console.log(
      `LATE-TOPIC ${docs.length} records: ${enriched.length} enriched, ${all?.count ?? 0} counted in the windows, ` +
        `late topic ${JSON.stringify(reasons)}, windows late ${await store.lateCount()}`,
    );
    expect(enriched).toHaveLength(docs.length);
    expect(all?.count).toBe(601);
    expect(reasons).toEqual([
      ['outlier', 'future'],
      ['too-old', 'late'],
    ]);
    expect(await store.lateCount()).toBe(1);
  });
});
