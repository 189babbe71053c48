import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InputLabel } from '../../src/codec/validate.js';
import type { DocumentKind } from '../../src/domain/documents.js';
import { SENTIMENT_LABELS, type SentimentLabel } from '../../src/domain/enrichment.js';
import type { StatsObservation } from '../../src/domain/observation.js';
import type { RedisClient } from '../../src/io/redis/client.js';
import { RedisLabelStore } from '../../src/io/redis/label-store.js';
import { RedisWindowStore } from '../../src/io/redis/window-store.js';
import { LabelJoinSink, RedisPredictionIndex, type LabelOutcome } from '../../src/pipeline/label-join.js';
import { ALL_DIMENSION } from '../../src/stats/grouping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { rng } from '../helpers/fault-traffic.js';
import { redisClusterNodes, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';

/**
 * Labels as their own stream (issue 19 item 1, docs/guarantees.md#labels) on a real Redis and Redis
 * Cluster: the real prediction index, label store and window store. Labels for 30% of documents come
 * 10 minutes to 24 hours after their document, in random order; each must be counted in the bucket of
 * its document's event time. Relabels replace, replays change nothing, unknown ids are unmatched,
 * news and chat ids that look alike stay apart, label shards hold no watermark.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2026, 0, 5, 6, 0);
const GRACE = 3 * 24 * HOUR;

interface Doc {
  obs: StatsObservation;
  kind: DocumentKind;
  partition: string;
}

/** 2,400 documents over 3 event-hours, news on 2 partitions and chat on 1; chat ids reuse news ids. */
function documents(rand: () => number): Doc[] {
  const docs: Doc[] = [];
  for (let i = 0; i < 2400; i++) {
    const kind: DocumentKind = i % 3 === 2 ? 'chat' : 'news';
    // Ids: news "{d-<i>}" with a brace (a Cluster hash tag if used raw); chat reuses news-like ids.
    const documentId = kind === 'news' ? `{d-${i}}` : `{d-${i - 2}}`;
    const label = SENTIMENT_LABELS[Math.floor(rand() * 3)]!;
    docs.push({
      kind,
      partition: kind === 'news' ? `news.raw:${i % 2}` : 'chat.raw:0',
      obs: {
        documentId,
        kind,
        offset: String(i),
        eventTimeMs: T0 + Math.floor((i / 2400) * 3 * HOUR),
        groups: [
          { dimension: ALL_DIMENSION, value: 'all' },
          { dimension: 'region', value: ['emea', 'amer', 'apac'][i % 3]! },
        ],
        label,
        pNeg: 0.3,
        pPos: 0.3,
        polarity: 0,
        confidence: 0.4,
        tokens: 10,
        unknownTokens: 0,
        truncated: false,
        entityTypes: {},
      },
    });
  }
  return docs;
}

function labelFor(doc: Doc, actual: SentimentLabel, labelledAtMs: number, offset: number): InputLabel {
  return {
    documentId: doc.obs.documentId,
    label: actual,
    labeller: 'desk',
    labelledAtMs,
    documentKind: doc.kind,
    position: { topic: 'labels', partition: offset % 2, offset: String(offset) },
  };
}

const TARGETS: Array<{ name: string; connect: () => RedisClient }> = [
  { name: 'single Redis', connect: () => new Redis(redisUrl(), { maxRetriesPerRequest: 3 }) },
  { name: 'Redis Cluster', connect: () => new Cluster(redisClusterNodes(), { scaleReads: 'master' }) },
];

describe.each(TARGETS)('labels as their own stream on $name', ({ connect }) => {
  let redis: RedisClient;
  let store: RedisWindowStore;
  let sink: LabelJoinSink;
  let predictions: RedisPredictionIndex;
  const outcomes: Partial<Record<LabelOutcome, number>> = {};
  const prefix = uniqueName('fs-t-lab').replace(/-/g, '_');

  beforeAll(async () => {
    redis = connect();
    // A cluster node busy on a loaded machine can answer CLUSTERDOWN for a moment: wait for PONG.
    await waitFor(async () => (await redis.ping()) === 'PONG', 120_000, 250);
    store = new RedisWindowStore(redis, {
      keyPrefix: prefix,
      bucketMs: MINUTE,
      allowedLatenessMs: 5 * MINUTE,
      ttlSeconds: 3 * 86_400,
      dimensions: ['region'],
    });
    predictions = new RedisPredictionIndex(redis, prefix, 3 * 86_400);
    const labels = new RedisLabelStore(redis, {
      keyPrefix: prefix,
      bucketMs: MINUTE,
      ttlSeconds: 3 * 86_400,
      memorySeconds: 3 * 86_400,
    });
    sink = new LabelJoinSink(predictions, labels, createLogger('silent'), {
      graceMs: GRACE,
      observer: {
        labelOutcomes: (c) => {
          for (const [k, n] of Object.entries(c))
            outcomes[k as LabelOutcome] = (outcomes[k as LabelOutcome] ?? 0) + n!;
        },
      },
    });
  });

  afterAll(async () => {
    await store.deleteAll();
    redis.disconnect();
  });

  /** confusion totals per bucket start, from the window store's `_all` series. */
  async function labelledPerBucket(): Promise<Map<number, Record<string, number>>> {
    const series = await store.readSeries({
      dimension: ALL_DIMENSION,
      group: 'all',
      windowMs: 4 * HOUR,
      endMs: T0 + 3 * HOUR + MINUTE,
    });
    const out = new Map<number, Record<string, number>>();
    for (const [bucket, s] of series) {
      if (!s.confusion) continue;
      const cells: Record<string, number> = {};
      for (const a of SENTIMENT_LABELS)
        for (const p of SENTIMENT_LABELS) if (s.confusion[a][p] !== 0) cells[`${a}/${p}`] = s.confusion[a][p];
      if (Object.keys(cells).length > 0) out.set(bucket, cells);
    }
    return out;
  }

  it('counts ≥ 99% of labels delayed 10 min – 24 h, in random order, in their document-time bucket', async () => {
    const rand = rng(19);
    const docs = documents(rand);
    // The documents through the window store and the prediction index, partition by partition.
    for (const partition of ['news.raw:0', 'news.raw:1', 'chat.raw:0']) {
      const mine = docs.filter((d) => d.partition === partition).map((d) => d.obs);
      for (let i = 0; i < mine.length; i += 100) {
        const chunk = mine.slice(i, i + 100);
        await store.apply([
          { partitionKey: partition, lastOffset: chunk.at(-1)!.offset!, observations: chunk, labels: [] },
        ]);
        await predictions.remember(chunk);
      }
    }
    const watermarkBefore = await store.watermark();

    // Labels for 30% of the documents, delays U(10 min, 24 h), delivered in a random order.
    const labelled = docs.filter(() => rand() < 0.3);
    const labels = labelled.map((doc, i) => {
      const actual = rand() < 0.7 ? doc.obs.label : SENTIMENT_LABELS[Math.floor(rand() * 3)]!;
      const delay = 10 * MINUTE + rand() * (24 * HOUR - 10 * MINUTE);
      return { doc, actual, label: labelFor(doc, actual, doc.obs.eventTimeMs + delay, i) };
    });
    for (let i = labels.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [labels[i], labels[j]] = [labels[j]!, labels[i]!];
    }
    for (let i = 0; i < labels.length; i += 50)
      await sink.accept(labels.slice(i, i + 50).map((l) => l.label));

    const expected = new Map<number, Record<string, number>>();
    for (const { doc, actual } of labels) {
      const bucket = Math.floor(doc.obs.eventTimeMs / MINUTE) * MINUTE;
      const cells = expected.get(bucket) ?? {};
      const cell = `${actual}/${doc.obs.label}`;
      cells[cell] = (cells[cell] ?? 0) + 1;
      expected.set(bucket, cells);
    }
    const actual = await labelledPerBucket();
    let right = 0;
    for (const [bucket, cells] of expected)
      for (const [cell, n] of Object.entries(cells)) right += Math.min(n, actual.get(bucket)?.[cell] ?? 0);
    const total = [...actual.values()].flatMap((c) => Object.values(c)).reduce((s, n) => s + n, 0);
    console.log(
      `LABELS ${labels.length} labels (30% of ${docs.length} docs, delays 10m–24h, random order): ` +
        `${right} in the right document-time bucket (${((100 * right) / labels.length).toFixed(2)}%), ${total} counted in all`,
    );
    expect(right / labels.length).toBeGreaterThanOrEqual(0.99);
    expect(total).toBe(labels.length);
    expect(actual).toEqual(expected);
    expect(outcomes.counted).toBe(labels.length);

    // Label shards hold no watermark: the store's and every input partition's watermark are unchanged.
    expect(await store.watermark()).toBe(watermarkBefore);
    const watermarks = await store.partitionWatermarks();
    for (const [partition, wm] of watermarks) if (partition.startsWith('lab-')) expect(wm).toBe(0);

    // A replay of every label (a crash before the commit) changes nothing.
    for (let i = 0; i < labels.length; i += 50)
      await sink.accept(labels.slice(i, i + 50).map((l) => l.label));
    expect(await labelledPerBucket()).toEqual(expected);
    expect(outcomes.unchanged).toBe(labels.length);

    // Relabels: 40 documents get a different label later — replaced, never counted twice; then an
    // older label for the same documents arrives: stale, ignored.
    const relabelled = labels.slice(0, 40).map(({ doc, actual, label }, i) => {
      const next = SENTIMENT_LABELS[(SENTIMENT_LABELS.indexOf(actual) + 1) % 3]!;
      const bucket = Math.floor(doc.obs.eventTimeMs / MINUTE) * MINUTE;
      const cells = expected.get(bucket)!;
      cells[`${actual}/${doc.obs.label}`]! -= 1;
      if (cells[`${actual}/${doc.obs.label}`] === 0) delete cells[`${actual}/${doc.obs.label}`];
      cells[`${next}/${doc.obs.label}`] = (cells[`${next}/${doc.obs.label}`] ?? 0) + 1;
      return {
        ...label,
        label: next,
        labelledAtMs: label.labelledAtMs + HOUR,
        position: { ...label.position, offset: String(10_000 + i) },
      };
    });
    await sink.accept(relabelled);
    await sink.accept(relabelled); // the relabels replayed
    await sink.accept(
      labels.slice(0, 40).map((l) => ({ ...l.label, labelledAtMs: l.label.labelledAtMs - MINUTE })),
    );
    expect(await labelledPerBucket()).toEqual(expected);
    expect(outcomes.replaced).toBe(40);
    expect(outcomes.stale).toBe(40);

    // Unknown ids, a kind that does not hold the id, and a label past the grace period.
    const unknown = labelFor(docs[0]!, 'negative', T0 + HOUR, 20_000);
    await sink.accept([
      { ...unknown, documentId: 'never-seen' },
      { ...unknown, documentId: '{d-1}', documentKind: 'chat' }, // {d-1} is a news id only
      { ...unknown, labelledAtMs: docs[0]!.obs.eventTimeMs + GRACE + MINUTE },
    ]);
    expect(outcomes.unmatched).toBe(2);
    expect(outcomes.expired).toBe(1);
    expect(await labelledPerBucket()).toEqual(expected);

    // No raw id in any key: document keys are hashes.
    const keys = isClusterClient(redis)
      ? (await Promise.all(redis.nodes('master').map((n) => n.keys(`${prefix}:*`)))).flat()
      : await redis.keys(`${prefix}:*`);
    expect(keys.filter((k) => k.includes('{d-'))).toEqual([]);
    expect(keys.some((k) => k.includes(':pred:'))).toBe(true);
  });
});

function isClusterClient(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}
