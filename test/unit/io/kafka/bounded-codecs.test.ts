// The bounded codecs (src/io/kafka/bounded-codecs.ts) through kafkajs' own fetch decoding: record
// batches built by kafkajs' encoder (real header and CRC-32C), decoded by the function kafkajs runs
// on every fetched partition (protocol/requests/fetch/v4/decodeMessages), with the codecs installed
// in kafkajs' process-wide table as the service installs them.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { batchRefusalOf, crc32c, installBoundedCodecs } from '../../../../src/io/kafka/bounded-codecs.js';

const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: object) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;
const Encoder = require('kafkajs/src/protocol/encoder') as new () => {
  writeBytes(b: Buffer): { buffer: Buffer };
};
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages') as (
  d: unknown,
) => Promise<
  Array<{ offset: string; key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }>
>;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: number): unknown };

const GZIP = 1;
const LIMIT = 64 * 1024;

/** A fetched partition's record set: one batch of `n` records of `valueBytes` bytes at `firstOffset`. */
async function recordSet(n: number, valueBytes: number, firstOffset = 500): Promise<Buffer> {
  const records = Array.from({ length: n }, (_, i) =>
    Record({ offsetDelta: i, key: Buffer.from(`k${i}`), value: Buffer.alloc(valueBytes, 120) }),
  );
  const batch = await RecordBatch({
    compression: GZIP,
    firstOffset: Long.fromValue(firstOffset),
    lastOffsetDelta: n - 1,
    records,
  });
  return new Encoder().writeBytes(batch.buffer).buffer;
}

/** Offset of the batch's first byte in a record set (after its int32 size). */
const BATCH_AT = 4;

function decode(set: Buffer) {
  return decodeMessages(new Decoder(set));
}

describe('bounded gzip codec in kafkajs fetch decoding', () => {
  installBoundedCodecs({ maxDecompressedBatchBytes: LIMIT });

  it('inflates a batch under the limit as kafkajs would', async () => {
    const messages = await decode(await recordSet(5, 1_000));
    expect(messages.map((m) => m.offset)).toEqual(['500', '501', '502', '503', '504']);
    expect(messages.every((m) => m.value?.length === 1_000 && batchRefusalOf(m.headers) === null)).toBe(true);
  });

  it('replaces a batch inflating beyond the limit by one placeholder per record, same offsets', async () => {
    const messages = await decode(await recordSet(40, 10_000)); // 400 kB inflated, 64 KiB limit
    expect(messages).toHaveLength(40);
    expect(messages.map((m) => Number(m.offset))).toEqual(Array.from({ length: 40 }, (_, i) => 500 + i));
    for (const m of messages) {
      expect(m.key).toBeNull();
      expect(m.value).toBeNull();
      const refusal = batchRefusalOf(m.headers);
      expect(refusal?.reason).toBe('decompression-limit');
      expect(refusal?.message).toMatch(/at offset 500 \(40 records\).*maxDecompressedBatchBytes=65536/);
    }
  });

  it('refuses a batch whose CRC-32C does not match (corrupt-batch), and agrees with kafkajs on a valid CRC', async () => {
    const set = await recordSet(3, 100);
    const batch = set.subarray(BATCH_AT);
    expect(crc32c(batch.subarray(21))).toBe(batch.readUInt32BE(17));
    batch[batch.length - 3]! ^= 0xff;
    const messages = await decode(set);
    expect(messages.map((m) => [m.offset, batchRefusalOf(m.headers)?.reason])).toEqual([
      ['500', 'corrupt-batch'],
      ['501', 'corrupt-batch'],
      ['502', 'corrupt-batch'],
    ]);
  });

  it('refuses snappy/lz4/zstd batches record by record instead of failing the fetch', async () => {
    const set = await recordSet(2, 100);
    const batch = set.subarray(BATCH_AT);
    batch.writeInt16BE(4, 21); // attributes: zstd
    batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
    const messages = await decode(set);
    expect(messages.map((m) => batchRefusalOf(m.headers)?.reason)).toEqual([
      'unsupported-compression',
      'unsupported-compression',
    ]);
  });

  it('does not take a record that merely carries the header for a placeholder', async () => {
    const records = [
      Record({ key: null, value: Buffer.from('v'), headers: { 'finsentry.batch.refused': 'corrupt-batch' } }),
    ];
    const batch = await RecordBatch({ compression: GZIP, records });
    const [message] = await decode(new Encoder().writeBytes(batch.buffer).buffer);
    expect(message!.value?.toString()).toBe('v');
    expect(batchRefusalOf(message!.headers)).toBeNull();
  });
});
