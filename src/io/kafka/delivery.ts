import { OutputsLost } from '../../domain/outputs.js';
import {
  CompressionTypes,
  Partitioners,
  type Admin,
  type Kafka,
  type Producer,
  type TopicMessages,
  type Transaction,
} from 'kafkajs';
import type { Logger } from '../../telemetry/logger.js';
import type { PartitionBatch } from './consumer.js';
import { OutputProducer, type RecordSink } from './producer.js';
import type { OutRecord } from './types.js';

/**
 * Delivery modes (config kafka.delivery, design §10): how the outputs of a partition batch
 * (finsentry.enriched and finsentry.dlq records) and its input offsets reach Kafka.
 *
 * at-least-once (default): an idempotent producer; offsets are committed by the consumer group after
 *   every output of the committed range is acknowledged. A crash between the two re-reads the range, so
 *   outputs may be duplicated, never lost.
 *
 * exactly-once: a transactional producer per input partition. The outputs of a range and the
 *   consumer offset of that range are sent in one Kafka transaction (`sendOffsets`), committed together
 *   or not at all. Consumers of finsentry.enriched / finsentry.dlq must read with
 *   isolation.level=read_committed (kafkajs: `readUncommitted: false`, its default; Java:
 *   `isolation.level=read_committed`) — a read_uncommitted consumer also sees the records of aborted
 *   transactions, i.e. the outputs of a crashed attempt that is redone later.
 *
 * Statistics are effectively-once in both modes: the Redis window store applies a partition's
 * observations only above its stored last-applied offset, whatever the delivery mode.
 */
export type DeliveryMode = 'at-least-once' | 'exactly-once';

/**
 * The outputs of one partition batch. Not safe for concurrent `commit` calls; `send` may be called
 * concurrently (sends are serialised inside).
 */
export interface BatchOutputs {
  /**
   * Exactly-once after this process (re)took the partition: the group's committed offset, found after
   * the transactional producer fenced every earlier owner. Records below it were already committed by
   * an earlier owner (a zombie that finished its transaction after this member fetched its position)
   * and must be skipped. Null when nothing has to be skipped.
   */
  readonly committedOffset: string | null;
  send(batches: Array<{ topic: string; records: OutRecord[] }>): Promise<void>;
  /** Makes every output sent so far visible and commits the input offsets up to and including `lastOffset`. */
  commit(lastOffset: string): Promise<void>;
  /** Ends the batch: outputs sent since the last commit are discarded (exactly-once) or left as they are. */
  close(): Promise<void>;
}

export interface Delivery {
  readonly mode: DeliveryMode;
  connect(): Promise<void>;
  /** Opens the outputs of one partition batch (exactly-once: its producer, fencing earlier owners). */
  begin(batch: PartitionBatch): Promise<BatchOutputs>;
  /** The consumer's new assignment: resources of partitions no longer owned can be released. */
  assigned(assignment: Record<string, number[]>): void;
  disconnect(): Promise<void>;
}

export { OutputsLost } from '../../domain/outputs.js';

// ------------------------------------------------------------------------------------ at-least-once

export class AtLeastOnceDelivery implements Delivery {
  readonly mode = 'at-least-once' as const;
  private readonly producer: OutputProducer;

