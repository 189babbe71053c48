import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../../telemetry/logger.js';
import { batchRefusalOf } from './bounded-codecs.js';
import type { RawRecord } from './types.js';

/** One fetched batch of one partition, with the controls the pipeline needs while processing it. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  records: RawRecord[];
  /** Partition high watermark at fetch time (decimal string), for lag. */
  highWatermark: string;
  /** Keeps the group membership alive during long batches; cheap to call often. */
  heartbeat(): Promise<void>;
  /** Stops fetching this partition; returns the function that resumes it. */
  pause(): () => void;
  /** False once stop() was called: finish what is in flight, start nothing new. */
  isRunning(): boolean;
  /** True when the partition was revoked or seeked: results of this batch must not be committed. */
  isStale(): boolean;
  /**
   * Marks every offset up to and including `lastOffset` as processed and commits `lastOffset + 1`
   * for this partition. The only way offsets are committed (autoCommit is off).
   */
  commit(lastOffset: string): Promise<void>;
  /**
   * Marks every offset up to and including `lastOffset` as processed without committing anything:
   * the next fetch of this partition (same session) starts after it. Used in exactly-once delivery,
   * where the offset is committed inside the output transaction instead (src/io/kafka/delivery.ts).
   */
  resolve(lastOffset: string): void;
}

export type PartitionBatchHandler = (batch: PartitionBatch) => Promise<void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  /** Partitions whose batches are processed at the same time. */
  partitionsConsumedConcurrently: number;
  logger: Logger;
}

/**
 * kafkajs consumer group with explicit offset control: `eachBatch` with eachBatchAutoResolve=false and
 * autoCommit=false, so kafkajs never commits on its own (not on a timer, not on rebalance, not on
 * stop). The handler resolves and commits through PartitionBatch.commit once outputs are acknowledged.
 * A batch left uncommitted is fetched again (same session: from the last resolved offset; after a
 * restart or rebalance: from the committed offset) — at-least-once.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private crashed: Error | null = null;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(1_000, Math.floor(options.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: false,
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const error = event.payload.error;
      this.crashed = error;
      options.logger.error({ err: error, restart: event.payload.restart }, 'kafka consumer crashed');
    });
  }

  get events(): Consumer['events'] {
    return this.consumer.events;
  }

  on: Consumer['on'] = (...args) => this.consumer.on(...args);

  lastCrash(): Error | null {
    return this.crashed;
  }

  async start(handler: PartitionBatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
      eachBatch: async (payload) => handler(this.wrap(payload)),
    });
  }

  private wrap(payload: EachBatchPayload): PartitionBatch {
    const { batch } = payload;
    const records: RawRecord[] = batch.messages.map((m) => {
      const record: RawRecord = {
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key ?? null,
        value: m.value ?? null,
        headers: m.headers ?? {},
        timestamp: m.timestamp,
      };
      const refusal = batchRefusalOf(m.headers);
      if (refusal) record.refusal = refusal;
      return record;
    });
    return {
      topic: batch.topic,
      partition: batch.partition,
      records,
      highWatermark: batch.highWatermark,
      heartbeat: () => payload.heartbeat(),
      pause: () => payload.pause(),
      isRunning: () => payload.isRunning(),
      isStale: () => payload.isStale(),
      resolve: (lastOffset: string) => payload.resolveOffset(lastOffset),
      commit: async (lastOffset: string) => {
        payload.resolveOffset(lastOffset);
        const next = (BigInt(lastOffset) + 1n).toString();
        await payload.commitOffsetsIfNecessary({
          topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }],
        });
      },
    };
  }

  pause(topic: string, partitions: number[]): void {
    this.consumer.pause([{ topic, partitions }]);
  }

  resume(topic: string, partitions: number[]): void {
    this.consumer.resume([{ topic, partitions }]);
  }

  /** Stops fetching and waits for running batch handlers to return (kafkajs `stop`), then leaves the group. */
  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.consumer.disconnect();
  }

  /** Leaves the group without waiting for handlers (used when aborting). */
  async disconnect(): Promise<void> {
    await this.consumer.disconnect();
  }
}
