import type { Producer } from 'kafkajs';
import { encodeAlertEvent } from '../../alerts/events.js';
import type { AlertPublisher } from '../../alerts/ports.js';

/** Publishes to the alerts topic, keyed by fingerprint (idempotent producer recommended; design §7). */
export function kafkaAlertPublisher(producer: Producer, topic: string): AlertPublisher {
  return {
    async publish(events) {
      if (events.length === 0) return;
      await producer.send({
        topic,
        acks: -1,
        messages: events.map((e) => ({
          key: e.fingerprint,
          value: encodeAlertEvent(e),
          headers: { 'finsentry.event_id': e.labels.event_id ?? '', 'finsentry.alert_state': e.state },
        })),
      });
    },
  };
}
