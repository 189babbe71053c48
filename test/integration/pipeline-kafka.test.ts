// The pipeline against the real local broker and Redis (started by test/helpers/global-setup.ts):
// every valid input comes out enriched exactly once, every planted bad record lands on the DLQ with
// its reason, dependency failures are retried without loss, offsets are only committed after the
// outputs are acknowledged, and a graceful stop mid-stream resumes without loss.
import { createHash, randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnriched } from '../../src/codec/enriched.js';
import { parseConfig } from '../../src/config/load.js';
import type { FinsentryConfig } from '../../src/config/schema.js';
import type { StatsSink } from '../../src/domain/windows.js';
import { createRedisClient, type RedisClient } from '../../src/io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../src/io/redis/window-store.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import { NOOP_OBSERVER } from '../../src/pipeline/observer.js';
import { PipelineService } from '../../src/app/pipeline.js';
import { buildObservation } from '../../src/stats/grouping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  chat,
  committedOffsets,
  encodeChat,
  encodeNews,
  highWatermarks,
  news,
  produce,
  readAll,
  testKafka,
  type TestMessage,
} from '../helpers/avro-producer.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';
import { expectedLabel, POISON_MARKER, TestEnricher } from '../helpers/test-enricher.js';

const AUTHOR_KEY = 'integration-test-author-key-0001';
const NEWS_ID = 11;
const CHAT_ID = 12;

interface Topics {
  news: string;
  chat: string;
  enriched: string;
  dlq: string;
}

const kafka: Kafka = testKafka();
const createdTopics: string[] = [];
const redisPrefixes: string[] = [];
let redis: RedisClient;

async function freshTopics(partitions = 3, dlqConfig: Record<string, string> = {}): Promise<Topics> {
  const base = uniqueName('fs-pipe');
  const topics = {
    news: `${base}.news`,
    chat: `${base}.chat`,
    enriched: `${base}.enriched`,
    dlq: `${base}.dlq`,
  };
  for (const [name, t] of Object.entries(topics))
    await createTopic(t, partitions, name === 'dlq' ? dlqConfig : {});
  createdTopics.push(...Object.values(topics));
  return topics;
}

function testConfig(
  topics: Topics,
  groupId: string,
  overrides: { maxBatchSize?: number; maxQueuedDocuments?: number; maxDeadLetterBytes?: number } = {},
): FinsentryConfig {
  return parseConfig(
    {
      kafka: {
        brokers: kafkaBrokers(),
        groupId,
        clientId: 'finsentry-it',
        topics: { ...topics, labels: null, alerts: 'unused' },
        sessionTimeout: '10s',
      },
      redis: { url: redisUrl(), keyPrefix: uniqueName('fsit').replace(/-/g, '_') },
      codec: {
        schemaIds: {
          [String(NEWS_ID)]: 'io.finsentry.NewsArticle',
          [String(CHAT_ID)]: 'io.finsentry.ChatMessage',
        },
      },
      batching: {
        maxBatchSize: overrides.maxBatchSize ?? 8,
        maxInFlightBatches: 2,
        maxQueuedDocuments: overrides.maxQueuedDocuments ?? 64,
      },
      limits: {
        maxMessageBytes: 4096,
        maxTextChars: 2000,
        maxFutureSkew: '1h',
        ...(overrides.maxDeadLetterBytes !== undefined
          ? { maxDeadLetterBytes: overrides.maxDeadLetterBytes }
          : {}),
      },
      log: { level: 'warn' },
    },
    {},
  );
}

type ServiceDeps = ConstructorParameters<typeof PipelineService>[1];

function startService(
  cfg: FinsentryConfig,
  enricher: TestEnricher,
  stats: StatsSink | null,
  hooks?: ServiceDeps['hooks'],
  observer?: ServiceDeps['observer'],
): PipelineService {
  const service = new PipelineService(cfg, {
    kafka,
    enricher,
    stats,
    buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, cfg.stats.dimensions),
    authorKey: AUTHOR_KEY,
    logger: createLogger('error', 'finsentry-it'),
    pipelineVersion: 'test',
    backoff: { initialMs: 50, maxMs: 400 },
    ...(hooks ? { hooks } : {}),
    ...(observer ? { observer } : {}),
  });
  return service;
}

function windowStore(cfg: FinsentryConfig): RedisWindowStore {
  redisPrefixes.push(cfg.redis.keyPrefix);
  return new RedisWindowStore(redis, windowStoreOptions(cfg));
}

