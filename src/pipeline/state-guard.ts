import {
  decidePartitionState,
  type PartitionStateStore,
  type StateEventReason,
} from '../domain/partition-state.js';
import type { StatsSink } from '../domain/windows.js';
import type { PartitionBatch } from '../io/kafka/consumer.js';
import type { Logger } from '../telemetry/logger.js';
import type { PipelineObserver } from './observer.js';

/** The group's committed offset of a partition (next offset to read); null when it has none. */
export type CommittedOffsetReader = (topic: string, partition: number) => Promise<string | null>;

export interface StateGuardDeps {
  store: PartitionStateStore;
  committedOffset: CommittedOffsetReader;
  logger: Logger;
  observer: PipelineObserver;
}

/** The window store's state port, when the sink has one (the Redis store does; in-memory test sinks need not). */
export function partitionStateStoreOf(sink: StatsSink | null): PartitionStateStore | null {
  const s = sink as Partial<PartitionStateStore> | null;
  return s && typeof s.readState === 'function' && typeof s.writeState === 'function'
    ? (s as PartitionStateStore)
    : null;
}

/**
 * Reconciles a partition's window-store state with the fetched batch and the group's committed
 * offset before the batch is counted, and again when the store reports the state missing mid-run
 * (docs/guarantees.md "Lost state and offset reuse", rules in src/domain/partition-state.ts). Kafka
 * Streams, finding its state store's checkpoint gone, restores the store from the changelog and
 * resumes at the committed offset; here the counters are the changelog's equivalent: each carries
 * the offset that last wrote it, so the lost offset is rebuilt exactly and nothing counts twice. A
 * recreated topic is detected by record fingerprints and counted afresh. Every reconciliation is
 * logged and counted (finsentry_partition_state_events_total): never silent.
 */
export class PartitionStateGuard {
  constructor(private readonly deps: StateGuardDeps) {}

  async check(batch: PartitionBatch): Promise<void> {
    const { store } = this.deps;
    const partitionKey = `${batch.topic}:${batch.partition}`;
    let committed: Promise<string | null> | null = null;
    const decision = await decidePartitionState({
      stored: await store.readState(partitionKey),
      records: batch.records,
      highWatermark: batch.highWatermark,
      countedState: () => store.countedState(partitionKey),
      committedOffset: () => (committed ??= this.deps.committedOffset(batch.topic, batch.partition)),
    });
    if (decision.action === 'keep') return;
    if (decision.action === 'init') {
      await store.writeState(partitionKey, { first: decision.first, reason: 'init' });
      return;
    }
    if (decision.action === 'reseed')
      await store.writeState(partitionKey, {
        offset: decision.offset,
        watermarkMs: decision.watermarkMs ?? null,
        first: decision.first,
        reason: decision.reason,
      });
    this.report(batch, decision.reason, decision.detail);
  }

  private report(batch: PartitionBatch, reason: StateEventReason, detail: string): void {
    this.deps.observer.partitionStateEvent?.(batch.topic, batch.partition, reason);
    this.deps.logger.warn(
      { topic: batch.topic, partition: batch.partition, reason, detail },
      reason === 'state-rebuilt'
        ? 'window-store state of the partition was missing: its offset was rebuilt from the counters, nothing is counted twice'
        : reason === 'state-lost'
          ? 'window-store state of the partition was missing and no counter survived: counting resumes at the committed offset; earlier counts are lost'
          : reason === 'offset-reuse'
            ? 'the partition was recreated (offsets reused): its records are counted afresh instead of being skipped as already applied'
            : 'cannot verify that the partition is the one counted (no committed offset, no marker in the batch): its records are skipped as a replay',
    );
  }
}
