// Delayed human labels on the real broker and Redis: labels are joined to the remembered predictions
// and counted in the window store's confusion matrices per group; labels without a known prediction
// are not counted, invalid ones go to the DLQ.
import { afterAll, describe, expect, it } from 'vitest';
import { schemaType } from '../../src/codec/schemas.js';
import type { LabelRecord } from '../../src/codec/records.js';
import type { SentimentLabel } from '../../src/domain/enrichment.js';
import { RedisLabelStore } from '../../src/io/redis/label-store.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import { LabelJoinSink, RedisPredictionIndex } from '../../src/pipeline/label-join.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { encodeNews, news, produce, readAll } from '../helpers/avro-producer.js';
import { PipelineFixture } from '../helpers/pipeline-fixture.js';
import { createTopic, waitFor } from '../helpers/stack.js';
import { expectedLabel } from '../helpers/test-enricher.js';

const fixture = new PipelineFixture({
  name: 'labels',
  labels: true,
  batching: { maxBatchSize: 8, maxInFlightBatches: 2 },
});
const { kafka, topics, config, redis } = fixture;
const labelsTopic = topics.labels!;

afterAll(() => fixture.cleanup());

describe('labels joined to predictions', () => {
  it('counts confusion matrices per group from delayed labels', async () => {
    for (const t of [topics.news, topics.chat, labelsTopic]) await createTopic(t, 2);
    await createTopic(topics.enriched, 2);
    await createTopic(topics.dlq, 1);

    const store = fixture.windowStore();
    const predictions = new RedisPredictionIndex(redis, config.redis.keyPrefix, 3600);
    const labelStore = new RedisLabelStore(redis, {
      keyPrefix: config.redis.keyPrefix,
      bucketMs: config.stats.bucket,
      ttlSeconds: 3600,
      memorySeconds: 3600,
    });
    const labelSink = new LabelJoinSink(predictions, labelStore, createLogger('error'), {
      graceMs: config.stats.labelGracePeriod,
    });
    const service = fixture.service({
      stats: store,
      labels: labelSink,
      predictions,
      authorKey: 'labels-test-author-key-00000001',
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
      await waitFor(() => fixture.committedAll([topics.news]), 60_000, 200);

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
      await produce(kafka, labelsTopic, labelMessages);
      await waitFor(() => fixture.committedAll([labelsTopic]), 60_000, 200);
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