/** Documents counted per kind in the store's 24h window. */
async function countedDocuments(store: RedisWindowStore): Promise<number> {
  const groups = await store.readWindow({ dimension: 'kind', windowMs: 86_400_000 });
  return groups.reduce((n, g) => n + g.count, 0);
}

/** Resolves once the group has committed every input partition up to its high watermark. */
async function waitUntilCommitted(groupId: string, topics: string[]): Promise<void> {
  await waitFor(
    async () => {
      for (const topic of topics) {
        const [committed, high] = await Promise.all([
          committedOffsets(kafka, groupId, topic),
          highWatermarks(kafka, topic),
        ]);
        for (const [partition, hw] of high)
          if ((committed.get(partition) ?? -1n) < hw && hw > 0n) return false;
      }
      return true;
    },
    120_000,
    250,
  );
}

/** Starts the service, waits until it has committed every input, and stops it cleanly. */
async function runUntilCommitted(service: PipelineService, groupId: string, topics: string[]): Promise<void> {
  await service.start();
  try {
    await waitUntilCommitted(groupId, topics);
  } finally {
    expect(await service.stop(30_000)).toBe(true);
  }
}

function validInputs(
  prefix: string,
  n: number,
): { messages: Array<TestMessage & { topic: 'news' | 'chat' }>; texts: Map<string, string> } {
  const messages: Array<TestMessage & { topic: 'news' | 'chat' }> = [];
  const texts = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    const eventTime = Date.UTC(2026, 0, 5, 9, 0) + i * 1000;
    const confluent = i % 2 === 1;
    const headers = i % 3 === 0 ? { traceparent: `00-${'a'.repeat(31)}${i % 10}-${'b'.repeat(16)}-01` } : {};
    if (i % 4 < 2) {
      const record = news(id, {
        published_at: eventTime,
        headline:
          i % 5 === 0 ? `Delta Corp shares plunge on fraud probe ${id}` : `Acme Corp beats estimates ${id}`,
      });
      messages.push({
        topic: 'news',
        key: id,
        value: encodeNews(record, confluent ? NEWS_ID : undefined),
        headers,
      });
      texts.set(id, `${record.headline}\n\n${record.body}`);
    } else {
      const record = chat(id, { sent_at: eventTime });
      messages.push({
        topic: 'chat',
        key: id,
        value: encodeChat(record, confluent ? CHAT_ID : undefined),
        headers,
      });
      texts.set(id, record.text);
    }
  }
  return { messages, texts };
}

async function produceInputs(
  topics: Topics,
  messages: Array<TestMessage & { topic: 'news' | 'chat' }>,
): Promise<void> {
  for (const kind of ['news', 'chat'] as const) {
    const batch = messages.filter((m) => m.topic === kind).map(({ topic: _t, ...m }) => m);
    if (batch.length > 0) await produce(kafka, topics[kind], batch);
  }
}

beforeAll(() => {
  redis = createRedisClient(parseConfig({ redis: { url: redisUrl() } }, {}).redis);
});

