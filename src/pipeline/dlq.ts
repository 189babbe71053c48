import { createHash } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import type { Rejection } from '../codec/reasons.js';
import { bytesOf, headerBytes, type OutRecord, type RawRecord } from '../domain/records.js';

// Record sizes and size-bounded runs live with the record contract (the Kafka adapter uses them too).
export { chunkBySize, outRecordBytes } from '../domain/records.js';

/**
 * Dead-letter records (design §2, schemas/DeadLetter.avsc). The value and key are the original bytes,
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
 *   finsentry.dlq.value.truncated / .bytes / .sha256   only when the record would exceed
 *                                                 limits.maxDeadLetterBytes: the value was cut to fit
 *                                                 (the original stays on the input topic at the
 *                                                 position above); its length and digest
 *   finsentry.dlq.headers.dropped / key.truncated only when even the original headers (or key) did not fit
 *   finsentry.dlq.value.redacted                 fields pseudonymised in the value (a parsed chat
 *                                                 record: `author_id`); the value is then the record
 *                                                 re-encoded as plain Avro (our ChatMessage schema)
 *
 * Size cap: a record the broker refuses (message.max.bytes, 1 MB by default) would be retried forever
 * and block its partition. An input can be that large and still reach finsentry (an input topic with a
 * larger limit, or a value a few bytes under it to which the context headers are added), so the DLQ
 * record is bounded by limits.maxDeadLetterBytes (key + value + headers).
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
  valueTruncated: `${DLQ_HEADER_PREFIX}value.truncated`,
  valueBytes: `${DLQ_HEADER_PREFIX}value.bytes`,
  valueSha256: `${DLQ_HEADER_PREFIX}value.sha256`,
  headersDropped: `${DLQ_HEADER_PREFIX}headers.dropped`,
  keyTruncated: `${DLQ_HEADER_PREFIX}key.truncated`,
  valueRedacted: `${DLQ_HEADER_PREFIX}value.redacted`,
} as const;

/** Default of limits.maxDeadLetterBytes: Kafka's default message.max.bytes (1,048,588) less batch overhead and slack. */
export const DEFAULT_MAX_DEAD_LETTER_BYTES = 1_000_000;

/** Longest `finsentry.dlq.message`; decoder messages can quote user data, headers should stay small. */
const MAX_MESSAGE_CHARS = 1_000;

export interface DeadLetterContext {
  consumerGroup: string;
  nowMs: number;
  /** Largest key + value + headers of the DLQ record (limits.maxDeadLetterBytes). */
  maxBytes?: number;
  /**
   * The value to dead-letter instead of the original when the original held personal data that was
   * pseudonymised (docs/security.md "Dead letters"), and the fields that were: header `value.redacted`.
   */
  redacted?: { value: Buffer; fields: string };
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
  if (context.redacted) headers[DLQ_HEADERS.valueRedacted] = context.redacted.fields;
  const maxBytes = context.maxBytes ?? DEFAULT_MAX_DEAD_LETTER_BYTES;
  const value = context.redacted?.value ?? record.value;
  let key = record.key;
  if (bytesOf(key) + bytesOf(value) + headerBytes(headers) <= maxBytes) return { key, value, headers };
  // Too large for the DLQ: keep the head of the value, say so, and give what identifies the original.
  if (value !== null) {
    headers[DLQ_HEADERS.valueTruncated] = 'true';
    headers[DLQ_HEADERS.valueBytes] = String(value.length);
    headers[DLQ_HEADERS.valueSha256] = createHash('sha256').update(value).digest('hex');
  }
  if (bytesOf(key) + headerBytes(headers) > maxBytes) {
    // Only the context headers are kept: the original ones alone exceed the cap.
    for (const name of Object.keys(headers)) if (!name.startsWith(DLQ_HEADER_PREFIX)) delete headers[name];
    headers[DLQ_HEADERS.headersDropped] = 'true';
  }
  if (key !== null && bytesOf(key) + headerBytes(headers) > maxBytes) {
    // A key of nearly the whole cap (the fuzz suite sends such ids): its head, so the record still fits.
    headers[DLQ_HEADERS.keyTruncated] = 'true';
    key = key.subarray(0, Math.max(0, maxBytes - headerBytes(headers)));
  }
  const room = Math.max(0, maxBytes - bytesOf(key) - headerBytes(headers));
  return { key, value: value === null ? null : value.subarray(0, room), headers };
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
