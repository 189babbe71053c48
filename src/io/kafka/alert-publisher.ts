import type { Message, Producer } from 'kafkajs';
import { chunkBySize } from '../../domain/records.js';
import { DEFAULT_MAX_OUTPUT_BATCH_BYTES } from './sized-requests.js';
import { encodeAlertEvent } from '../../alerts/events.js';
import type { AlertPublisher } from '../../alerts/ports.js';
import { frameConfluent } from '../../codec/wire.js';

/**
 * Publishes to the alerts topic, keyed by fingerprint (idempotent producer recommended; design §7);
 * with a schema id, values are in the Confluent framing (docs/schemas.md#schema-registry).
 */
export function kafkaAlertPublisher(
  producer: Producer,
  topic: string,
  schemaId?: number,
  maxBatchBytes: number = DEFAULT_MAX_OUTPUT_BATCH_BYTES,
): AlertPublisher {
  const encode = (e: Parameters<typeof encodeAlertEvent>[0]): Buffer =>
    schemaId === undefined ? encodeAlertEvent(e) : frameConfluent(schemaId, encodeAlertEvent(e));
  return {
    async publish(events) {
      const records = events.map((e) => ({
        key: e.fingerprint,
        value: encode(e),
        headers: { 'finsentry.event_id': e.labels.event_id ?? '', 'finsentry.alert_state': e.state },
      }));
      // In order, one request per run under the broker's batch limit (a burst must not be one request
      // the broker refuses for ever: issue 14).
      for (const messages of chunkBySize(records, maxBatchBytes))
        await producer.send({ topic, acks: -1, messages: messages as Message[] });
    },
  };
}
