import type { Kafka } from 'kafkajs';
import { AvroDecoder } from '../codec/decode.js';
import { InputCodec } from '../codec/input.js';
import { schemaRegistryFromConfig } from './schema-registry.js';
import type { FinsentryConfig } from '../config/schema.js';
import type { Enricher } from '../domain/enrichment.js';
import type { StatsSink } from '../domain/windows.js';
import { committedOffsetReader } from '../io/kafka/admin.js';
import { installBoundedCodecs } from '../io/kafka/bounded-codecs.js';
import { BatchConsumer } from '../io/kafka/consumer.js';
import { createDelivery, type Delivery } from '../io/kafka/delivery.js';
import { AuthorPseudonymiser, type PseudonymKeys } from '../privacy/pseudonymise.js';
import type { Logger } from '../telemetry/logger.js';
import type { PredictionIndex } from '../pipeline/label-join.js';
import type { LabelSink } from '../pipeline/label-sink.js';
import type { PipelineObserver } from '../pipeline/observer.js';
import { PipelineProcessor, type ObservationBuilder, type ProcessorHooks } from '../pipeline/processor.js';
import type { BackoffOptions } from '../pipeline/retry.js';
import type { StoryRegistry } from '../stats/shared-stories.js';

export interface PipelineServiceDeps {
  kafka: Kafka;
  enricher: Enricher;
  stats: StatsSink | null;
  buildObservation: ObservationBuilder | null;
  /** One story index for all replicas (stats.stories.shared); absent: per-process story ids. */
  stories?: StoryRegistry | null;
  labels?: LabelSink | null;
  /** Where predictions are remembered for the label join (with `labels`). */
  predictions?: PredictionIndex | null;
  /** Key(s) of the author-id HMAC (resolved from config.privacy by the caller). */
  authorKey: string | PseudonymKeys;
  /** Replace PER entities' text on the enriched topic with pseudonyms (privacy.pseudonymisePersons). */
  pseudonymisePersons?: boolean;
  logger: Logger;
  observer?: PipelineObserver;
  hooks?: ProcessorHooks;
  pipelineVersion: string;
  backoff?: BackoffOptions;
  clock?: () => number;
}

export type PipelineConfig = Pick<FinsentryConfig, 'kafka' | 'batching' | 'limits' | 'codec'>;

/**
 * The consuming side of `finsentry run`: consumer group + processor + output delivery (at-least-once
 * or exactly-once, config kafka.delivery), with start, graceful stop and abort. Part of the
 * composition root (src/app): the service (./service.ts), the bench and the integration tests all
 * run this same wiring.
 */
export class PipelineService {
  readonly processor: PipelineProcessor;
  private readonly consumer: BatchConsumer;
  private readonly delivery: Delivery;
  private started = false;
  private stopping: Promise<void> | null = null;
  private joined = false;
  private owned: ReadonlyMap<string, readonly number[]> = new Map();

