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
