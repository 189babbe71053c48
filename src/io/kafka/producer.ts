import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { DEFAULT_MAX_OUTPUT_BATCH_BYTES, sizedRequests } from './sized-requests.js';
import type { OutRecord } from './types.js';

export interface OutputProducerOptions {
  compression: 'none' | 'gzip';
  /** Per-send retries inside kafkajs before the pipeline's own backoff takes over. */
  retries?: number;
  /** Largest request per topic (limits.maxOutputBatchBytes): see src/io/kafka/sized-requests.ts. */
  maxBatchBytes?: number;
}

/** What the pipeline needs from a producer; `send` resolves once every record is acknowledged by all in-sync replicas. */
export interface RecordSink {
  send(batches: Array<{ topic: string; records: OutRecord[] }>): Promise<void>;
}

/**
 * Idempotent kafkajs producer (no duplicates from its own retries, per-partition order kept, acks=-1),
 * gzip by default. One `sendBatch` per call carries all topics, so kafkajs builds one request per broker.
 * kafkajs retries an idempotent producer forever by default; we bound it so that a broker outage
 * surfaces as an error the pipeline handles (pause, back off, no commit) instead of a silent hang.
 *
 * Sends run one at a time, and a failed send replaces the kafkajs producer (a new producer id) before
 * the next one (docs/guarantees.md "Lost produce responses"). kafkajs takes a batch's sequence numbers
 * back when its request fails, also when the broker had written the batch and only the response was
 * lost (a broker restart). The next batch to that partition then reuses those numbers, and the broker
 * drops it as a duplicate of the written one while kafkajs reports success: measured 32 of 96 records
 * lost with three concurrent sends (test/integration/output-producer.test.ts).
 */
export class OutputProducer implements RecordSink {
  private producer: Producer;
  private connected = false;
  private readonly compression: CompressionTypes;
  private readonly maxBatchBytes: number;
  /** The send in progress: the next one starts after it settles. */
  private queue: Promise<void> = Promise.resolve();
  /** Producers replaced after a failure, disconnected in the background. */
  private readonly retired = new Set<Promise<void>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: OutputProducerOptions,
  ) {
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_OUTPUT_BATCH_BYTES;
    this.producer = this.create();
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  send(batches: Array<{ topic: string; records: OutRecord[] }>): Promise<void> {
    const run = this.queue.then(() => this.sendNow(batches));
    this.queue = run.catch(() => {});
    return run;
  }

  async disconnect(): Promise<void> {
    await this.queue;
    await Promise.allSettled([this.producer.disconnect(), ...this.retired]);
  }

  private create(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // murmur2 on the key, as the Java client: an enriched record lands on the partition a Java producer would pick.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: this.options.retries ?? 8, maxRetryTime: 30_000 },
    });
  }

  private async sendNow(batches: Array<{ topic: string; records: OutRecord[] }>): Promise<void> {
    try {
      if (!this.connected) await this.connect();
      // Sequential: an idempotent producer with one request in flight keeps the records' order.
      for (const request of sizedRequests(batches, this.maxBatchBytes))
        await this.producer.sendBatch({ topicMessages: [request], acks: -1, compression: this.compression });
    } catch (err) {
      this.replace();
      throw err;
    }
  }

  /** A fresh producer id for the next send: no sequence number of the failed one is used again. */
  private replace(): void {
    const old = this.producer;
    const closing = old.disconnect().catch(() => {});
    this.retired.add(closing);
    void closing.then(() => this.retired.delete(closing));
    this.producer = this.create();
    this.connected = false;
  }
}
