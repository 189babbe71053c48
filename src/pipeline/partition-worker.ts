import { performance } from 'node:perf_hooks';
import type { DocumentKind } from '../domain/documents.js';
import type { PartitionBatch } from '../io/kafka/consumer.js';
import type { BatchOutputs } from '../io/kafka/delivery.js';
import { AbandonBatch, BatchRetry } from './batch-retry.js';
import { ChunkFlow } from './chunk-flow.js';
import { processLabels } from './label-flow.js';
import { PartitionOffsetTracker } from './offsets.js';
import type { BatchContext, ProcessorRuntime, RetryStep } from './processor-types.js';

const HEARTBEAT_EVERY_MS = 1_000;
/** A batch still running after this long (and each multiple) is logged with the steps it waits on. */
const STALL_WARN_MS = 60_000;
/** Coordinator answers meaning this member's generation is over: committing is pointless, give the batch up. */
const GENERATION_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'FENCED_INSTANCE_ID',
]);

/**
 * Works one fetched partition batch from start to commit (design §1): heartbeats, opens and closes the
 * batch outputs, runs the micro-batches (src/pipeline/chunk-flow.ts) at most maxInFlightBatches at a
 * time and commits an offset only when it and every earlier offset have all outputs acknowledged
 * (PartitionOffsetTracker). Failures are retried (src/pipeline/batch-retry.ts); a batch given up is
 * not committed and is read again.
 */
export class PartitionWorker {
  private heartbeatFailure: string | null = null;
  private readonly retry: RetryStep;
  private readonly policy: BatchRetry;
  private readonly startedAt = Date.now();
  private nextStallWarningMs = STALL_WARN_MS;

  constructor(
    private readonly rt: ProcessorRuntime,
    private readonly fetched: PartitionBatch,
  ) {
    const policy = new BatchRetry(rt, fetched, () => this.heartbeatFailure);
    this.policy = policy;
    this.retry = (step, call, recover) => policy.run(step, call, recover);
  }

  async run(): Promise<void> {
    const { rt, fetched } = this;
    const started = performance.now();
    const heartbeats = this.startHeartbeats();
    let out: BatchOutputs | null = null;
    try {
      out = await this.retry('begin-outputs', () => rt.deps.delivery.begin(fetched));
      const batch = this.skipCommitted(out);
      if (!batch) return;
      const ctx: BatchContext = { batch, out, retry: this.retry };
      if (batch.topic === rt.options.topics.labels) {
        await processLabels(rt, ctx);
        await this.commit(ctx, batch.records[batch.records.length - 1]!.offset);
      } else {
        const guard = rt.stateGuard;
        if (guard) await this.retry('partition-state', () => guard.check(batch));
        await this.processDocuments(ctx, batch.topic === rt.options.topics.chat ? 'chat' : 'news');
      }
      rt.observer.observeStage('batch', (performance.now() - started) / 1000);
      rt.observer.batchCompleted(rt.clock());
    } catch (err) {
      if (!(err instanceof AbandonBatch)) throw err; // a bug: let kafkajs restart the consumer from the committed offsets
      rt.counters.abandonedBatches++;
      rt.deps.logger.info(
        { topic: fetched.topic, partition: fetched.partition, reason: err.message },
        'batch abandoned without commit; it will be read again',
      );
    } finally {
      if (out) await this.close(out);
      clearInterval(heartbeats);
    }
  }

  /**
   * Keeps the group membership alive while a long batch is processed (kafkajs only sends a heartbeat
   * when its interval has passed, so calling often is cheap). A failing heartbeat means the group is
   * rebalancing: the batch is then given up at its next step instead of committing into a new generation.
   */
  private startHeartbeats(): NodeJS.Timeout {
    return setInterval(() => {
      this.fetched.heartbeat().catch((err: unknown) => {
        this.heartbeatFailure ??= err instanceof Error ? err.message : String(err);
      });
      this.warnIfStalled();
    }, HEARTBEAT_EVERY_MS);
  }

  /** A batch that runs for minutes holds its partition (and kafkajs' fetch loop): say so, with what it waits on. */
  private warnIfStalled(): void {
    const elapsedMs = Date.now() - this.startedAt;
    if (elapsedMs < this.nextStallWarningMs) return;
    this.nextStallWarningMs += STALL_WARN_MS;
    this.rt.deps.logger.warn(
      {
        topic: this.fetched.topic,
        partition: this.fetched.partition,
        elapsedMs,
        pendingSteps: this.policy.pendingSteps(),
        heartbeatFailure: this.heartbeatFailure,
      },
      'partition batch still running',
    );
  }

