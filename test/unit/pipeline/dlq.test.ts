import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvroDecoder } from '../../../src/codec/decode.js';
import { InputCodec } from '../../../src/codec/input.js';
import { reject } from '../../../src/codec/reasons.js';
import { SchemaRegistry } from '../../../src/codec/registry.js';
import { schemaType } from '../../../src/codec/schemas.js';
import { AuthorPseudonymiser } from '../../../src/privacy/pseudonymise.js';
import { chat, encodeChat } from '../../helpers/avro-producer.js';
import type { RawRecord } from '../../../src/io/kafka/types.js';
import {
  buildDeadLetter,
  chunkBySize,
  DLQ_HEADERS,
  outRecordBytes,
  readDeadLetterHeaders,
} from '../../../src/pipeline/dlq.js';

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

describe('dead-letter size cap (limits.maxDeadLetterBytes)', () => {
  const big: RawRecord = { ...record, value: Buffer.alloc(50_000, 7) };

  it('keeps the head of a value that would exceed the cap, with its length and digest', () => {
    const out = buildDeadLetter(big, reject('message-too-large', 'decode', 'too big'), {
      consumerGroup: 'fs',
      nowMs: 1,
      maxBytes: 10_000,
    });
    expect(outRecordBytes(out)).toBe(10_000);
    expect(out.value!.equals(big.value!.subarray(0, out.value!.length))).toBe(true);
    expect(readDeadLetterHeaders(out.headers)).toMatchObject({
      reason: 'message-too-large',
      valueTruncated: 'true',
      valueBytes: '50000',
      valueSha256: createHash('sha256').update(big.value!).digest('hex'),
      headersDropped: undefined,
    });
    expect(out.headers?.traceparent).toBe(record.headers.traceparent);
  });

  it('leaves a record under the cap as it is', () => {
    const out = buildDeadLetter(big, reject('message-too-large', 'decode', 'too big'), {
      consumerGroup: 'fs',
      nowMs: 1,
      maxBytes: 60_000,
    });
    expect(out.value).toBe(big.value);
    expect(readDeadLetterHeaders(out.headers).valueTruncated).toBeUndefined();
  });

  it('drops original headers, then cuts the key, when they alone exceed the cap', () => {
    const hdrs: RawRecord = { ...big, headers: { junk: Buffer.alloc(8_000) }, key: Buffer.alloc(3_000, 1) };
    const out = buildDeadLetter(hdrs, reject('corrupt-avro', 'decode', 'x'), {
      consumerGroup: 'fs',
      nowMs: 1,
      maxBytes: 5_000,
    });
    expect(out.headers?.junk).toBeUndefined();
    expect(readDeadLetterHeaders(out.headers)).toMatchObject({
      headersDropped: 'true',
      keyTruncated: undefined,
    });
    expect(outRecordBytes(out)).toBeLessThanOrEqual(5_000);
    const keyed = buildDeadLetter(
      { ...big, key: Buffer.alloc(9_000, 1) },
      reject('corrupt-avro', 'decode', 'x'),
      {
        consumerGroup: 'fs',
        nowMs: 1,
        maxBytes: 5_000,
      },
    );
    expect(readDeadLetterHeaders(keyed.headers).keyTruncated).toBe('true');
    expect(keyed.value!.length).toBe(0);
    expect(outRecordBytes(keyed)).toBeLessThanOrEqual(5_000);
  });

  it('chunks records so that no send exceeds the cap, in order, none lost (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 40 }),
        fc.integer({ min: 3_100, max: 10_000 }),
        (sizes, cap) => {
          const records = sizes.map((n, i) => ({ key: `k${i}`, value: Buffer.alloc(n), headers: {} }));
          const chunks = chunkBySize(records, cap);
          expect(chunks.flat()).toEqual(records);
          for (const c of chunks)
            expect(c.reduce((s, r) => s + outRecordBytes(r), 0)).toBeLessThanOrEqual(cap);
          expect(chunks.every((c) => c.length > 0)).toBe(true);
        },
      ),
    );
  });
});

describe('dead letters hold no clear author id', () => {
  const pseudonymiser = new AuthorPseudonymiser('dlq-unit-test-author-key-00001');
  const codec = new InputCodec(
    new AvroDecoder({
      registry: new SchemaRegistry({ schemaIds: {} }),
      wireFormat: 'auto',
      maxMessageBytes: 65_536,
    }),
    pseudonymiser,
    { maxTextChars: 1000, maxFutureSkewMs: 3_600_000 },
  );
  const email = 'alice.pii@example.com';

  it('dead-letters a parsed chat record (empty text) with its author id pseudonymised, and says so', () => {
    const value = encodeChat(chat('c-pii', { author_id: email, text: '' }));
    const input: RawRecord = { ...record, topic: 'chat.raw', value };
    const result = codec.document(input, 'chat');
    expect(result.ok ? null : result.rejection.reason).toBe('empty-text');
    const redacted = codec.redactedChat(value);
    expect(redacted).not.toBeNull();
    const out = buildDeadLetter(input, reject('empty-text', 'validate', 'no text'), {
      consumerGroup: 'g',
      nowMs: 0,
      redacted: { value: redacted!, fields: 'author_id' },
    });
    expect(out.value!.includes(email)).toBe(false);
    expect(value.includes(email)).toBe(true);
    expect(readDeadLetterHeaders(out.headers).valueRedacted).toBe('author_id');
    const back = schemaType('ChatMessage').fromBuffer(out.value!) as { author_id: string; id: string };
    expect(back).toMatchObject({ id: 'c-pii', author_id: pseudonymiser.pseudonymise(email) });
  });

  it('has nothing to pseudonymise in bytes that do not parse (the original is kept, as documented)', () => {
    expect(codec.redactedChat(Buffer.from([0, 1, 2, 3]))).toBeNull();
    expect(codec.redactedChat(null)).toBeNull();
  });
});
