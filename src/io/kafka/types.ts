import type { IHeaders } from 'kafkajs';

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
