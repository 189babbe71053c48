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
 */
export class OutputProducer implements RecordSink {
  private readonly producer: Producer;
  private readonly compression: CompressionTypes;
  private readonly maxBatchBytes: number;

  constructor(kafka: Kafka, options: OutputProducerOptions) {
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_OUTPUT_BATCH_BYTES;
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // murmur2 on the key, as the Java client: an enriched record lands on the partition a Java producer would pick.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: options.retries ?? 8, maxRetryTime: 30_000 },
    });
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async send(batches: Array<{ topic: string; records: OutRecord[] }>): Promise<void> {
    // Sequential: an idempotent producer with one request in flight keeps the records' order.
    for (const request of sizedRequests(batches, this.maxBatchBytes))
      await this.producer.sendBatch({ topicMessages: [request], acks: -1, compression: this.compression });
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}
