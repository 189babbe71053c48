import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { chunkBySize } from '../../domain/records.js';
import { DEFAULT_MAX_OUTPUT_BATCH_BYTES } from './sized-requests.js';
import { encodeAlertEvent, type AlertEvent } from '../../alerts/events.js';
import type { AlertPublisher, LeaderTerm } from '../../alerts/ports.js';
import { frameConfluent } from '../../codec/wire.js';

export interface AlertTopicOptions {
  topic: string;
  /** With a schema id, values are in the Confluent framing (docs/schemas.md#schema-registry). */
  schemaId?: number;
  maxBatchBytes?: number;
}

/** The alerts topic's records of some events, in order, in runs under the broker's batch limit. */
function alertMessages(events: readonly AlertEvent[], options: AlertTopicOptions): Message[][] {
  const encode = (e: AlertEvent): Buffer =>
    options.schemaId === undefined
      ? encodeAlertEvent(e)
      : frameConfluent(options.schemaId, encodeAlertEvent(e));
  const records = events.map((e) => ({
    key: e.fingerprint,
    value: encode(e),
    headers: { 'finsentry.event_id': e.labels.event_id ?? '', 'finsentry.alert_state': e.state },
  }));
  // A burst must not be one request the broker refuses for ever (issue 14).
  return chunkBySize(records, options.maxBatchBytes ?? DEFAULT_MAX_OUTPUT_BATCH_BYTES) as Message[][];
}

/**
 * Publishes to the alerts topic with a producer of the caller's, keyed by fingerprint (design §7).
 * Not fenced: for tools and tests; the evaluator service publishes through FencedAlertPublisher.
 */
export function kafkaAlertPublisher(
  producer: Producer,
  topic: string,
  schemaId?: number,
  maxBatchBytes?: number,
): AlertPublisher {
  const options: AlertTopicOptions = {
    topic,
    ...(schemaId === undefined ? {} : { schemaId }),
    ...(maxBatchBytes === undefined ? {} : { maxBatchBytes }),
  };
  return {
    async publish(events) {
      for (const messages of alertMessages(events, options))
        await producer.send({ topic: options.topic, acks: -1, messages });
    },
  };
}

/**
 * Publishes each outbox chunk in one Kafka transaction under one transactional id shared by every
 * evaluator replica of a deployment — Kafka's own zombie fencing (docs/guarantees.md "One evaluator
 * publishes"). A replica starting a leader term initialises the id before its first publish, which
 * bumps the producer epoch: from then on a former leader's send is refused by the broker
 * (PRODUCER_FENCED), whatever that replica's clock or lease check said. The Redis fence check before
 * each publish stays; this closes the gap between that check and the send.
 * Consumers of the alerts topic read with isolation.level=read_committed.
 */
export class FencedAlertPublisher implements AlertPublisher {
  private producer: Producer | null = null;
  private token: number | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly transactionalId: string,
    private readonly options: AlertTopicOptions,
  ) {}

  /** Initialises the transactional id for this term (once per term): fences every earlier producer. */
  async openTerm(term: LeaderTerm): Promise<void> {
    if (this.producer && this.token === term.token) return;
    await this.close();
    const producer = this.kafka.producer({
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      // kafkajs initialises the producer id (InitProducerId: the fencing step) on the first transaction.
      await (await producer.transaction()).abort();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
    this.producer = producer;
    this.token = term.token;
  }

  async publish(events: readonly AlertEvent[]): Promise<void> {
    if (!this.producer) throw new Error('alerts publisher: no leader term opened');
    const tx = await this.producer.transaction();
    try {
      for (const messages of alertMessages(events, this.options))
        await tx.send({ topic: this.options.topic, messages });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      // Fenced, or the transaction is in an unknown state: the next term (or round) starts afresh.
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    this.token = null;
    await producer?.disconnect().catch(() => undefined);
  }
}
