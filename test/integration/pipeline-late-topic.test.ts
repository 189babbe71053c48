// Event time through the pipeline on the real broker and Redis (docs/guarantees.md#event-time): one
// news record stamped 30 minutes ahead of its partition, then 600 on-time records at 2 docs/s, then one
// record older than the watermark. Every on-time document is counted; the outlier (future) and the
// old record (late) are enriched, left out of the windows and put on the late-records topic with their
// reason (issue 14's row "one record stamped +30 min": 1 counted, 600 late before).
import { afterAll, describe, expect, it } from 'vitest';
import { LATE_REASON_HEADER } from '../../src/pipeline/late-records.js';
import { ALL_DIMENSION } from '../../src/stats/grouping.js';
import { encodeNews, news, produce, readAll } from '../helpers/avro-producer.js';
import { PipelineFixture } from '../helpers/pipeline-fixture.js';
import { createTopic, waitFor } from '../helpers/stack.js';

const fixture = new PipelineFixture({
  name: 'late',
  late: true,
  batching: { maxBatchSize: 32, maxInFlightBatches: 2 },
});
const { kafka, topics } = fixture;
const store = fixture.windowStore();

afterAll(() => fixture.cleanup());

describe('late-records topic', () => {
  it('counts all 600 on-time records after a +30 min outlier, and puts the outlier and a late record on the late topic', async () => {
    for (const t of fixture.servedTopics()) await createTopic(t, 1);
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
    const service = fixture.service({ stats: store, authorKey: 'late-test-author-key-000000001' });
    await service.start();
    try {
      await waitFor(() => fixture.committedAll([topics.news]), 120_000, 200);
    } finally {
      expect(await service.stop(30_000)).toBe(true);
    }

    const enriched = await readAll(kafka, topics.enriched);
    const late = await readAll(kafka, topics.late!);
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