  /**
   * Exactly-once, partition just (re)taken: an earlier owner may have committed past this member's
   * fetch position. Returns the batch without those records, or null (after resolving the fetch) when
   * nothing is left.
   */
  private skipCommitted(out: BatchOutputs): PartitionBatch | null {
    const { fetched } = this;
    const committed = out.committedOffset;
    if (committed === null || BigInt(fetched.records[0]!.offset) >= BigInt(committed)) return fetched;
    const records = fetched.records.filter((r) => BigInt(r.offset) >= BigInt(committed));
    this.rt.deps.logger.info(
      {
        topic: fetched.topic,
        partition: fetched.partition,
        committed,
        skipped: fetched.records.length - records.length,
      },
      'skipping records an earlier owner already committed',
    );
    if (records.length > 0) return { ...fetched, records };
    fetched.resolve(fetched.records[fetched.records.length - 1]!.offset);
    return null;
  }

  private async close(out: BatchOutputs): Promise<void> {
    await out
      .close()
      .catch((err: unknown) =>
        this.rt.deps.logger.warn(
          { topic: this.fetched.topic, partition: this.fetched.partition, err: (err as Error).message },
          'closing the batch outputs failed',
        ),
      );
  }

  /**
   * Runs the micro-batches in a window of at most maxInFlightBatches (chunk i+1 enriches while chunk i
   * produces) and commits as their offsets are released in order. Stats are applied strictly in offset
   * order: each chunk's apply waits for the one before it.
   */
  private async processDocuments(ctx: BatchContext, kind: DocumentKind): Promise<void> {
    const { rt } = this;
    const { batch } = ctx;
    const flow = new ChunkFlow(rt, ctx, kind);
    const tracker = new PartitionOffsetTracker();
    tracker.track(batch.records.map((r) => r.offset));
    rt.observer.documentsConsumed(batch.topic, kind, batch.records.length);
    const chunks = await flow.decode();

    const window: Array<Promise<void>> = [];
    let statsChain: Promise<void> = Promise.resolve();
    let failure: unknown = null;
    // Exactly-once: a commit covers every output sent so far, so only commit when nothing later is in flight.
    const commitNow = (): boolean => rt.deps.delivery.mode !== 'exactly-once' || window.length === 0;
    const settleOldest = async (): Promise<void> => {
      try {
        await window.shift();
        if (commitNow()) await this.commitReleased(ctx, tracker);
      } catch (err) {
        failure = err;
      }
    };
    try {
      for (const chunk of chunks) {
        // Stopping (SIGTERM): finish and commit the chunks in flight, start no new one; the rest is
        // not committed and is read again after the restart.
        if (failure || (!batch.isRunning() && chunk !== chunks[0])) break;
        const { done, statsDone } = flow.run(chunk, statsChain);
        statsChain = statsDone;
        const completed = done.then(() => tracker.complete(chunk.map((item) => item.record.offset)));
        // Awaited below in order; until then a rejection must not count as unhandled (it would kill the process).
        completed.catch(() => {});
        window.push(completed);
        if (window.length >= rt.options.batching.maxInFlightBatches) await settleOldest();
      }
      while (window.length > 0 && !failure) await settleOldest();
    } finally {
      // Never return while chunks of this batch still run: a re-fetch of the same records must not race them.
      await Promise.allSettled(window);
    }
    if (failure) throw failure;
  }

  private async commitReleased(ctx: BatchContext, tracker: PartitionOffsetTracker): Promise<void> {
    const last = tracker.release();
    if (last !== null) await this.commit(ctx, last);
  }

  /** Commits the offsets up to `lastOffset` (exactly-once: with the outputs, in their transaction). */
  private async commit({ batch, out }: BatchContext, lastOffset: string): Promise<void> {
    const { rt } = this;
    if (rt.isAborted()) throw new AbandonBatch('aborted before commit');
    if (batch.isStale()) throw new AbandonBatch('partition revoked or seeked before commit');
    await rt.deps.hooks?.beforeCommit?.({ topic: batch.topic, partition: batch.partition, lastOffset });
    if (rt.isAborted()) throw new AbandonBatch('aborted before commit');
    const start = performance.now();
    await this.retry('commit', async () => {
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
    rt.observer.observeStage('commit', (performance.now() - start) / 1000);
    rt.counters.committedBatches++;
  }
}
