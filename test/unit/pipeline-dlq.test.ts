import { describe, expect, it } from 'vitest';
import { reject } from '../../src/codec/reasons.js';
import type { RawRecord } from '../../src/io/kafka/types.js';
import { buildDeadLetter, DLQ_HEADERS, readDeadLetterHeaders } from '../../src/pipeline/dlq.js';

const record: RawRecord = {
  topic: 'news.raw',
  partition: 7,
  offset: '123456789012',
  key: Buffer.from([1, 2, 3]),
  value: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
  headers: {
    traceparent: Buffer.from('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
    'finsentry.dlq.reason': 'old-reason',
  },
  timestamp: '1767605400000',
};

describe('dead-letter records', () => {
  it('keep the original key, value and headers and add the context headers', () => {
    const out = buildDeadLetter(
      record,
      reject('corrupt-avro', 'decode', 'bytes are not a valid NewsArticle'),
      { consumerGroup: 'fs', nowMs: 1767605500000 },
    );
    expect(out.key).toBe(record.key);
    expect(out.value).toBe(record.value);
    expect(out.headers?.traceparent).toBe(record.headers.traceparent);
    expect(readDeadLetterHeaders(out.headers)).toEqual({
      topic: 'news.raw',
      partition: '7',
      offset: '123456789012',
      reason: 'corrupt-avro',
      message: 'bytes are not a valid NewsArticle',
      stage: 'decode',
      timestamp: '1767605500000',
      originalTimestamp: '1767605400000',
      consumerGroup: 'fs',
    });
  });

  it('replace finsentry.dlq.* headers of a record that was dead-lettered before', () => {
    const out = buildDeadLetter(record, reject('empty-text', 'validate', 'text: no text'), {
      consumerGroup: 'fs',
      nowMs: 1,
    });
    expect(out.headers?.[DLQ_HEADERS.reason]).toBe('empty-text');
  });

  it('bound the message header length', () => {
    const out = buildDeadLetter(record, reject('invalid-field', 'validate', 'x'.repeat(5000)), {
      consumerGroup: 'fs',
      nowMs: 1,
    });
    expect(String(out.headers?.[DLQ_HEADERS.message]).length).toBe(1000);
  });

  it('keep a tombstone a tombstone', () => {
    const out = buildDeadLetter({ ...record, value: null }, reject('empty-message', 'decode', 'no value'), {
      consumerGroup: 'fs',
      nowMs: 1,
    });
    expect(out.value).toBeNull();
  });
});
