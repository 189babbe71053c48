import { performance } from 'node:perf_hooks';
import type { Span } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';
import { buildEnrichedRecord, encodeEnriched } from '../codec/enriched.js';
import type { InputCodec, InputResult } from '../codec/input.js';
import { reject, type Rejection } from '../codec/reasons.js';
import type { SchemaRegistry } from '../codec/registry.js';
import type { InputLabel } from '../codec/validate.js';
import type { DocumentKind, InputDocument } from '../domain/documents.js';
import type { Enricher, Enrichment } from '../domain/enrichment.js';
import type { StatsObservation } from '../domain/observation.js';
import type { StatsApplyResult, StatsBatch, StatsSink } from '../domain/windows.js';
import type { PartitionBatch } from '../io/kafka/consumer.js';
import { OutputsLost, type BatchOutputs, type Delivery } from '../io/kafka/delivery.js';
import type { OutRecord, RawRecord } from '../io/kafka/types.js';
import type { Logger } from '../telemetry/logger.js';
import { outputHeaders as traceHeaders, withStageSpan } from '../telemetry/tracing.js';
import { buildDeadLetter, chunkBySize, DEFAULT_MAX_DEAD_LETTER_BYTES } from './dlq.js';
import type { PredictionIndex } from './label-join.js';
import { lateRecords } from './late-records.js';
import type { LabelSink } from './label-sink.js';
import { NOOP_OBSERVER, type PipelineObserver } from './observer.js';
import { PartitionOffsetTracker } from './offsets.js';
import { PauseRegistry } from './pause.js';
import { backoffDelay, DEFAULT_BACKOFF, Semaphore, type BackoffOptions } from './retry.js';

const HEARTBEAT_EVERY_MS = 1_000;
/** Coordinator answers meaning this member's generation is over: committing is pointless, give the batch up. */
const GENERATION_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'FENCED_INSTANCE_ID',
]);

/** A micro-batch that failed this many times in a row is probed for poison documents (see isolatePoison). */
export const POISON_PROBE_AFTER_ATTEMPTS = 3;
const CANARY_TEXT = 'Shares closed higher after the company reported quarterly results.';

function isRejection(value: Enrichment | Rejection): value is Rejection {
  return typeof (value as Rejection).reason === 'string' && typeof (value as Rejection).stage === 'string';
}

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
  labels: LabelSink | null;
  /** Remembers predictions for the label join (src/pipeline/label-join.ts); null when labels are not consumed. */
  predictions?: PredictionIndex | null;
  logger: Logger;
  observer?: PipelineObserver;
  hooks?: ProcessorHooks;
  clock?: () => number;
}

/** Thrown inside a batch to give it up without committing: stopping, revoked, aborted. The records are fetched again. */
class AbandonBatch extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AbandonBatch';
  }
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

type DecodedItem = { record: RawRecord; result: InputResult<InputDocument> };

/**
 * The per-partition batch pipeline (design §1):
 *
 *   decode + validate ─bad─▶ DLQ
 *        ▼
 *   micro-batches of batching.maxBatchSize ─▶ Enricher.enrich (at most maxInFlightBatches at once, process-wide)
 *        ▼
 *   finsentry.enriched (key = input key, trace context copied)  ∥  StatsSink.apply (per partition, in offset order)
 *        ▼
 *   commit — only offsets whose every earlier offset has all outputs acknowledged (PartitionOffsetTracker)
 *
 * Failure policy: bad input is dead-lettered and the pipeline moves on; a failing dependency (broker,
 * Redis, schema registry, inference) pauses the partition and is retried with exponential backoff while
 * heartbeating, nothing is committed meanwhile. If the consumer stops or the partition is revoked
 * during a retry, the batch is abandoned uncommitted and will be re-read (at-least-once; the stats store
 * is effectively-once by offset). Backpressure: when more than maxQueuedDocuments records are fetched
 * but unfinished, partitions are paused until the backlog halves.
 *
 * Exactly-once delivery (kafka.delivery=exactly-once, src/io/kafka/delivery.ts): the outputs of a batch
 * go into a transaction of the partition's transactional producer, and the commit sends the offset in
 * that transaction and commits it. A commit then covers every output sent so far, so it is made only
 * when no later micro-batch of the same fetch is still in flight (normally once, at the end of the
 * fetch). A failed transaction cannot be retried piecemeal: the batch is given up and redone.
 *
 * Ordering, in both modes: Redis apply → (offset commit | transaction commit). Why a crash between the
 * two still counts every record once: the Redis script stores the partition's last applied offset with
 * the counters, atomically, and skips observations at or below it. After the crash the offsets are not
 * committed (exactly-once: the transaction, outputs and offsets alike, is aborted when the restarted or
 * new owner initialises the partition's transactional.id, or at its timeout), so the records are read
 * and enriched again; their outputs are produced again (exactly-once: into a new transaction, the only
 * one read_committed consumers ever see), while the stats apply finds them already applied and changes
 * nothing. The reverse order would lose statistics: offsets committed, Redis not yet applied, records
 * never read again.
 */
