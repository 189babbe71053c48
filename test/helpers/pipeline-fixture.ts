// What the in-process pipeline integration tests (pipeline-labels, pipeline-late-topic,
// pipeline-rebalance) set up the same way on the shared stack: unique topics, a consumer group and a
// Redis key prefix; the config; the product's PipelineService with the test enricher; "every input
// committed" to wait on; and the clean-up of topics and keys at the end.
import type { Redis } from 'ioredis';
import { PipelineService, type PipelineServiceDeps } from '../../src/app/pipeline.js';
import { parseConfig } from '../../src/config/load.js';
import type { FinsentryConfig } from '../../src/config/schema.js';
import { createRedisClient } from '../../src/io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../src/io/redis/window-store.js';
import { buildObservation } from '../../src/stats/grouping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { committedOffsets, highWatermarks, testKafka } from './avro-producer.js';
import { deleteTopics, kafkaBrokers, redisUrl, uniqueName } from './stack.js';
import { TestEnricher } from './test-enricher.js';
import { deletePrefixes } from './window-check.js';

export interface PipelineFixtureOptions {
  /** Names the topics (`fs-<name>-….news`), the group (`fs-<name>-group-…`) and the key prefix. */
  name: string;
  /** A labels topic (the label join). */
  labels?: boolean;
  /** A late-records topic. */
  late?: boolean;
  batching: Record<string, number>;
}

export interface PipelineTopics {
  news: string;
  chat: string;
  labels: string | null;
  enriched: string;
  dlq: string;
  alerts: string;
  late?: string;
}

export class PipelineFixture {
  readonly kafka = testKafka();
  readonly topics: PipelineTopics;
  readonly groupId: string;
  readonly config: FinsentryConfig;
  readonly redis: ReturnType<typeof createRedisClient>;

  constructor(options: PipelineFixtureOptions) {
    const base = uniqueName(`fs-${options.name}`);
    this.topics = {
      news: `${base}.news`,
      chat: `${base}.chat`,
      labels: options.labels ? `${base}.labels` : null,
      enriched: `${base}.enriched`,
      dlq: `${base}.dlq`,
      alerts: `${base}.alerts`,
      ...(options.late ? { late: `${base}.late` } : {}),
    };
    this.groupId = uniqueName(`fs-${options.name}-group`);
    this.config = parseConfig(
      {
        kafka: { brokers: kafkaBrokers(), groupId: this.groupId, topics: this.topics, sessionTimeout: '10s' },
        redis: { url: redisUrl(), keyPrefix: uniqueName(`fs${options.name}`).replace(/-/g, '_') },
        batching: options.batching,
      },
      {},
    );
    this.redis = createRedisClient(this.config.redis);
  }

  /** Every topic the service reads or writes (the alerts topic is not created: nothing writes it). */
  servedTopics(): string[] {
    const { news, chat, labels, enriched, dlq, late } = this.topics;
    return [news, chat, ...(labels ? [labels] : []), enriched, dlq, ...(late ? [late] : [])];
  }

  windowStore(): RedisWindowStore {
    return new RedisWindowStore(this.redis, windowStoreOptions(this.config));
  }

  /** The product's PipelineService with the test enricher, quiet logs and short retry backoff. */
  service(
    deps: Pick<PipelineServiceDeps, 'stats' | 'authorKey'> & Partial<PipelineServiceDeps>,
  ): PipelineService {
    return new PipelineService(this.config, {
      kafka: this.kafka,
      enricher: new TestEnricher(),
      buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, this.config.stats.dimensions),
      logger: createLogger('error'),
      pipelineVersion: 'test',
      backoff: { initialMs: 50, maxMs: 400 },
      ...deps,
    });
  }

  /** True once the group has committed every record of these topics (to their high watermarks). */
  async committedAll(topicNames: readonly string[]): Promise<boolean> {
    for (const topic of topicNames) {
      const [committed, high] = await Promise.all([
        committedOffsets(this.kafka, this.groupId, topic),
        highWatermarks(this.kafka, topic),
      ]);
      for (const [partition, hw] of high) if (hw > 0n && (committed.get(partition) ?? -1n) < hw) return false;
    }
    return true;
  }

  /** Deletes the topics and every key under the prefix, and disconnects (afterAll). */
  async cleanup(): Promise<void> {
    await deleteTopics(this.servedTopics());
    await deletePrefixes(this.redis as Redis, [this.config.redis.keyPrefix]);
    this.redis.disconnect();
  }
}
