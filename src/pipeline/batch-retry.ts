import type { PartitionBatch } from '../io/kafka/consumer.js';
import { OutputsLost } from '../domain/outputs.js';
import type { ProcessorRuntime } from './processor-types.js';
import { backoffDelay } from './retry.js';

/** Thrown inside a batch to give it up without committing: stopping, revoked, aborted. The records are fetched again. */
export class AbandonBatch extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AbandonBatch';
  }
}

/**
 * The failure policy of one partition batch (design §1): a failing dependency is retried until it
 * succeeds, backing off exponentially and heartbeating meanwhile, with the partition paused. The
 * batch is given up (no commit) when the consumer stops, the partition is revoked, the processor is
 * aborted, or the group starts rebalancing (`rebalance` returns the failed heartbeat's message).
 */
export class BatchRetry {
  /** Dependency calls in flight now, by step (several chunks of one batch run at once). */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly rt: ProcessorRuntime,
    private readonly batch: PartitionBatch,
    private readonly rebalance: () => string | null,
  ) {}

  async run<T>(
    step: string,
    call: () => Promise<T>,
    recover?: (attempt: number) => Promise<T | null>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.throwIfGivenUp(step);
      this.inFlight.set(step, (this.inFlight.get(step) ?? 0) + 1);
      try {
        return await call();
      } catch (err) {
        if (err instanceof AbandonBatch) throw err;
        this.rt.counters.retries++;
        if (err instanceof OutputsLost) return this.redoLostOutputs(step, err);
        if (!this.batch.isRunning())
          throw new AbandonBatch(`${step} failed while stopping: ${(err as Error).message}`);
        if (this.batch.isStale()) throw new AbandonBatch(`${step} failed after the partition was revoked`);
        const recovered = recover ? await recover(attempt) : null;
        if (recovered !== null) return recovered;
        await this.backOff(step, attempt, err);
      } finally {
        const left = (this.inFlight.get(step) ?? 1) - 1;
        if (left > 0) this.inFlight.set(step, left);
        else this.inFlight.delete(step);
      }
    }
  }

  /** The steps with a dependency call in flight (for the stalled-batch warning). */
  pendingSteps(): string[] {
    return [...this.inFlight.keys()];
  }

  private throwIfGivenUp(step: string): void {
    if (this.rt.isAborted()) throw new AbandonBatch(`aborted during ${step}`);
    const rebalance = this.rebalance();
    if (rebalance) throw new AbandonBatch(`group rebalancing during ${step} (${rebalance})`);
  }

  /** The transaction is gone with its records: back off once, then redo the batch from its last commit. */
  private async redoLostOutputs(step: string, err: OutputsLost): Promise<never> {
    const { batch } = this;
    this.rt.deps.logger.warn(
      { step, topic: batch.topic, partition: batch.partition, err: err.message },
      'transaction failed; the batch will be redone',
    );
    this.rt.pauses.pause(`${batch.topic}:${batch.partition}`, 'retry', batch.pause);
    await this.sleepWithHeartbeat(backoffDelay(1, this.rt.backoff));
    throw new AbandonBatch(`${step}: ${err.message}`);
  }

  private async backOff(step: string, attempt: number, err: unknown): Promise<void> {
    const { batch } = this;
    const delay = backoffDelay(attempt, this.rt.backoff);
    this.rt.deps.logger.warn(
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
    this.rt.pauses.pause(`${batch.topic}:${batch.partition}`, 'retry', batch.pause);
    this.rt.observer.pausedPartitions(this.rt.pauses.size);
    await this.sleepWithHeartbeat(delay);
  }

  private async sleepWithHeartbeat(delayMs: number): Promise<void> {
    const until = Date.now() + delayMs;
    while (Date.now() < until) {
      if (this.rt.isAborted() || !this.batch.isRunning()) return;
      // The batch now waits for all its branches: one revoked mid-backoff gives up now, not after it.
      if (this.batch.isStale()) throw new AbandonBatch('partition revoked during the backoff');
      try {
        await this.batch.heartbeat();
      } catch (err) {
        throw new AbandonBatch(
          `heartbeat failed (${(err as Error).message}); leaving the batch to the rebalance`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, until - Date.now()))));
    }
  }
}