afterAll(async () => {
  await deleteTopics(createdTopics);
  for (const prefix of redisPrefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await (redis as import('ioredis').Redis).scan(
        cursor,
        'MATCH',
        `${prefix}:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      for (const key of keys) await redis.del(key);
    } while (cursor !== '0');
  }
  redis.disconnect();
});

describe('pipeline on the real broker', () => {
  it('dead-letters records too large for the DLQ topic: the head of the value, its size and digest, and moves on', async () => {
    // The DLQ topic takes at most 16 KiB per record batch (max.message.bytes); the inputs do not.
    // Without the cap the broker refuses the dead letter (MESSAGE_TOO_LARGE) and the partition stalls.
    // One partition each, so that the dead letters of a batch share one record batch on the DLQ.
    const topics = await freshTopics(1, { 'max.message.bytes': '16384' });
    const groupId = uniqueName('fs-group');
    const cfg = testConfig(topics, groupId, { maxBatchSize: 16, maxDeadLetterBytes: 12_000 });
    const { messages, texts } = validInputs('fit', 12);
    // Random content, so that the producer's gzip cannot shrink the records under the limit.
    const huge = encodeNews(news('big-1', { body: randomBytes(30_000).toString('base64') })); // message-too-large, ~40 KB
    // Corrupt records of 3 KB each (under maxMessageBytes): each fits the DLQ topic, six together do not.
    const corrupt = Array.from({ length: 6 }, () => Buffer.concat([Buffer.from([0xff]), randomBytes(2_999)]));
    const all: Array<TestMessage & { topic: 'news' | 'chat' }> = [
      { topic: 'news', key: 'big-1', value: huge, headers: {} },
      ...corrupt.map((value, i) => ({ topic: 'news' as const, key: `corrupt-${i}`, value, headers: {} })),
      ...messages,
    ];
    await produceInputs(topics, all);

    const service = startService(cfg, new TestEnricher(), null);
    await runUntilCommitted(service, groupId, [topics.news, topics.chat]);
    const enriched = await readAll(kafka, topics.enriched);
    expect(new Set(enriched.map((r) => decodeEnriched(r.message.value!).id))).toEqual(new Set(texts.keys()));

    const dead = new Map(
      (await readAll(kafka, topics.dlq)).map((r) => [r.message.key!.toString(), r.message]),
    );
    expect([...dead.keys()].sort()).toEqual(['big-1', ...corrupt.map((_, i) => `corrupt-${i}`)].sort());
    const big = dead.get('big-1')!;
    const h = readDeadLetterHeaders(big.headers);
    expect(h.reason).toBe('message-too-large');
    expect(h.valueTruncated).toBe('true');
    expect(h.valueBytes).toBe(String(huge.length));
    expect(h.valueSha256).toBe(createHash('sha256').update(huge).digest('hex'));
    expect(big.value!.length).toBeLessThan(12_000);
    expect(big.value!.equals(huge.subarray(0, big.value!.length))).toBe(true);
    corrupt.forEach((value, i) => {
      const m = dead.get(`corrupt-${i}`)!;
      expect(readDeadLetterHeaders(m.headers)).toMatchObject({
        reason: 'corrupt-avro',
        valueTruncated: undefined,
      });
      expect(m.value!.equals(value)).toBe(true);
    });
  });

  it('enriches every valid input exactly once and dead-letters every planted bad record with its reason', async () => {
    const topics = await freshTopics();
    const groupId = uniqueName('fs-group');
    const cfg = testConfig(topics, groupId);
    const N = 48;
    const { messages, texts } = validInputs('ok', N);
    const longText = 'word '.repeat(500); // 2500 chars: over maxTextChars, under maxMessageBytes
    const planted: Array<{ topic: 'news' | 'chat'; key: string; value: Buffer | null; reason: string }> = [
      {
        topic: 'news',
        key: 'bad-corrupt',
        value: Buffer.from('this is not an avro record, not at all'),
        reason: 'corrupt-avro',
      },
      {
        topic: 'news',
        key: 'bad-unknown-id',
        value: encodeNews(news('x1'), 4242),
        reason: 'unknown-schema-id',
      },
      {
        topic: 'news',
        key: 'bad-wrong-schema',
        value: encodeChat(chat('x2'), CHAT_ID),
        reason: 'wrong-schema',
      },
      {
        topic: 'news',
        key: 'bad-empty-text',
        value: encodeNews(news('x3', { headline: ' ', body: '' })),
        reason: 'empty-text',
      },
      {
        topic: 'news',
        key: 'bad-text-size',
        value: encodeNews(news('x4', { body: longText })),
        reason: 'text-too-large',
      },
      {
        topic: 'news',
        key: 'bad-message-size',
        value: encodeNews(news('x5', { body: 'y'.repeat(5000) })),
        reason: 'message-too-large',
      },
      {
        topic: 'news',
        key: 'bad-timestamp',
        value: encodeNews(news('x6', { published_at: Date.now() + 86_400_000 })),
        reason: 'invalid-timestamp',
      },
      {
        topic: 'news',
        key: 'bad-field',
        value: encodeNews(news('x7', { source: '' }), NEWS_ID),
        reason: 'invalid-field',
      },
      { topic: 'news', key: 'bad-tombstone', value: null, reason: 'empty-message' },
      {
        topic: 'chat',
        key: 'bad-chat-author',
        value: encodeChat(chat('x8', { author_id: '' })),
        reason: 'invalid-field',
      },
      {
        topic: 'chat',
        key: 'bad-chat-corrupt',
        value: Buffer.from([0, 0, 0, 0, CHAT_ID, 0xff, 0xff, 0xff]),
        reason: 'corrupt-avro',
      },
      // Valid input on which inference keeps failing while other documents succeed: isolated and dead-lettered.
      {
        topic: 'news',
        key: 'bad-poison',
        value: encodeNews(news('x9', { headline: `Zeta Corp ${POISON_MARKER}` })),
        reason: 'enrich-failed',
      },
    ];
    // Interleave the bad records with the good ones so that they share batches.
    const all: Array<TestMessage & { topic: 'news' | 'chat' }> = [...messages];
    planted.forEach((p, i) =>
      all.splice(i * 4 + 1, 0, {
        topic: p.topic,
        key: p.key,
        value: p.value,
        headers: { 'x-origin': 'planted' },
      }),
    );
    await produceInputs(topics, all);

    // Dependencies fail a few times: inference once, the stats store twice. Retried, nothing lost or duplicated.
    const enricher = new TestEnricher();
    enricher.failNext(1);
    const store = windowStore(cfg);
    let statsFailures = 2;
    const flakyStats: StatsSink = {
      apply: async (batches) => {
        if (statsFailures > 0) {
          statsFailures--;
          throw new Error('injected Redis failure');
        }
        return store.apply(batches);
      },
    };
    const service = startService(cfg, enricher, flakyStats);
    await runUntilCommitted(service, groupId, [topics.news, topics.chat]);
    expect(service.processor.counters.retries).toBeGreaterThanOrEqual(3);

    const enriched = await readAll(kafka, topics.enriched);
    const records = enriched.map((r) => ({
      key: r.message.key?.toString(),
      headers: r.message.headers ?? {},
      doc: decodeEnriched(r.message.value!),
    }));
    expect(records.length).toBe(N);
    expect(new Set(records.map((r) => r.doc.id))).toEqual(new Set(texts.keys()));
    for (const { key, headers, doc } of records) {
      expect(key).toBe(doc.id);
      expect(doc.sentiment?.label).toBe(expectedLabel(texts.get(doc.id)!));
      expect(doc.groups.some((g) => g.dimension === 'kind' && g.value === doc.kind)).toBe(true);
      expect(doc.models.map((m) => m.name)).toEqual(['test-keyword-sentiment', 'test-pattern-ner']);
      if (doc.kind === 'chat') {
        expect(doc.attributes.author_pseudonym).toMatch(/^[0-9a-f]{32}$/);
        expect(JSON.stringify(doc)).not.toContain(`trader-${doc.id}`);
      }
      const input = messages.find((m) => m.key === doc.id)!;
      expect(headers.traceparent?.toString()).toBe(input.headers?.traceparent);
    }

    const dead = await readAll(kafka, topics.dlq);
    expect(dead.length).toBe(planted.length);
    for (const p of planted) {
      const match = dead.filter((d) => d.message.key?.toString() === p.key);
      expect(match.length, p.key).toBe(1);
      const context = readDeadLetterHeaders(match[0]!.message.headers);
      expect(context.reason, p.key).toBe(p.reason);
      expect(context.topic).toBe(topics[p.topic]);
      expect(context.stage, p.key).toBe(
        p.reason === 'enrich-failed'
          ? 'enrich'
          : ['empty-text', 'text-too-large', 'invalid-timestamp', 'invalid-field'].includes(p.reason)
            ? 'validate'
            : 'decode',
      );
      expect(match[0]!.message.headers?.['x-origin']?.toString()).toBe('planted');
      // The DLQ value is the input byte for byte, and the offset header points at it.
      expect(match[0]!.message.value === null ? null : Buffer.from(match[0]!.message.value)).toEqual(p.value);
      const inputs = await readAll(kafka, topics[p.topic]);
      const original = inputs.find(
        (r) => r.partition === Number(context.partition) && r.message.offset === context.offset,
      );
      expect(original?.message.key?.toString()).toBe(p.key);
    }
    expect(await countedDocuments(store)).toBe(N);
  });

  it('does not commit before outputs are acknowledged: a crash between produce and commit loses nothing', async () => {
    const topics = await freshTopics();
    const groupId = uniqueName('fs-group');
    const cfg = testConfig(topics, groupId, { maxBatchSize: 4 });
    const N = 60;
    const { messages, texts } = validInputs('crash', N);
    await produceInputs(topics, messages);
    const store = windowStore(cfg);

    // First run: the first commit attempt "crashes" the process (outputs are produced, offsets not committed).
    let crashPoint: { topic: string; partition: number; lastOffset: string } | null = null;
    let crashed: () => void = () => {};
    const crashedPromise = new Promise<void>((resolve) => (crashed = resolve));
    const first: PipelineService = startService(cfg, new TestEnricher(), store, {
      beforeCommit: (point) => {
        if (crashPoint === null) {
          crashPoint = point;
          first.processor.abort();
          crashed();
        }
      },
    });
    await first.start();
    await crashedPromise;
    await first.abort();
    const point = crashPoint as unknown as { topic: string; partition: number; lastOffset: string };

    const committed = await committedOffsets(kafka, groupId, point.topic);
    expect(committed.get(point.partition) ?? -1n).toBeLessThanOrEqual(BigInt(point.lastOffset));
    // ... while the outputs of the records up to the crash point were already acknowledged.
    const beforeRestart = (await readAll(kafka, topics.enriched)).map((r) =>
      decodeEnriched(r.message.value!),
    );
    const crashedInputs = beforeRestart.filter(
      (d) => d.input.topic === point.topic && d.input.partition === point.partition,
    );
    expect(crashedInputs.some((d) => BigInt(d.input.offset) === BigInt(point.lastOffset))).toBe(true);

    // Restart with the same group: everything arrives (duplicates allowed, losses not); stats count each document once.
    const second = startService(cfg, new TestEnricher(), store);
    await runUntilCommitted(second, groupId, [topics.news, topics.chat]);
    const after = (await readAll(kafka, topics.enriched)).map((r) => decodeEnriched(r.message.value!));
    expect(new Set(after.map((d) => d.id))).toEqual(new Set(texts.keys()));
    expect(after.length).toBeGreaterThanOrEqual(N);
    expect(await countedDocuments(store)).toBe(N);
  });

  it('a graceful stop mid-stream commits only finished work and a restart resumes without loss', async () => {
    const topics = await freshTopics();
    const groupId = uniqueName('fs-group');
    const cfg = testConfig(topics, groupId, { maxBatchSize: 4 });
    const N = 160;
    const { messages, texts } = validInputs('stop', N);
    await produceInputs(topics, messages);
    const store = windowStore(cfg);

    const first = startService(cfg, new TestEnricher(25), store);
    await first.start();
    await waitFor(() => first.processor.counters.enriched >= 20, 60_000, 20);
    expect(await first.stop(30_000)).toBe(true);

    // Every committed offset is backed by an output: inputs below the committed offsets are all enriched.
    const produced = (await readAll(kafka, topics.enriched)).map((r) => decodeEnriched(r.message.value!));
    const producedAt = new Set(
      produced.map((d) => `${d.input.topic}:${d.input.partition}:${d.input.offset}`),
    );
    for (const topic of [topics.news, topics.chat]) {
      const committed = await committedOffsets(kafka, groupId, topic);
      const inputs = await readAll(kafka, topic);
      for (const r of inputs) {
        if (BigInt(r.message.offset) < (committed.get(r.partition) ?? -1n))
          expect(producedAt.has(`${topic}:${r.partition}:${r.message.offset}`)).toBe(true);
      }
    }

    const second = startService(cfg, new TestEnricher(), store);
    await runUntilCommitted(second, groupId, [topics.news, topics.chat]);
    const after = (await readAll(kafka, topics.enriched)).map((r) => decodeEnriched(r.message.value!));
    expect(new Set(after.map((d) => d.id))).toEqual(new Set(texts.keys()));
    expect(await countedDocuments(store)).toBe(N);
  });

  it('pauses partitions when more than maxQueuedDocuments are in flight, resumes them, and loses nothing', async () => {
    const topics = await freshTopics();
    const groupId = uniqueName('fs-group');
    const cfg = testConfig(topics, groupId, { maxBatchSize: 4, maxQueuedDocuments: 10 });
    const N = 120;
    const { messages, texts } = validInputs('bp', N);
    await produceInputs(topics, messages);

    const pausedCounts: number[] = [];
    const queued: number[] = [];
    const observer = {
      ...NOOP_OBSERVER,
      pausedPartitions: (n: number) => pausedCounts.push(n),
      queuedDocuments: (n: number) => queued.push(n),
    };
    const service = startService(cfg, new TestEnricher(10), null, undefined, observer);
    await runUntilCommitted(service, groupId, [topics.news, topics.chat]);
    // The backlog went over the limit, partitions were paused, and every pause was lifted again.
    expect(Math.max(...queued)).toBeGreaterThan(10);
    expect(Math.max(...pausedCounts)).toBeGreaterThan(0);
    expect(pausedCounts[pausedCounts.length - 1]).toBe(0);
    expect(queued[queued.length - 1]).toBe(0);
    const after = (await readAll(kafka, topics.enriched)).map((r) => decodeEnriched(r.message.value!));
    expect(new Set(after.map((d) => d.id))).toEqual(new Set(texts.keys()));
  });
});
