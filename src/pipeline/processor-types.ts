import type { InputCodec, InputResult } from '../codec/input.js';
import type { SchemaRegistry } from '../codec/registry.js';
import type { InputDocument } from '../domain/documents.js';
import type { Enricher, Enrichment } from '../domain/enrichment.js';
import type { StatsObservation } from '../domain/observation.js';
import type { StatsSink } from '../domain/windows.js';
import type { StoryRegistry } from '../stats/shared-stories.js';
import type { PartitionBatch } from '../io/kafka/consumer.js';
import type { BatchOutputs, Delivery } from '../io/kafka/delivery.js';
import type { RawRecord } from '../domain/records.js';
import type { Logger } from '../telemetry/logger.js';
import type { PredictionIndex } from './label-join.js';
import type { LabelSink } from './label-sink.js';
import type { PipelineObserver } from './observer.js';
import type { PauseRegistry } from './pause.js';
import type { BackoffOptions, Semaphore } from './retry.js';
import type { CommittedOffsetReader, PartitionStateGuard } from './state-guard.js';

/** Builds the statistics observation (groups, numbers) of an enriched document: src/stats/grouping.ts. */
/** null: nothing to count in the windows (an unscored document, design §3). */
export type ObservationBuilder = (doc: InputDocument, enrichment: Enrichment) => StatsObservation | null;

export interface ProcessorOptions {
  groupId: string;
  topics: { news: string; chat: string; labels: string | null; enriched: string; dlq: string; late?: string };
  batching: { maxBatchSize: number; maxInFlightBatches: number; maxQueuedDocuments: number };
  maxEntitiesPerDocument: number;
  /** limits.maxDeadLetterBytes (default DEFAULT_MAX_DEAD_LETTER_BYTES). */
  maxDeadLetterBytes?: number;
  pipelineVersion: string;
  /** Write enriched values in the Confluent framing with this schema id (plain Avro when absent). */
  enrichedSchemaId?: number;
  backoff?: BackoffOptions;
}

export interface ProcessorHooks {
  /** Called right before a commit; tests use it to inject a crash between "outputs acknowledged" and "offset committed". */
  beforeCommit?(point: { topic: string; partition: number; lastOffset: string }): void | Promise<void>;
}

export interface ProcessorDeps {
  codec: InputCodec;
  registry: SchemaRegistry;
  enricher: Enricher;
  /** Where outputs and offsets go: at-least-once or exactly-once (src/io/kafka/delivery.ts). */
  delivery: Delivery;
  stats: StatsSink | null;
  buildObservation: ObservationBuilder | null;
  /**
   * One story index for every replica (src/stats/shared-stories.ts): resolves the observations'
   * story ids before the enriched records are written. Absent: each process's own StoryIndex ids.
   */
  stories?: StoryRegistry | null;
  labels: LabelSink | null;
  /** Remembers predictions for the label join (src/pipeline/label-join.ts); null when labels are not consumed. */
  predictions?: PredictionIndex | null;
  logger: Logger;
  observer?: PipelineObserver;
  hooks?: ProcessorHooks;
  clock?: () => number;
  /** The group's committed offset of a partition, for the state guard (src/pipeline/state-guard.ts). */
  committedOffset?: CommittedOffsetReader;
  /** Pseudonymises PER entities' text on the enriched topic (privacy.pseudonymisePersons); absent: clear. */
  personPseudonym?: (name: string) => string;
}

/** Counters for logs, tests and `finsentry run`'s shutdown summary. */
export interface ProcessorCounters {
  enriched: number;
  deadLettered: number;
  labels: number;
  committedBatches: number;
  abandonedBatches: number;
  retries: number;
}

/** What every partition batch shares with the others (one per PipelineProcessor). */
export interface ProcessorRuntime {
  readonly options: ProcessorOptions;
  readonly deps: ProcessorDeps;
  readonly observer: PipelineObserver;
  readonly clock: () => number;
  readonly counters: ProcessorCounters;
  /** Bounds enrich calls process-wide (batching.maxInFlightBatches). */
  readonly inference: Semaphore;
  readonly pauses: PauseRegistry;
  readonly backoff: BackoffOptions;
  /** Reconciles the window store's partition state before counting; null when the sink has no state port. */
  readonly stateGuard: PartitionStateGuard | null;
  isAborted(): boolean;
}

/**
 * Runs a dependency call until it succeeds (src/pipeline/batch-retry.ts); `recover` may turn a failing
 * attempt into a result (poison isolation).
 */
export type RetryStep = <T>(
  step: string,
  call: () => Promise<T>,
  recover?: (attempt: number) => Promise<T | null>,
) => Promise<T>;

/** One partition batch being worked on: its records, its outputs and its retry policy. */
export interface BatchContext {
  readonly batch: PartitionBatch;
  readonly out: BatchOutputs;
  readonly retry: RetryStep;
}

export type DecodedItem = { record: RawRecord; result: InputResult<InputDocument> };
