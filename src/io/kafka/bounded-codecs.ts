import { promisify } from 'node:util';
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import type { BatchRefusal, BatchRefusalReason } from './types.js';

// kafkajs is CommonJS and Node's ESM loader does not see `CompressionCodecs` as a named export.
const { CompressionCodecs, CompressionTypes } = kafkajs;

/**
 * Bounded decompression of fetched record batches (docs/security.md "Compressed batches").
 *
 * kafkajs 2.2 inflates a compressed batch with an unbounded `zlib.unzip` before anything sees a
 * record (a 962 KB gzip batch of 1,000 × 960 KB records took a consumer from 255 MiB to 2.13 GiB),
 * does not check the batch CRC, and throws for snappy/lz4/zstd — an error that fails the whole fetch,
 * so the consumer crash-loops on that batch for ever. kafkajs calls a codec from
 * `protocol/recordBatch/v0/decoder.js` with the batch's compressed records and then reads exactly
 * the batch's declared record count out of what the codec returns; a codec that throws fails the
 * fetch. So these codecs never throw for a batch they can attribute: a batch that is corrupt, too
 * large once inflated or in an unsupported codec is replaced by placeholder records — one per
 * record of the batch, same offsets, no key or value, a `finsentry.batch.refused` header — which the
 * pipeline dead-letters like any bad record (reasons `decompression-limit`, `corrupt-batch`,
 * `unsupported-compression`); the partition moves on and memory stays bounded by the limit.
 *
 * The batch header (offsets, record count, CRC) is not passed to codecs; kafkajs hands them a view
 * of the fetch response, so the 61 header bytes sit just before it in the same memory. They are
 * read there and trusted only if the magic byte is 2 and the length field matches the view, and the
 * batch's CRC-32C (attributes to end, as the broker computed it) is checked before inflating.
 */

export const REFUSED_BATCH_HEADER = 'finsentry.batch.refused';

/** A placeholder is recognised by the memory its header lives in: bytes only this module allocated. */
const refusals = new WeakMap<ArrayBufferLike, BatchRefusal>();

/** The refusal a placeholder record stands for; null for a record read from the broker. */
export function batchRefusalOf(headers: Record<string, unknown> | undefined): BatchRefusal | null {
  const value = headers?.[REFUSED_BATCH_HEADER];
  const first: unknown = Array.isArray(value) ? value[0] : value;
  return Buffer.isBuffer(first) ? (refusals.get(first.buffer) ?? null) : null;
}

/** Placeholders are 30–40 bytes each plus kafkajs' message object; beyond this many, fail the fetch. */
const MAX_PLACEHOLDER_RECORDS = 1_000_000;

const BATCH_HEADER_BYTES = 61;
const MAGIC_V2 = 2;

interface BatchHeader {
  firstOffset: bigint;
  lastOffsetDelta: number;
  count: number;
  crcOk: boolean;
}

