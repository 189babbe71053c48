import type { Producer } from 'kafkajs';
import { encodeAlertEvent } from '../../alerts/events.js';
import type { AlertPublisher } from '../../alerts/ports.js';
import { frameConfluent } from '../../codec/wire.js';

/**
 * Publishes to the alerts topic, keyed by fingerprint (idempotent producer recommended; design §7);
 * with a schema id, values are in the Confluent framing (docs/schemas.md#schema-registry).
 */
export function kafkaAlertPublisher(producer: Producer, topic: string, schemaId?: number): AlertPublisher {
  const encode = (e: Parameters<typeof encodeAlertEvent>[0]): Buffer =>
    schemaId === undefined ? encodeAlertEvent(e) : frameConfluent(schemaId, encodeAlertEvent(e));
  return {
    async publish(events) {
      if (events.length === 0) return;
      await producer.send({
        topic,
        acks: -1,
        messages: events.map((e) => ({
          key: e.fingerprint,
          value: encode(e),
          headers: { 'finsentry.event_id': e.labels.event_id ?? '', 'finsentry.alert_state': e.state },
        })),
      });
    },
  };
}
