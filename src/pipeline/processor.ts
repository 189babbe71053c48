import type { PartitionBatch } from '../io/kafka/consumer.js';
import { NOOP_OBSERVER } from './observer.js';
import { PartitionWorker } from './partition-worker.js';
import { PauseRegistry } from './pause.js';
import type {
  ProcessorCounters,
  ProcessorDeps,
  ProcessorOptions,
  ProcessorRuntime,
} from './processor-types.js';
import { DEFAULT_BACKOFF, Semaphore } from './retry.js';
import { PartitionStateGuard, partitionStateStoreOf } from './state-guard.js';

function stateGuardOf(deps: ProcessorDeps): PartitionStateGuard | null {
  const store = partitionStateStoreOf(deps.stats);
  if (!store) return null;
  return new PartitionStateGuard({
    store,
    committedOffset: deps.committedOffset ?? (() => Promise.resolve(null)),
    logger: deps.logger,
    observer: deps.observer ?? NOOP_OBSERVER,
  });
}

export { POISON_PROBE_AFTER_ATTEMPTS } from './enrich-step.js';
export { outputHeaders } from './enriched-output.js';
export type {
  ObservationBuilder,
  ProcessorCounters,
  ProcessorDeps,
  ProcessorHooks,
  ProcessorOptions,
} from './processor-types.js';

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
 * This class holds what partitions share (inference bound, pauses, backpressure, counters, abort);
 * each fetched batch is worked by a PartitionWorker (lifecycle, retry, commit ordering:
 * src/pipeline/partition-worker.ts, batch-retry.ts) whose micro-batches run through the ChunkFlow
 * (decode → enrich → outputs: src/pipeline/chunk-flow.ts). The ordering rules are unit-tested on
 * in-memory ports in test/unit/pipeline/processor-ordering.test.ts.
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

  private readonly runtime: ProcessorRuntime;
  private readonly pauses = new PauseRegistry();
  private queued = 0;
  private aborted = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly options: ProcessorOptions,
    private readonly deps: ProcessorDeps,
  ) {
    this.runtime = {
      options,
      deps,
      observer: deps.observer ?? NOOP_OBSERVER,
      clock: deps.clock ?? Date.now,
      counters: this.counters,
      inference: new Semaphore(options.batching.maxInFlightBatches),
      pauses: this.pauses,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      stateGuard: stateGuardOf(deps),
      isAborted: () => this.aborted,
    };
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

  private async runBatch(batch: PartitionBatch): Promise<void> {
    if (this.aborted || batch.records.length === 0) return;
    const topicPartition = `${batch.topic}:${batch.partition}`;
    const { observer } = this.runtime;
    this.enqueue(batch);
    const lastOffset = batch.records[batch.records.length - 1]!.offset;
    observer.consumerLag(
      batch.topic,
      batch.partition,
      Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n),
    );
    try {
      await new PartitionWorker(this.runtime, batch).run();
    } finally {
      this.pauses.resume(topicPartition, 'retry');
      this.queued -= batch.records.length;
      observer.queuedDocuments(this.queued);
      if (this.queued <= this.options.batching.maxQueuedDocuments / 2) this.pauses.resumeAll('backpressure');
      observer.pausedPartitions(this.pauses.size);
    }
  }

  /** Backpressure: more than maxQueuedDocuments fetched but unfinished pauses the partition (until the backlog halves). */
  private enqueue(batch: PartitionBatch): void {
    const { observer } = this.runtime;
    this.queued += batch.records.length;
    observer.queuedDocuments(this.queued);
    if (this.queued > this.options.batching.maxQueuedDocuments) {
      this.pauses.pause(`${batch.topic}:${batch.partition}`, 'backpressure', batch.pause);
      observer.pausedPartitions(this.pauses.size);
    }
  }
}