export class PipelineProcessor {
  readonly counters: ProcessorCounters = {
    enriched: 0,
    deadLettered: 0,
    labels: 0,
    committedBatches: 0,
    abandonedBatches: 0,
    retries: 0,
  };

  private readonly observer: PipelineObserver;
  private readonly clock: () => number;
  private readonly inference: Semaphore;
  private readonly pauses = new PauseRegistry();
  private readonly backoff: BackoffOptions;
  private queued = 0;
  private aborted = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Per running batch: the heartbeat failure seen while it runs (a rebalance), if any. */
  private readonly rebalancing = new Map<PartitionBatch, () => string | null>();

  constructor(
    private readonly options: ProcessorOptions,
    private readonly deps: ProcessorDeps,
  ) {
    this.observer = deps.observer ?? NOOP_OBSERVER;
    this.clock = deps.clock ?? Date.now;
    this.inference = new Semaphore(options.batching.maxInFlightBatches);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** Input topics this processor consumes (labels only when a LabelSink is wired). */
  inputTopics(): string[] {
    const { news, chat, labels } = this.options.topics;
    return labels && this.deps.labels ? [news, chat, labels] : [news, chat];
  }

  /**
   * Stops committing at once: running batches return at their next step without committing (as if the
   * process had crashed there). Used for fatal errors and by tests that simulate a crash.
   */
  abort(): void {
    this.aborted = true;
  }

  get isAborted(): boolean {
    return this.aborted;
  }

  /** Resolves when every batch handler that has started has returned. */
  async drained(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** The eachBatch handler (pass to BatchConsumer.start). */
  handleBatch = async (batch: PartitionBatch): Promise<void> => {
    const run = this.runBatch(batch);
    this.inFlight.add(run);
    try {
      await run;
    } finally {
      this.inFlight.delete(run);
    }
  };

  private async runBatch(fetched: PartitionBatch): Promise<void> {
    if (this.aborted || fetched.records.length === 0) return;
    let batch = fetched;
    const topicPartition = `${batch.topic}:${batch.partition}`;
    const size = batch.records.length;
    this.queued += size;
    this.observer.queuedDocuments(this.queued);
    if (this.queued > this.options.batching.maxQueuedDocuments) {
      this.pauses.pause(topicPartition, 'backpressure', batch.pause);
      this.observer.pausedPartitions(this.pauses.size);
    }
    const lastOffset = batch.records[batch.records.length - 1]!.offset;
    this.observer.consumerLag(
      batch.topic,
      batch.partition,
      Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n),
    );
    const started = performance.now();
    // Keeps the group membership alive while a long batch is processed (kafkajs only sends a heartbeat
    // when its interval has passed, so calling often is cheap). A failing heartbeat means the group is
    // rebalancing: the batch is then given up at its next step instead of committing into a new generation.
    let heartbeatFailure: string | null = null;
    const heartbeats = setInterval(() => {
      batch.heartbeat().catch((err: unknown) => {
        heartbeatFailure ??= err instanceof Error ? err.message : String(err);
      });
    }, HEARTBEAT_EVERY_MS);
    this.rebalancing.set(fetched, () => heartbeatFailure);
    let out: BatchOutputs | null = null;
    try {
      out = await this.withRetry(fetched, 'begin-outputs', () => this.deps.delivery.begin(fetched));
      const committed = out.committedOffset;
      if (committed !== null && BigInt(fetched.records[0]!.offset) < BigInt(committed)) {
        // Exactly-once, partition just (re)taken: an earlier owner committed past this member's fetch position.
        const records = fetched.records.filter((r) => BigInt(r.offset) >= BigInt(committed));
        this.deps.logger.info(
          { topic: fetched.topic, partition: fetched.partition, committed, skipped: size - records.length },
          'skipping records an earlier owner already committed',
        );
        if (records.length === 0) {
          fetched.resolve(lastOffset);
          return;
        }
        batch = { ...fetched, records };
        this.rebalancing.set(batch, () => heartbeatFailure);
      }
      if (batch.topic === this.options.topics.labels) await this.processLabels(batch, out);
      else
        await this.processDocuments(batch, batch.topic === this.options.topics.chat ? 'chat' : 'news', out);
      this.observer.observeStage('batch', (performance.now() - started) / 1000);
      this.observer.batchCompleted(this.clock());
    } catch (err) {
      if (!(err instanceof AbandonBatch)) throw err; // a bug: let kafkajs restart the consumer from the committed offsets
      this.counters.abandonedBatches++;
      this.deps.logger.info(
        { topic: batch.topic, partition: batch.partition, reason: err.message },
        'batch abandoned without commit; it will be read again',
      );
    } finally {
      if (out)
        await out
          .close()
          .catch((err: unknown) =>
            this.deps.logger.warn(
              { topic: batch.topic, partition: batch.partition, err: (err as Error).message },
              'closing the batch outputs failed',
            ),
          );
      clearInterval(heartbeats);
      this.rebalancing.delete(fetched);
      this.rebalancing.delete(batch);
      this.pauses.resume(topicPartition, 'retry');
      this.queued -= size;
      this.observer.queuedDocuments(this.queued);
      if (this.queued <= this.options.batching.maxQueuedDocuments / 2) this.pauses.resumeAll('backpressure');
      this.observer.pausedPartitions(this.pauses.size);
    }
  }

  // ---------------------------------------------------------------- documents

  private async processDocuments(
    batch: PartitionBatch,
    kind: DocumentKind,
    out: BatchOutputs,
  ): Promise<void> {
    const fetchedAt = performance.now();
    const tracker = new PartitionOffsetTracker();
    tracker.track(batch.records.map((r) => r.offset));
    this.observer.documentsConsumed(batch.topic, kind, batch.records.length);

    const ids = batch.records
      .map((r) => this.deps.codec.avro.schemaIdOf(r.value))
      .filter((id): id is number => id !== null);
    if (ids.length > 0)
      await this.withRetry(batch, 'schema-registry', () => this.deps.registry.prefetch(ids));

    const decodeStart = performance.now();
    const items: DecodedItem[] = await withStageSpan(
      'decode',
      batch.records.map((r) => r.headers),
      () => batch.records.map((record) => ({ record, result: this.deps.codec.document(record, kind) })),
      {
        attributes: {
          'messaging.destination.name': batch.topic,
          'messaging.kafka.partition': batch.partition,
        },
      },
    );
    this.observer.observeStage('decode', (performance.now() - decodeStart) / 1000);

    const chunks: DecodedItem[][] = [];
    for (let i = 0; i < items.length; i += this.options.batching.maxBatchSize)
      chunks.push(items.slice(i, i + this.options.batching.maxBatchSize));

    // A window of at most maxInFlightBatches chunks; chunk i+1 enriches while chunk i produces.
    // Stats are applied strictly in offset order (the store skips batches at or below its stored offset).
    const window: Array<Promise<void>> = [];
    let statsChain: Promise<void> = Promise.resolve();
    let failure: unknown = null;
    // Exactly-once: a commit covers every output sent so far, so only commit when nothing later is in flight.
    const commitNow = (): boolean => this.deps.delivery.mode !== 'exactly-once' || window.length === 0;
    try {
      for (const chunk of chunks) {
        // Stopping (SIGTERM): finish and commit the chunks in flight, start no new one; the rest is
        // not committed and is read again after the restart.
        if (failure || (!batch.isRunning() && chunk !== chunks[0])) break;
        const { done, statsDone } = this.processChunk(batch, out, kind, chunk, statsChain, fetchedAt);
        statsChain = statsDone;
        const completed = done.then(() => {
          tracker.complete(chunk.map((item) => item.record.offset));
        });
        // Awaited below in order; until then a rejection must not count as unhandled (it would kill the process).
        completed.catch(() => {});
        window.push(completed);
        if (window.length >= this.options.batching.maxInFlightBatches) {
          try {
            await window.shift();
            if (commitNow()) await this.commitReleased(batch, out, tracker);
          } catch (err) {
            failure = err;
          }
        }
      }
      while (window.length > 0 && !failure) {
        try {
          await window.shift();
          if (commitNow()) await this.commitReleased(batch, out, tracker);
        } catch (err) {
          failure = err;
        }
      }
    } finally {
      // Never return while chunks of this batch still run: a re-fetch of the same records must not race them.
      await Promise.allSettled(window);
    }
    if (failure) throw failure;
  }

  private processChunk(
    batch: PartitionBatch,
    out: BatchOutputs,
    kind: DocumentKind,
    chunk: DecodedItem[],
    previousStats: Promise<void>,
    fetchedAt: number,
  ): { done: Promise<void>; statsDone: Promise<void> } {
    const docs: InputDocument[] = [];
    const docRecords: RawRecord[] = [];
    const rejected: Array<{ record: RawRecord; rejection: Rejection }> = [];
    for (const item of chunk) {
      if (item.result.ok) {
        docs.push(item.result.value);
        docRecords.push(item.record);
      } else {
        rejected.push({ record: item.record, rejection: item.result.rejection });
      }
    }

    const deadLettered =
      rejected.length === 0 ? Promise.resolve() : this.sendDeadLetters(batch, out, rejected);

    const enriched = (async () => {
      const poisoned: Array<{ record: RawRecord; rejection: Rejection }> = [];
      if (docs.length === 0)
        return {
          records: [] as OutRecord[],
          observations: [] as StatsObservation[],
          poisoned,
          recordOffsets: [],
        };
      const stageSpans: Span[] = [];
      const outcomes: Array<Enrichment | Rejection> = await this.inference.run(() =>
        this.withRetry(
          batch,
          'enrich',
          () => this.enrichDocuments(docs, stageSpans),
          (attempt) =>
            attempt >= POISON_PROBE_AFTER_ATTEMPTS
              ? this.isolatePoison(docs, stageSpans)
              : Promise.resolve(null),
        ),
      );
      const now = this.clock();
      const latencyMs = performance.now() - fetchedAt;
      const observations: StatsObservation[] = [];
      const records: OutRecord[] = [];
      const recordOffsets: string[] = []; // input offset of each enriched record, for the late topic
      docs.forEach((doc, i) => {
        const outcome = outcomes[i]!;
        if (isRejection(outcome)) {
          poisoned.push({ record: docRecords[i]!, rejection: outcome });
          return;
        }
        const enrichment = outcome;
        const built = this.deps.buildObservation?.(doc, enrichment) ?? null;
        const observation = built ? { ...built, offset: doc.position.offset } : null;
        if (observation) observations.push(observation);
        this.observer.eventTimeLag(Math.max(0, (now - doc.eventTimeMs) / 1000));
        const value = encodeEnriched(
          buildEnrichedRecord(doc, enrichment, {
            groups: observation?.groups ?? [],
            processingLatencyMs: latencyMs,
            processedAtMs: now,
            pipelineVersion: this.options.pipelineVersion,
            maxEntities: this.options.maxEntitiesPerDocument,
          }),
          this.options.enrichedSchemaId,
        );
        records.push({ key: doc.key, value, headers: outputHeaders(doc, enrichment, stageSpans) });
        recordOffsets.push(doc.position.offset);
      });
      return { records, observations, poisoned, recordOffsets };
    })();

    const predictionIndex = this.deps.predictions;
    const remembered = enriched.then(async ({ observations }) => {
      if (predictionIndex && observations.length > 0)
        await this.withRetry(batch, 'predictions', () => predictionIndex.remember(observations));
    });

    const poisonDeadLettered = enriched.then(({ poisoned }) =>
      poisoned.length > 0 ? this.sendDeadLetters(batch, out, poisoned) : undefined,
    );

    const produced = enriched.then(async ({ records }) => {
      if (records.length === 0) return;
      await this.withRetry(batch, 'produce', () =>
        withStageSpan(
          'produce',
          docs.map((d) => d.headers),
          async () => {
            const start = performance.now();
            await out.send([{ topic: this.options.topics.enriched, records }]);
            this.observer.observeStage('produce', (performance.now() - start) / 1000);
          },
        ),
      );
      this.observer.produced(this.options.topics.enriched, records.length);
    });

    const statsDone = Promise.all([enriched, previousStats]).then(async ([enrichedBatch]) => {
      const { observations } = enrichedBatch;
      const sink = this.deps.stats;
      if (!sink || observations.length === 0) return;
      const statsBatch: StatsBatch = {
        partitionKey: `${batch.topic}:${batch.partition}`,
        lastOffset: chunk[chunk.length - 1]!.record.offset,
        observations,
        labels: [],
      };
      const [result] = await this.withRetry(batch, 'stats', () =>
        withStageSpan(
          'stats',
          docs.map((d) => d.headers),
          async () => {
            const start = performance.now();
            const results = await sink.apply([statsBatch]);
            const seconds = (performance.now() - start) / 1000;
            this.observer.observeStage('stats', seconds);
            this.observer.redisLatency('apply', seconds);
            return results;
          },
        ),
      );
      if (result) {
        if (result.late > 0) this.observer.lateEvents(result.late);
        if (result.future) this.observer.lateEvents(result.future, 'future');
        this.observer.watermark(result.watermarkMs);
        await this.sendLateRecords(batch, out, result, enrichedBatch);
      }
    });

    const done = Promise.all([
      deadLettered,
      produced,
      statsDone,
      poisonDeadLettered,
      remembered,
      enriched,
    ]).then(([, , , , , { records }]) => {
      this.counters.enriched += records.length;
      this.observer.documentsProcessed(kind, records.length);
    });
    // Each branch is awaited through `done` (or by the next chunk); these no-op handlers only keep a
    // branch that fails before anyone awaits it from being reported as an unhandled rejection.
    for (const p of [deadLettered, enriched, produced, statsDone, poisonDeadLettered, remembered, done])
      p.catch(() => {});
    return { done, statsDone };
  }

  /** One enrich call for `docs`, in an `infer` span. */
  private async enrichDocuments(docs: InputDocument[], stageSpans: Span[]): Promise<Enrichment[]> {
    return withStageSpan(
      'infer',
      docs.map((d) => d.headers),
      async (span) => {
        const inferStart = performance.now();
        const results = await this.deps.enricher.enrich(docs.map((d) => ({ id: d.id, text: d.text })));
        if (results.length !== docs.length)
          throw new Error(`enricher returned ${results.length} results for ${docs.length} documents`);
        this.observer.observeStage('infer', (performance.now() - inferStart) / 1000);
        stageSpans.push(span);
        return results;
      },
    );
  }

  /**
   * Poison-document isolation, after a micro-batch failed POISON_PROBE_AFTER_ATTEMPTS times: each
   * document is enriched alone; if some fail, a canary text is enriched. When the canary succeeds the
   * inference backend is healthy and the failing documents are poison — they go to the DLQ as
   * `enrich-failed` (stage enrich) instead of blocking the partition forever. When the canary fails
   * too, it is an infrastructure failure: null, and the batch keeps being retried with backoff.
   */
  private async isolatePoison(
    docs: InputDocument[],
    stageSpans: Span[],
  ): Promise<Array<Enrichment | Rejection> | null> {
    const results: Array<Enrichment | Error> = [];
    for (const doc of docs) {
      try {
        results.push((await this.enrichDocuments([doc], stageSpans))[0]!);
      } catch (err) {
        results.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (!results.some((r) => r instanceof Error)) return results as Enrichment[];
    try {
      await this.deps.enricher.enrich([{ id: 'finsentry-canary', text: CANARY_TEXT }]);
    } catch {
      return null;
    }
    return results.map((r) =>
      r instanceof Error
        ? reject(
            'enrich-failed',
            'enrich',
            `inference fails on this document while a canary text succeeds: ${r.message}`,
          )
        : r,
    );
  }

  /** Refused observations' enriched records to the late topic, before the commit (docs/guarantees.md#event-time). */
  private async sendLateRecords(
    batch: PartitionBatch,
    out: BatchOutputs,
    result: StatsApplyResult,
    enriched: { records: OutRecord[]; recordOffsets: string[] },
  ): Promise<void> {
    const topic = this.options.topics.late;
    const late = lateRecords(
      result.refused ?? [],
      enriched.records.map((record, i) => ({ record, offset: enriched.recordOffsets[i]! })),
      { topic: batch.topic, partition: batch.partition, eventClockMs: result.watermarkMs },
    );
    if (!topic || late.length === 0) return;
    await this.withRetry(batch, 'late-produce', () => out.send([{ topic, records: late }]));
    this.observer.produced(topic, late.length);
  }

  private async sendDeadLetters(
    batch: PartitionBatch,
    out: BatchOutputs,
    rejected: Array<{ record: RawRecord; rejection: Rejection }>,
  ): Promise<void> {
    const now = this.clock();
    const records = rejected.map(({ record, rejection }) =>
      buildDeadLetter(record, rejection, {
        consumerGroup: this.options.groupId,
        nowMs: now,
        ...(this.options.maxDeadLetterBytes !== undefined
          ? { maxBytes: this.options.maxDeadLetterBytes }
          : {}),
      }),
    );
    // The broker's size limit is per record batch, and one send puts a partition's records in one
    // batch: dead letters go in sends of at most maxDeadLetterBytes together (each one fits alone).
    const chunks = chunkBySize(records, this.options.maxDeadLetterBytes ?? DEFAULT_MAX_DEAD_LETTER_BYTES);
    await this.withRetry(batch, 'dlq-produce', async () => {
      for (const chunk of chunks) await out.send([{ topic: this.options.topics.dlq, records: chunk }]);
    });
    for (const { record, rejection } of rejected) {
      this.observer.dlq(rejection.reason);
      this.deps.logger.warn(
        {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          reason: rejection.reason,
          stage: rejection.stage,
          detail: rejection.message,
        },
        'record dead-lettered',
      );
    }
    this.counters.deadLettered += rejected.length;
    this.observer.produced(this.options.topics.dlq, records.length);
  }

  // ---------------------------------------------------------------- labels

  private async processLabels(batch: PartitionBatch, out: BatchOutputs): Promise<void> {
    const sink = this.deps.labels;
    if (!sink) throw new AbandonBatch('labels topic consumed without a LabelSink');
    this.observer.documentsConsumed(batch.topic, 'label', batch.records.length);
    const ids = batch.records
      .map((r) => this.deps.codec.avro.schemaIdOf(r.value))
      .filter((id): id is number => id !== null);
    if (ids.length > 0)
      await this.withRetry(batch, 'schema-registry', () => this.deps.registry.prefetch(ids));
    const labels: InputLabel[] = [];
    const rejected: Array<{ record: RawRecord; rejection: Rejection }> = [];
    for (const record of batch.records) {
      const result = this.deps.codec.label(record);
      if (result.ok) labels.push(result.value);
      else rejected.push({ record, rejection: result.rejection });
    }
    await Promise.all([
      rejected.length > 0 ? this.sendDeadLetters(batch, out, rejected) : Promise.resolve(),
      labels.length > 0 ? this.withRetry(batch, 'labels', () => sink.accept(labels)) : Promise.resolve(),
    ]);
    this.counters.labels += labels.length;
    await this.commit(batch, out, batch.records[batch.records.length - 1]!.offset);
  }

  // ---------------------------------------------------------------- commits and retries

  private async commitReleased(
    batch: PartitionBatch,
    out: BatchOutputs,
    tracker: PartitionOffsetTracker,
  ): Promise<void> {
    const last = tracker.release();
    if (last !== null) await this.commit(batch, out, last);
  }

  /** Commits the offsets up to `lastOffset` (exactly-once: with the outputs, in their transaction). */
  private async commit(batch: PartitionBatch, out: BatchOutputs, lastOffset: string): Promise<void> {
    if (this.aborted) throw new AbandonBatch('aborted before commit');
    if (batch.isStale()) throw new AbandonBatch('partition revoked or seeked before commit');
    await this.deps.hooks?.beforeCommit?.({ topic: batch.topic, partition: batch.partition, lastOffset });
    if (this.aborted) throw new AbandonBatch('aborted before commit');
    const start = performance.now();
    await this.withRetry(batch, 'commit', async () => {
      try {
        await out.commit(lastOffset);
      } catch (err) {
        // The partition may now belong to another member: its new owner re-reads from the last commit.
        const type = (err as { type?: unknown }).type;
        if (typeof type === 'string' && GENERATION_ERRORS.has(type))
          throw new AbandonBatch(`commit refused by the group coordinator (${type})`);
        throw err;
      }
    });
    this.observer.observeStage('commit', (performance.now() - start) / 1000);
    this.counters.committedBatches++;
  }

  /**
   * Runs a dependency call until it succeeds, backing off exponentially and heartbeating meanwhile,
   * with the partition paused. Gives the batch up (no commit) when the consumer stops, the partition
   * is revoked, the processor is aborted, or the group starts rebalancing.
   */
  private async withRetry<T>(
    batch: PartitionBatch,
    step: string,
    call: () => Promise<T>,
    recover?: (attempt: number) => Promise<T | null>,
  ): Promise<T> {
    const topicPartition = `${batch.topic}:${batch.partition}`;
    for (let attempt = 1; ; attempt++) {
      if (this.aborted) throw new AbandonBatch(`aborted during ${step}`);
      const rebalance = this.rebalancing.get(batch)?.();
      if (rebalance) throw new AbandonBatch(`group rebalancing during ${step} (${rebalance})`);
      try {
        return await call();
      } catch (err) {
        if (err instanceof AbandonBatch) throw err;
        this.counters.retries++;
        if (err instanceof OutputsLost) {
          // The transaction is gone with its records: back off once, then redo the batch from its last commit.
          this.deps.logger.warn(
            { step, topic: batch.topic, partition: batch.partition, err: err.message },
            'transaction failed; the batch will be redone',
          );
          this.pauses.pause(topicPartition, 'retry', batch.pause);
          await this.sleepWithHeartbeat(batch, backoffDelay(1, this.backoff));
          throw new AbandonBatch(`${step}: ${err.message}`);
        }
        if (!batch.isRunning())
          throw new AbandonBatch(`${step} failed while stopping: ${(err as Error).message}`);
        if (batch.isStale()) throw new AbandonBatch(`${step} failed after the partition was revoked`);
        const recovered = recover ? await recover(attempt) : null;
        if (recovered !== null) return recovered;
        const delay = backoffDelay(attempt, this.backoff);
        this.deps.logger.warn(
          {
            step,
            attempt,
            delayMs: delay,
            topic: batch.topic,
            partition: batch.partition,
            err: err instanceof Error ? err.message : String(err),
          },
          'dependency failed; partition paused, retrying',
        );
        this.pauses.pause(topicPartition, 'retry', batch.pause);
        this.observer.pausedPartitions(this.pauses.size);
        await this.sleepWithHeartbeat(batch, delay);
      }
    }
  }

  private async sleepWithHeartbeat(batch: PartitionBatch, delayMs: number): Promise<void> {
    const until = Date.now() + delayMs;
    while (Date.now() < until) {
      if (this.aborted || !batch.isRunning()) return;
      try {
        await batch.heartbeat();
      } catch (err) {
        throw new AbandonBatch(
          `heartbeat failed (${(err as Error).message}); leaving the batch to the rebalance`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, until - Date.now()))));
    }
  }
}

/**
 * Headers of an enriched record: the input's W3C trace context continued by a `finsentry.process` span
 * (src/telemetry/tracing.ts; with tracing off the input's traceparent is forwarded as is), plus the
 * document kind and model identities.
 */
export function outputHeaders(
  doc: InputDocument,
  enrichment: Enrichment,
  stageSpans: readonly Span[] = [],
): IHeaders {
  const headers: IHeaders = { ...traceHeaders(doc.headers, stageSpans) };
  headers['finsentry-kind'] = doc.kind;
  for (const model of enrichment.models)
    headers[`finsentry-model-${model.task}`] = `${model.name}@${model.version}`;
  return headers;
}
