// Consumer-group rebalances on the real broker: a second replica joins mid-stream and the first one
// leaves mid-stream; every input still comes out enriched (duplicates allowed) and the window store
// counts each document exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnriched } from '../../src/codec/enriched.js';
import type { PipelineService } from '../../src/app/pipeline.js';
import { encodeChat, encodeNews, chat, news, produce, readAll } from '../helpers/avro-producer.js';
import { PipelineFixture } from '../helpers/pipeline-fixture.js';
import { createTopic, waitFor } from '../helpers/stack.js';
import { TestEnricher } from '../helpers/test-enricher.js';

const fixture = new PipelineFixture({
  name: 'rebal',
  batching: { maxBatchSize: 4, maxInFlightBatches: 2, maxQueuedDocuments: 32 },
});
const { kafka, topics } = fixture;
const store = fixture.windowStore();

function replica(): PipelineService {
  return fixture.service({
    enricher: new TestEnricher(15),
    stats: store,
    authorKey: 'rebalance-test-author-key-000001',
  });
}

const committedAll = () => fixture.committedAll([topics.news, topics.chat]);

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

afterAll(() => fixture.cleanup());

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