  constructor(
    private readonly config: PipelineConfig,
    private readonly deps: PipelineServiceDeps,
  ) {
    const { kafka: kafkaConfig, batching, limits, codec } = config;
    // Before the consumer exists: kafkajs' codec table is process-wide (docs/security.md).
    installBoundedCodecs({ maxDecompressedBatchBytes: limits.maxDecompressedBatchBytes });
    const registry = schemaRegistryFromConfig(
      codec,
      process.env,
      deps.observer?.schemaRegistryLookup?.bind(deps.observer),
    );
    const decoder = new AvroDecoder({
      registry,
      wireFormat: codec.wireFormat,
      maxMessageBytes: limits.maxMessageBytes,
    });
    const pseudonymiser = new AuthorPseudonymiser(deps.authorKey);
    const inputCodec = new InputCodec(
      decoder,
      pseudonymiser,
      {
        maxTextChars: limits.maxTextChars,
        maxFutureSkewMs: limits.maxFutureSkew,
        maxTickersPerDocument: limits.maxTickersPerDocument,
        maxUrlChars: limits.maxUrlChars,
        maxAttributeChars: limits.maxAttributeChars,
      },
      deps.clock,
    );
    this.delivery = createDelivery(deps.kafka, {
      mode: kafkaConfig.delivery,
      groupId: kafkaConfig.groupId,
      transactionalIdPrefix: kafkaConfig.transactionalIdPrefix ?? kafkaConfig.groupId,
      transactionTimeoutMs: kafkaConfig.transactionTimeout,
      compression: kafkaConfig.compression,
      maxBatchBytes: limits.maxOutputBatchBytes,
      logger: deps.logger,
    });
    this.processor = new PipelineProcessor(
      {
        groupId: kafkaConfig.groupId,
        topics: kafkaConfig.topics,
        batching,
        maxEntitiesPerDocument: limits.maxEntitiesPerDocument,
        maxDeadLetterBytes: limits.maxDeadLetterBytes,
        pipelineVersion: deps.pipelineVersion,
        ...(codec.enrichedSchemaId !== undefined ? { enrichedSchemaId: codec.enrichedSchemaId } : {}),
        ...(deps.backoff ? { backoff: deps.backoff } : {}),
      },
      {
        codec: inputCodec,
        registry,
        enricher: deps.enricher,
        delivery: this.delivery,
        stats: deps.stats,
        buildObservation: deps.buildObservation,
        stories: deps.stories ?? null,
        labels: deps.labels ?? null,
        predictions: deps.predictions ?? null,
        logger: deps.logger,
        committedOffset: committedOffsetReader(deps.kafka, kafkaConfig.groupId),
        ...(deps.pseudonymisePersons
          ? { personPseudonym: (name: string) => pseudonymiser.person(name) }
          : {}),
        ...(deps.observer ? { observer: deps.observer } : {}),
        ...(deps.hooks ? { hooks: deps.hooks } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
      },
    );
    this.consumer = new BatchConsumer(deps.kafka, {
      groupId: kafkaConfig.groupId,
      topics: this.processor.inputTopics(),
      fromBeginning: kafkaConfig.fromBeginning,
      sessionTimeoutMs: kafkaConfig.sessionTimeout,
      // Each partition's batches are sequential; this many partitions are worked on at once. Inference
      // concurrency is bounded separately (batching.maxInFlightBatches).
      partitionsConsumedConcurrently: Math.max(2, batching.maxInFlightBatches * 2),
      logger: deps.logger,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.joined = true;
      this.owned = new Map(Object.entries(event.payload.memberAssignment));
      this.delivery.assigned(event.payload.memberAssignment);
      deps.logger.info(
        { groupId: event.payload.groupId, assignment: event.payload.memberAssignment },
        'joined consumer group',
      );
    });
  }

  /** The input partitions this member owns since its last group join (lag monitor). */
  assignment(): ReadonlyMap<string, readonly number[]> {
    return this.owned;
  }

  /** True once the consumer has joined its group (readiness). */
  get ready(): boolean {
    return this.joined && !this.stopping;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('pipeline already started');
    this.started = true;
    await this.delivery.connect();
    await this.consumer.start(this.processor.handleBatch);
    this.deps.logger.info(
      {
        topics: this.processor.inputTopics(),
        groupId: this.config.kafka.groupId,
        delivery: this.delivery.mode,
      },
      'pipeline consuming',
    );
  }

  /**
   * Graceful stop (SIGTERM): stop fetching, let in-flight micro-batches finish and commit, leave the
   * group, flush and close the producer. Resolves true when done within `deadlineMs`; false when the
   * deadline passed first (the caller exits non-zero; uncommitted records are re-read on restart).
   */
  async stop(deadlineMs: number): Promise<boolean> {
    this.stopping ??= (async () => {
      await this.consumer.stop();
      await this.processor.drained();
      await this.delivery.disconnect();
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    try {
      return await Promise.race([this.stopping.then(() => true as const), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops without committing anything further, as a crash at this point would (fatal errors, tests). */
  async abort(): Promise<void> {
    this.processor.abort();
    this.stopping ??= (async () => {
      await this.consumer.stop().catch(() => {});
      await this.delivery.disconnect().catch(() => {});
    })();
    await this.stopping;
  }

  /** The error of the last consumer crash, if any (kafkajs restarts retriable ones itself). */
  lastCrash(): Error | null {
    return this.consumer.lastCrash();
  }

  onCrash(listener: (error: Error, restart: boolean) => void): void {
    this.consumer.on(this.consumer.events.CRASH, (event) =>
      listener(event.payload.error, event.payload.restart),
    );
  }
}