  constructor(kafka: Kafka, options: { compression: 'none' | 'gzip' }) {
    this.producer = new OutputProducer(kafka, { compression: options.compression });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  begin(batch: PartitionBatch): Promise<BatchOutputs> {
    const sink: RecordSink = this.producer;
    return Promise.resolve({
      committedOffset: null,
      send: (batches) => sink.send(batches),
      commit: (lastOffset) => batch.commit(lastOffset),
      close: () => Promise.resolve(),
    });
  }

  assigned(): void {}

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}

// ------------------------------------------------------------------------------------- exactly-once

export interface ExactlyOnceOptions {
  groupId: string;
  /**
   * transactional.id = `<prefix>.<input topic>.<partition>`. Must be the same for every replica and
   * restart of one deployment (that is what fences zombies) and differ between deployments.
   */
  transactionalIdPrefix: string;
  /** Coordinator-side timeout: a transaction left open (crashed process, nobody takes over) is aborted after it. */
  transactionTimeoutMs: number;
  compression: 'none' | 'gzip';
  logger: Logger;
}

interface ProducerEntry {
  producer: Producer;
  transactionalId: string;
  /** True until the first batch after creation has read the group's committed offset. */
  fresh: boolean;
  /** That committed offset while records below it may still be fetched (see BatchOutputs.committedOffset). */
  floor: string | null;
  discarded: boolean;
  /** Partition no longer assigned: disconnect when its running batch (if any) ends. */
  retired: boolean;
  busy: boolean;
}

/**
 * Why one transactional producer per input partition (and not one per process): kafkajs 2.x sends
 * offsets with TxnOffsetCommit v0/v1, which carries no consumer-group generation (KIP-447), so the group
 * coordinator cannot refuse a zombie's offsets by generation. Fencing then has to come from the
 * transactional.id, and that only works when the id follows the partition: the member that takes over
 * partition P initialises the id of P, which bumps its producer epoch, aborts the previous owner's open
 * transaction and makes every later send or commit of the previous owner fail (INVALID_PRODUCER_EPOCH /
 * PRODUCER_FENCED). The ids are stable across restarts, so a restarted process fences its own crashed
 * predecessor the same way. (This is Kafka Streams' original exactly-once scheme, "eos-alpha".)
 *
 * The producer is initialised (fencing) on the partition's first batch, and the group's committed
 * offset is read after that: a zombie that committed between this member's offset fetch and the
 * fence has moved the offset, and the records below it are skipped (`committedOffset`).
 */
export class ExactlyOnceDelivery implements Delivery {
  readonly mode = 'exactly-once' as const;
  private readonly producers = new Map<string, ProducerEntry>();
  private readonly compression: CompressionTypes;
  private admin: Admin | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ExactlyOnceOptions,
  ) {
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  /** transactional.id of one input partition. */
  transactionalId(topic: string, partition: number): string {
    return `${this.options.transactionalIdPrefix}.${topic}.${partition}`;
  }

  async connect(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    this.admin = admin;
  }

  async begin(batch: PartitionBatch): Promise<BatchOutputs> {
    const key = `${batch.topic}:${batch.partition}`;
    let entry = this.producers.get(key);
    if (!entry) {
      const transactionalId = this.transactionalId(batch.topic, batch.partition);
      const producer = this.kafka.producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.options.transactionTimeoutMs,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        // Bounded, so a broker outage surfaces as an error. kafkajs warns that limited retries may
        // break idempotence; not here: any failed send drops this producer and aborts its transaction.
        retry: { retries: 8, maxRetryTime: 30_000 },
      });
      await producer.connect();
      entry = {
        producer,
        transactionalId,
        fresh: true,
        floor: null,
        discarded: false,
        retired: false,
        busy: false,
      };
      this.producers.set(key, entry);
    }
    entry.busy = true;
    try {
      // kafkajs initialises the transactional producer id on its first transaction(): that is the fence.
      const transaction = await entry.producer.transaction();
      if (entry.fresh) {
        entry.floor = await this.committedOffset(batch.topic, batch.partition);
        entry.fresh = false;
      }
      return new TransactionalBatch(this, entry, key, batch, transaction);
    } catch (err) {
      entry.busy = false;
      await this.discard(key, entry);
      throw new OutputsLost(
        `transactional producer ${entry.transactionalId} could not begin a transaction: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  assigned(assignment: Record<string, number[]>): void {
    const owned = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
    for (const [key, entry] of this.producers) {
      if (owned.has(key)) continue;
      entry.retired = true;
      if (!entry.busy) void this.discard(key, entry);
    }
  }

  async disconnect(): Promise<void> {
    const entries = [...this.producers];
    await Promise.allSettled(entries.map(([key, entry]) => this.discard(key, entry)));
    await this.admin?.disconnect();
    this.admin = null;
  }

  /** @internal TransactionalBatch: the batch ended. */
  released(key: string, entry: ProducerEntry): void {
    entry.busy = false;
    if (entry.retired) void this.discard(key, entry);
  }

  /**
   * @internal Drops a producer after a failure (its transaction state is unknown) or when its partition
   * is gone. The next batch of the partition creates and initialises a new one, which aborts whatever
   * this one left open.
   */
  async discard(key: string, entry: ProducerEntry): Promise<void> {
    if (this.producers.get(key) === entry) this.producers.delete(key);
    if (entry.discarded) return;
    entry.discarded = true;
    try {
      await entry.producer.disconnect();
    } catch (err) {
      this.options.logger.warn(
        { transactionalId: entry.transactionalId, err: (err as Error).message },
        'error while disconnecting a transactional producer',
      );
    }
  }

  /** @internal */
  topicMessages(batches: Array<{ topic: string; records: OutRecord[] }>): TopicMessages[] {
    return batches
      .filter((b) => b.records.length > 0)
      .map((b) => ({
        topic: b.topic,
        messages: b.records.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} })),
      }));
  }

  get compressionType(): CompressionTypes {
    return this.compression;
  }

  get groupId(): string {
    return this.options.groupId;
  }

  private async committedOffset(topic: string, partition: number): Promise<string | null> {
    if (!this.admin) throw new Error('ExactlyOnceDelivery used before connect()');
    const [result] = await this.admin.fetchOffsets({ groupId: this.options.groupId, topics: [topic] });
    const offset = result?.partitions.find((p) => p.partition === partition)?.offset;
    return offset === undefined || BigInt(offset) < 0n ? null : offset;
  }
}

/** The open transaction of one partition batch; a new one is begun after each commit. */
class TransactionalBatch implements BatchOutputs {
  /** Sends are chained: one produce request at a time, and close() can wait for the last one. */
  private chain: Promise<void> = Promise.resolve();
  private transaction: Transaction | null;
  private failed: OutputsLost | null = null;
  private closed = false;

  constructor(
    private readonly owner: ExactlyOnceDelivery,
    private readonly entry: ProducerEntry,
    private readonly key: string,
    private readonly batch: PartitionBatch,
    transaction: Transaction,
  ) {
    this.transaction = transaction;
  }

  get committedOffset(): string | null {
    return this.entry.floor;
  }

  send(batches: Array<{ topic: string; records: OutRecord[] }>): Promise<void> {
    const topicMessages = this.owner.topicMessages(batches);
    const run = this.chain.then(async () => {
      if (topicMessages.length === 0) return;
      const transaction = await this.current();
      try {
        await transaction.sendBatch({ topicMessages, acks: -1, compression: this.owner.compressionType });
      } catch (err) {
        throw await this.fail('send', err);
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  async commit(lastOffset: string): Promise<void> {
    await this.chain;
    const transaction = await this.current();
    try {
      const next = (BigInt(lastOffset) + 1n).toString();
      await transaction.sendOffsets({
        consumerGroupId: this.owner.groupId,
        topics: [
          { topic: this.batch.topic, partitions: [{ partition: this.batch.partition, offset: next }] },
        ],
      });
      await transaction.commit();
    } catch (err) {
      throw await this.fail('commit', err);
    }
    this.transaction = null;
    this.batch.resolve(lastOffset);
    const floor = this.entry.floor;
    if (floor !== null && BigInt(lastOffset) + 1n >= BigInt(floor)) this.entry.floor = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // An abort while a produce request is in flight could let that request land in the next
    // transaction of this producer; wait for it first.
    await this.chain;
    const transaction = this.transaction;
    this.transaction = null;
    if (transaction && !this.failed && transaction.isActive()) {
      try {
        await transaction.abort();
      } catch (err) {
        await this.fail('abort', err);
      }
    }
    this.owner.released(this.key, this.entry);
  }

  private async current(): Promise<Transaction> {
    if (this.failed) throw this.failed;
    if (this.closed) throw new OutputsLost('outputs used after the batch was closed');
    this.transaction ??= await this.beginNext();
    return this.transaction;
  }

  private async beginNext(): Promise<Transaction> {
    try {
      return await this.entry.producer.transaction();
    } catch (err) {
      throw await this.fail('begin', err);
    }
  }

  /** A failed transaction poisons the producer: drop it (the next owner's initialisation aborts what is open). */
  private async fail(step: string, err: unknown): Promise<OutputsLost> {
    if (!this.failed) {
      this.failed = new OutputsLost(
        `transaction ${step} failed for ${this.entry.transactionalId}: ${(err as Error).message}; the batch is redone from its last committed offset`,
        { cause: err },
      );
      this.transaction = null;
      await this.owner.discard(this.key, this.entry);
    }
    return this.failed;
  }
}

export function createDelivery(kafka: Kafka, options: { mode: DeliveryMode } & ExactlyOnceOptions): Delivery {
  return options.mode === 'exactly-once'
    ? new ExactlyOnceDelivery(kafka, options)
    : new AtLeastOnceDelivery(kafka, { compression: options.compression });
}
