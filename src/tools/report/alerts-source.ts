import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { decodeAlertEvent, type AlertEvent } from '../../alerts/events.js';
import { ConsumerPositions } from '../../io/kafka/positions.js';
import { alertEpisodes } from './load.js';
import type { ReportAlerts } from './types.js';

/**
 * The alert history for the report: every event on the alerts topic, read once from the beginning to
 * the end offsets taken at start, by a short-lived consumer in a throw-away group (deleted afterwards,
 * nothing committed). The topic is the durable record of state changes (design §7); Redis only keeps
 * current states.
 */
export interface AlertHistory {
  events: AlertEvent[];
  undecodable: number;
  complete: boolean;
}

export async function readAlertHistory(
  kafka: Kafka,
  topic: string,
  timeoutMs = 30_000,
): Promise<AlertHistory> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `finsentry-report-${randomUUID()}`;
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) throw new Error(`topic ${topic} does not exist`);
    const offsets = await admin.fetchTopicOffsets(topic);
    const remaining = new Map<number, bigint>();
    for (const o of offsets) if (BigInt(o.high) > BigInt(o.low)) remaining.set(o.partition, BigInt(o.high));
    const found: Array<{ partition: number; offset: bigint; event: AlertEvent }> = [];
    let undecodable = 0;
    if (remaining.size === 0) return { events: [], undecodable, complete: true };

    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, allowAutoTopicCreation: false });
    await consumer.connect();
    let complete = false;
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, timeoutMs);
        // Done at the end offsets by position, not by the last message: the alert publisher writes in
        // transactions, and the topic ends with a commit marker (src/io/kafka/positions.ts).
        const positions = new ConsumerPositions(consumer, () => {
          for (const [partition, end] of remaining)
            if (positions.reached(topic, partition, end)) remaining.delete(partition);
          if (remaining.size === 0) {
            complete = true;
            clearTimeout(timer);
            resolve();
          }
        });
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const offset = BigInt(message.offset);
              const end = remaining.get(partition);
              if (end === undefined || offset >= end) return;
              if (message.value) {
                try {
                  found.push({ partition, offset, event: decodeAlertEvent(message.value) });
                } catch {
                  undecodable++;
                }
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    found.sort(
      (a, b) =>
        a.event.started_at - b.event.started_at ||
        a.partition - b.partition ||
        (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0),
    );
    return { events: found.map((f) => f.event), undecodable, complete };
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** ReportAlerts from the topic, or an "unavailable" marker with the reason (the report says so). */
export async function reportAlertsFromKafka(
  kafka: Kafka,
  topic: string,
  timeoutMs?: number,
): Promise<ReportAlerts> {
  try {
    const history = await readAlertHistory(kafka, topic, timeoutMs);
    const extra = [
      history.undecodable ? `${history.undecodable} undecodable` : '',
      history.complete ? '' : 'read timed out before the end of the topic',
    ].filter(Boolean);
    return {
      source: `Kafka topic ${topic} (${history.events.length} events${extra.length ? `; ${extra.join('; ')}` : ''})`,
      available: true,
      episodes: alertEpisodes(history.events),
    };
  } catch (err) {
    return { source: `Kafka topic ${topic}: ${(err as Error).message}`, available: false, episodes: [] };
  }
}
