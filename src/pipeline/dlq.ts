import type { IHeaders } from 'kafkajs';
import type { Rejection } from '../codec/reasons.js';
import type { OutRecord, RawRecord } from '../io/kafka/types.js';

/**
 * Dead-letter records (SPEC §2, schemas/DeadLetter.avsc). The value and key are the original bytes,
 * unchanged; the original headers are kept and the context is added as UTF-8 headers, like Kafka
 * Connect's `errors.deadletterqueue.context.headers.enable` (which writes `__connect.errors.*`):
 *
 *   finsentry.dlq.topic / .partition / .offset   where the input was read
 *   finsentry.dlq.reason                         machine-readable code (src/codec/reasons.ts)
 *   finsentry.dlq.message                        human-readable detail
 *   finsentry.dlq.stage                          decode | validate | enrich
 *   finsentry.dlq.timestamp                      when it was dead-lettered (epoch ms)
 *   finsentry.dlq.original.timestamp             the input record's Kafka timestamp (epoch ms)
 *   finsentry.dlq.consumer.group                 the consumer group that rejected it
 *
 * A record that already carries finsentry.dlq.* headers (re-processed from the DLQ) gets them
 * replaced, so the headers always describe the latest rejection.
 */
export const DLQ_HEADER_PREFIX = 'finsentry.dlq.';

export const DLQ_HEADERS = {
  topic: `${DLQ_HEADER_PREFIX}topic`,
  partition: `${DLQ_HEADER_PREFIX}partition`,
  offset: `${DLQ_HEADER_PREFIX}offset`,
  reason: `${DLQ_HEADER_PREFIX}reason`,
  message: `${DLQ_HEADER_PREFIX}message`,
  stage: `${DLQ_HEADER_PREFIX}stage`,
  timestamp: `${DLQ_HEADER_PREFIX}timestamp`,
  originalTimestamp: `${DLQ_HEADER_PREFIX}original.timestamp`,
  consumerGroup: `${DLQ_HEADER_PREFIX}consumer.group`,
} as const;

/** Longest `finsentry.dlq.message`; decoder messages can quote user data, headers should stay small. */
const MAX_MESSAGE_CHARS = 1_000;

export interface DeadLetterContext {
  consumerGroup: string;
  nowMs: number;
}

export function buildDeadLetter(
  record: RawRecord,
  rejection: Rejection,
  context: DeadLetterContext,
): OutRecord {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (!name.startsWith(DLQ_HEADER_PREFIX) && value !== undefined) headers[name] = value;
  }
  headers[DLQ_HEADERS.topic] = record.topic;
  headers[DLQ_HEADERS.partition] = String(record.partition);
  headers[DLQ_HEADERS.offset] = record.offset;
  headers[DLQ_HEADERS.reason] = rejection.reason;
  headers[DLQ_HEADERS.message] = rejection.message.slice(0, MAX_MESSAGE_CHARS);
  headers[DLQ_HEADERS.stage] = rejection.stage;
  headers[DLQ_HEADERS.timestamp] = String(context.nowMs);
  headers[DLQ_HEADERS.originalTimestamp] = record.timestamp;
  headers[DLQ_HEADERS.consumerGroup] = context.consumerGroup;
  return { key: record.key, value: record.value, headers };
}

/** Reads the context back from a DLQ record's headers (tools, tests). */
export function readDeadLetterHeaders(
  headers: IHeaders | undefined,
): Record<keyof typeof DLQ_HEADERS, string | undefined> {
  const read = (name: string): string | undefined => {
    const value = headers?.[name];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.toString();
  };
  return Object.fromEntries(Object.entries(DLQ_HEADERS).map(([k, name]) => [k, read(name)])) as Record<
    keyof typeof DLQ_HEADERS,
    string | undefined
  >;
}
