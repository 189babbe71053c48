import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import type { FinsentryConfig } from '../../config/schema.js';
import { OnnxEnricher } from '../../inference/enricher.js';
import { buildKafka, buildKafkaJsConfig } from '../../io/kafka/client.js';
import { createRedisClient } from '../../io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../io/redis/window-store.js';
import { NOOP_OBSERVER, type PipelineObserver } from '../../pipeline/observer.js';
import { PipelineService } from '../../app/pipeline.js';
import { encodePlain } from '../scenarios/encoding.js';
import { buildObservation } from '../../stats/grouping.js';
import { createLogger, type Logger } from '../../telemetry/logger.js';
import type { BenchDocument } from './corpus.js';
import { percentile } from './measure.js';
import { createServedTopics } from './topics.js';
import { row, type BenchContext, type BenchRow, type LatencyResult } from './types.js';

/**
 * Row 3, the full pipeline on the local stack: the corpus is produced to fresh input topics first
 * (not timed), then the product's PipelineService (Kafka consumer group → decode → OnnxEnricher →
 * Redis window store ∥ enriched topic → commit) consumes it. Throughput is measured from the first
 * fetched input record to the last offset commit, once every input partition is committed to its end.
 * Then, with the service still running, paced traffic at 50% of that capacity measures end-to-end
 * latency: enriched record timestamp (set when the pipeline produced it) minus input record timestamp
 * (set when the bench produced it), both CreateTime on this machine's clock.
 * Topics and the Redis key prefix are unique per run and removed afterwards.
 */

const PARTITIONS = 3;

interface Topics {
  news: string;
  chat: string;
  enriched: string;
  dlq: string;
  /** Records the window store refuses as late or future go here: the topic must exist. */
  late: string;
}

async function produceAll(
  producer: Producer,
  topics: Topics,
  docs: readonly BenchDocument[],
  keyOf: (d: BenchDocument, i: number) => string,
  valueOf: (d: BenchDocument, i: number) => Buffer,
): Promise<void> {
  for (let start = 0; start < docs.length; start += 500) {
    const slice = docs.slice(start, start + 500);
    const topicMessages = (['news', 'chat'] as const)
      .map((topic) => ({
        topic: topics[topic],
        messages: slice.flatMap((d, j) =>
          d.topic === topic ? [{ key: keyOf(d, start + j), value: valueOf(d, start + j) }] : [],
        ),
      }))
      .filter((t) => t.messages.length > 0);
    await producer.sendBatch({ topicMessages, acks: -1 });
  }
}

async function allCommitted(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const topic of topics) {
    const high = await admin.fetchTopicOffsets(topic);
    const mine = committed.find((c) => c.topic === topic);
    for (const h of high) {
      const c = mine?.partitions.find((p) => p.partition === h.partition);
      if (BigInt(h.high) > 0n && BigInt(c?.offset ?? '-1') < BigInt(h.high)) return false;
    }
  }
  return true;
}

