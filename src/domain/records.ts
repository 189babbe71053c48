import type { IHeaders } from 'kafkajs';

/**
 * The records the pipeline reads and writes, independent of the Kafka client that fetches and
 * produces them (src/io/kafka re-exports these): the codec and the processor depend on this contract,
 * not on the adapter.
 */

/** One record as fetched from Kafka, in the shape the pipeline works with. */
export interface RawRecord {
  topic: string;
  partition: number;
  /** int64 offset as a decimal string. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Headers exactly as received (kept byte for byte on DLQ records). */
  headers: IHeaders;
  /** Kafka record timestamp (epoch ms, decimal string). */
  timestamp: string;
  /**
   * Set on a placeholder for a record of a batch that was refused before its records could be read
   * (src/io/kafka/bounded-codecs.ts): key and value are null, the record goes to the DLQ.
   */
  refusal?: BatchRefusal;
}

export type BatchRefusalReason = 'decompression-limit' | 'corrupt-batch' | 'unsupported-compression';

/** Why a whole fetched record batch was refused, and the detail for the DLQ message. */
export interface BatchRefusal {
  reason: BatchRefusalReason;
  message: string;
}

/** One record to produce. */
export interface OutRecord {
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: IHeaders;
}

/**
 * Header values as single Buffers: kafkajs gives Buffer | string | array (repeated header); for
 * repeated keys the first value wins (W3C trace-context allows only one traceparent).
 */
export function normaliseHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    out[name] = Buffer.isBuffer(first) ? first : Buffer.from(first, 'utf8');
  }
  return out;
}

/** Bytes of a record as the size cap counts them: key, value and headers (names, values, a little framing). */
export function outRecordBytes(record: OutRecord): number {
  return bytesOf(record.key) + bytesOf(record.value) + headerBytes(record.headers ?? {});
}

/** Consecutive runs of records of at most `maxBytes` together (a record larger than that alone in its run). */
export function chunkBySize(records: readonly OutRecord[], maxBytes: number): OutRecord[][] {
  const chunks: OutRecord[][] = [];
  let current: OutRecord[] = [];
  let size = 0;
  for (const r of records) {
    const n = outRecordBytes(r);
    if (current.length > 0 && size + n > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function bytesOf(x: Buffer | string | null | undefined): number {
  return x == null ? 0 : typeof x === 'string' ? Buffer.byteLength(x) : x.length;
}

export function headerBytes(headers: IHeaders): number {
  let n = 0;
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined) n += Buffer.byteLength(name) + bytesOf(v) + 8;
    }
  }
  return n;
}