/** The record batch around `records` (see the module comment), or null if the bytes there are not one. */
export function batchHeaderOf(records: Buffer): BatchHeader | null {
  if (records.byteOffset < BATCH_HEADER_BYTES) return null;
  const batch = Buffer.from(
    records.buffer,
    records.byteOffset - BATCH_HEADER_BYTES,
    BATCH_HEADER_BYTES + records.length,
  );
  if (batch.readInt8(16) !== MAGIC_V2 || batch.readInt32BE(8) !== BATCH_HEADER_BYTES - 12 + records.length)
    return null;
  return {
    firstOffset: batch.readBigInt64BE(0),
    lastOffsetDelta: batch.readInt32BE(23),
    count: batch.readInt32BE(57),
    crcOk: crc32c(batch.subarray(21)) === batch.readUInt32BE(17),
  };
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum of Kafka record batches (magic 2). */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Writes `value` as a zigzag varint (Kafka's signed varint) at `at`; returns the new position. */
function writeVarint(out: Buffer, at: number, value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Upper bound of one placeholder: length (≤ 2) + fixed fields (6) + offset delta (≤ 5) + header. */
const PLACEHOLDER_OVERHEAD = 16;

/**
 * `count` records in kafkajs' uncompressed record encoding (Record v2: length, attributes, timestamp
 * delta, offset delta, null key, null value, one header): offset deltas 0, 1, … and the batch's last
 * delta for the last record, so a commit after them moves past the whole batch.
 */
export function placeholderRecords(header: BatchHeader, refusal: BatchRefusal): Buffer {
  if (header.count > MAX_PLACEHOLDER_RECORDS)
    throw new Error(
      `record batch at offset ${header.firstOffset} refused (${refusal.message}) but it declares ${header.count} records, more than ${MAX_PLACEHOLDER_RECORDS} placeholders can stand for`,
    );
  const name = Buffer.from(REFUSED_BATCH_HEADER);
  const reason = Buffer.from(refusal.reason);
  const headerBytes = 2 + name.length + reason.length;
  // Buffer.alloc never hands out the shared pool, so the WeakMap key is this batch's memory alone.
  const out = Buffer.alloc(Math.max(1, header.count) * (PLACEHOLDER_OVERHEAD + headerBytes));
  const body = Buffer.alloc(PLACEHOLDER_OVERHEAD + headerBytes);
  let at = 0;
  for (let i = 0; i < header.count; i++) {
    const delta = i === header.count - 1 ? Math.max(i, header.lastOffsetDelta) : i;
    let n = 0;
    body[n++] = 0; // attributes
    body[n++] = 0; // timestamp delta 0
    n = writeVarint(body, n, delta);
    n = writeVarint(body, n, -1); // null key
    n = writeVarint(body, n, -1); // null value
    n = writeVarint(body, n, 1); // one header
    n = writeVarint(body, n, name.length);
    n += name.copy(body, n);
    n = writeVarint(body, n, reason.length);
    n += reason.copy(body, n);
    at = writeVarint(out, at, n);
    at += body.copy(out, at, 0, n);
  }
  refusals.set(out.buffer, refusal);
  return out.subarray(0, at);
}

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

function refuse(records: Buffer, reason: BatchRefusalReason, message: string): Buffer {
  const header = batchHeaderOf(records);
  if (!header) throw new Error(`${message} (not a magic-2 record batch: cannot dead-letter its records)`);
  return placeholderRecords(header, { reason, message });
}

/** gzip with a ceiling on inflated bytes and the batch CRC checked first. */
export function boundedGzip(maxDecompressedBatchBytes: number): Codec {
  return {
    compress: (encoder) => gzip(encoder.buffer),
    async decompress(records) {
      const header = batchHeaderOf(records);
      if (header && !header.crcOk)
        return refuse(
          records,
          'corrupt-batch',
          `gzip record batch at offset ${header.firstOffset}: CRC-32C mismatch`,
        );
      try {
        return await unzip(records, { maxOutputLength: maxDecompressedBatchBytes });
      } catch (err) {
        const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        const where = header ? ` at offset ${header.firstOffset} (${header.count} records)` : '';
        return refuse(
          records,
          tooLarge ? 'decompression-limit' : 'corrupt-batch',
          tooLarge
            ? `gzip record batch${where} of ${records.length} bytes inflates beyond limits.maxDecompressedBatchBytes=${maxDecompressedBatchBytes}`
            : `gzip record batch${where} does not inflate: ${(err as Error).message}`,
        );
      }
    },
  };
}

/** A codec finsentry does not ship: the batch's records are dead-lettered instead of failing the fetch. */
function unsupported(name: string): Codec {
  return {
    compress: () => Promise.reject(new Error(`${name} compression is not supported by finsentry`)),
    decompress: async (records) =>
      refuse(records, 'unsupported-compression', `${name} record batch: codec not supported (gzip only)`),
  };
}

/**
 * Registers the bounded codecs process-wide (kafkajs' codec table is global): gzip bounded by
 * `maxDecompressedBatchBytes`, snappy/lz4/zstd refused per batch. Idempotent; the last call's limit wins.
 */
export function installBoundedCodecs(options: { maxDecompressedBatchBytes: number }): void {
  const gzipCodec = boundedGzip(options.maxDecompressedBatchBytes);
  const codecs = CompressionCodecs as Record<number, () => Codec>;
  codecs[CompressionTypes.GZIP] = () => gzipCodec;
  for (const [type, name] of [
    [CompressionTypes.Snappy, 'snappy'],
    [CompressionTypes.LZ4, 'lz4'],
    [CompressionTypes.ZSTD, 'zstd'],
  ] as const) {
    const codec = unsupported(name);
    codecs[type] = () => codec;
  }
}