async function waitFor(
  predicate: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline)
      throw new Error(`bench pipeline: timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The service's config for one bench run: fresh topics, consumer group and Redis key prefix. */
function benchPipelineConfig(ctx: BenchContext, base: string, topics: Topics): FinsentryConfig {
  return {
    ...ctx.config,
    kafka: {
      ...ctx.config.kafka,
      clientId: 'finsentry-bench',
      groupId: `${base}-group`,
      fromBeginning: true,
      topics: { ...topics, labels: null, alerts: `${base}.alerts` },
    },
    redis: { ...ctx.config.redis, keyPrefix: base.replace(/-/g, '_') },
    models: ctx.models,
    batching: ctx.batching,
  };
}

/** What the row reads while the service runs: first fetch, last commit, tokens fed to the models. */
interface PipelineMeter {
  firstFetchAt: number | undefined;
  lastCommitAt: number;
  modelTokens: number;
  paddedTokens: number;
}

/** The product's enricher, counting the real and padded tokens of every model batch into `meter`. */
function meteredEnricher(cfg: FinsentryConfig, meter: PipelineMeter): Promise<OnnxEnricher> {
  return OnnxEnricher.create(cfg.models, cfg.batching, {
    maxEntitiesPerDocument: cfg.limits.maxEntitiesPerDocument,
    onBatch: (_task, stats) => {
      meter.modelTokens += stats.realTokens;
      meter.paddedTokens += stats.paddedTokens;
    },
  });
}

/** The product's PipelineService, its first fetch and every commit timed into `meter`. */
function meteredService(
  cfg: FinsentryConfig,
  ports: { kafka: Kafka; enricher: OnnxEnricher; store: RedisWindowStore; logger: Logger },
  meter: PipelineMeter,
): PipelineService {
  const observer: PipelineObserver = {
    ...NOOP_OBSERVER,
    documentsConsumed: () => {
      meter.firstFetchAt ??= performance.now();
    },
    observeStage: (stage) => {
      if (stage === 'commit') meter.lastCommitAt = performance.now();
    },
  };
  return new PipelineService(cfg, {
    kafka: ports.kafka,
    enricher: ports.enricher,
    stats: ports.store,
    buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, cfg.stats.dimensions),
    labels: null,
    authorKey: randomBytes(16).toString('hex'),
    logger: ports.logger,
    observer,
    pipelineVersion: 'bench',
  });
}

/** The throughput row: from the first fetched input record to the last offset commit. */
function throughputRow(
  ctx: BenchContext,
  cfg: FinsentryConfig,
  meter: PipelineMeter,
  counters: PipelineService['processor']['counters'],
  store: RedisWindowStore,
): BenchRow {
  if (meter.firstFetchAt === undefined) throw new Error('bench pipeline: no input was fetched');
  const seconds = (meter.lastCommitAt - meter.firstFetchAt) / 1000;
  if (counters.deadLettered > 0)
    ctx.log(`pipeline: warning: ${counters.deadLettered} documents were dead-lettered`);
  const textTokens = ctx.docTokens.reduce((a, b) => a + b, 0);
  const { modelTokens, paddedTokens } = meter;
  return row(
    'pipeline',
    'full pipeline: Kafka → inference → Redis stats → Kafka',
    ctx.corpus.length,
    [seconds],
    seconds,
    textTokens,
    modelTokens,
    `${PARTITIONS} partitions per input topic; batcher max ${cfg.batching.maxBatchSize} windows / ${cfg.batching.maxBatchTokens} tokens; ${cfg.kafka.compression} output`,
    {
      enriched: counters.enriched,
      deadLettered: counters.deadLettered,
      committedBatches: counters.committedBatches,
      paddingRatio: paddedTokens > 0 ? Number((1 - modelTokens / paddedTokens).toFixed(4)) : null,
      redisRoundTripsPerApply:
        store.applyCalls > 0 ? Number((store.roundTrips / store.applyCalls).toFixed(3)) : null,
    },
  );
}

export async function pipelineRow(
  ctx: BenchContext,
  options: { latency: boolean },
): Promise<{ row: BenchRow; latency: LatencyResult | null }> {
  const logger = createLogger(process.env.FINSENTRY_LOG_LEVEL ?? 'error', 'finsentry-bench');
  const base = `finsentry-bench-${randomBytes(4).toString('hex')}`;
  const topics: Topics = {
    news: `${base}.news`,
    chat: `${base}.chat`,
    enriched: `${base}.enriched`,
    dlq: `${base}.dlq`,
    late: `${base}.late`,
  };
  const cfg = benchPipelineConfig(ctx, base, topics);
  const kafka: Kafka = buildKafka(cfg.kafka, logger);
  // The bench's own admin/producer/consumer: quiet (kafkajs logs a retried "not the leader" right after topic creation).
  const { logCreator: _creator, ...quietConfig } = buildKafkaJsConfig(cfg.kafka, logger);
  const benchKafka = new Kafka({ ...quietConfig, logLevel: logLevel.NOTHING });
  const admin = benchKafka.admin();
  await admin.connect();
  const producer = benchKafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const redis = createRedisClient(cfg.redis);
  const store = new RedisWindowStore(redis, windowStoreOptions(cfg));
  let service: PipelineService | undefined;
  let enricher: OnnxEnricher | undefined;
  const latencyConsumer = benchKafka.consumer({ groupId: `${base}-latency`, maxWaitTimeInMs: 100 });
  try {
    await createServedTopics(admin, Object.values(topics), PARTITIONS);
    await producer.connect();
    ctx.log(`pipeline: producing ${ctx.corpus.length} input records to ${topics.news} / ${topics.chat}`);
    await produceAll(
      producer,
      topics,
      ctx.corpus,
      (d) => d.id,
      (d) => d.value,
    );
    const meter: PipelineMeter = {
      firstFetchAt: undefined,
      lastCommitAt: 0,
      modelTokens: 0,
      paddedTokens: 0,
    };
    enricher = await meteredEnricher(cfg, meter);
    service = meteredService(cfg, { kafka, enricher, store, logger }, meter);
    await service.start();
    await waitFor(
      () => allCommitted(admin, cfg.kafka.groupId, [topics.news, topics.chat]),
      Math.max(600_000, ctx.corpus.length * 200),
      'every input record to be committed',
    );
    const counters = { ...service.processor.counters };
    const result = throughputRow(ctx, cfg, meter, counters, store);
    const latency = options.latency
      ? await measureLatency(ctx, {
          producer,
          consumer: latencyConsumer,
          topics,
          capacity: result.docsPerSecond,
          throughputOutputs: counters.enriched,
        })
      : null;
    return { row: result, latency };
  } finally {
    await latencyConsumer.disconnect().catch(() => undefined);
    if (service) await service.stop(30_000).catch(() => false);
    await enricher?.close().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await store.deleteAll().catch(() => 0);
    await redis.quit().catch(() => undefined);
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

async function measureLatency(
  ctx: BenchContext,
  io: {
    producer: Producer;
    consumer: ReturnType<Kafka['consumer']>;
    topics: Topics;
    capacity: number;
    throughputOutputs: number;
  },
): Promise<LatencyResult> {
  const rate = Math.max(0.5, io.capacity / 2);
  const count = Math.max(30, Math.round(rate * ctx.latencySeconds));
  const docs = Array.from({ length: count }, (_, i) => ctx.corpus[i % ctx.corpus.length] as BenchDocument);
  const keyOf = (i: number): string => `lat-${i}`;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let seenThroughput = 0;
  await io.consumer.connect();
  await io.consumer.subscribe({ topic: io.topics.enriched, fromBeginning: true });
  await io.consumer.run({
    eachMessage: async ({ message }) => {
      const key = message.key?.toString() ?? '';
      const sent = sentAt.get(key);
      if (sent === undefined) {
        seenThroughput++;
        return;
      }
      latencies.push(Number(message.timestamp) - sent);
    },
  });
  // Read past the throughput phase's outputs first, so that the latency consumer is idle while timing.
  await waitFor(() => seenThroughput >= io.throughputOutputs, 120_000, 'the latency consumer to catch up');
  ctx.log(
    `pipeline: latency at ${rate.toFixed(1)} docs/s (50% of capacity) for ~${ctx.latencySeconds}s, ${count} documents`,
  );
  const start = Date.now();
  let next = 0;
  while (next < count) {
    const due = Math.min(count, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
    if (due > next) {
      const now = Date.now();
      const batch = docs.slice(next, due).map((d, j) => {
        const i = next + j;
        // Stamped now: the corpus's own event times are behind the watermark the throughput phase left,
        // so its records would be timed on the late path (the late topic), not the one measured here.
        const record = {
          ...d.record,
          id: keyOf(i),
          ...(d.topic === 'news' ? { published_at: now } : { sent_at: now }),
        };
        sentAt.set(keyOf(i), now);
        return {
          topic: d.topic,
          message: { key: keyOf(i), value: encodePlain(d.topic, record), timestamp: String(now) },
        };
      });
      next = due;
      const topicMessages = (['news', 'chat'] as const)
        .map((topic) => ({
          topic: io.topics[topic],
          messages: batch.filter((b) => b.topic === topic).map((b) => b.message),
        }))
        .filter((t) => t.messages.length > 0);
      await io.producer.sendBatch({ topicMessages, acks: -1 });
    }
    const wait = start + ((next + 0) * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, 50)));
  }
  await waitFor(
    () => latencies.length >= count,
    120_000 + (count / rate) * 1000,
    'the enriched records of the latency phase',
  ).catch((err: unknown) => {
    ctx.log(`pipeline: ${(err as Error).message}; reporting the ${latencies.length} received`);
  });
  return {
    ratePerSecond: Number(rate.toFixed(2)),
    documents: count,
    received: latencies.length,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? Math.max(...latencies) : NaN,
  };
}
