/**
 * The documents that flow through the pipeline, after decoding and validation.
 * Input Avro records (schemas/NewsArticle.avsc, schemas/ChatMessage.avsc) are decoded into
 * `InputDocument`; everything downstream works on this one shape.
 */

export type DocumentKind = 'news' | 'chat';

/** Where a record came from in Kafka: needed for DLQ context, offsets and effectively-once stats. */
export interface SourcePosition {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (int64). */
  offset: string;
  /** Kafka record timestamp (epoch ms), when the record has one (> 0). */
  timestampMs?: number;
}

/** Attributes that grouping dimensions can read (design §4: source, platform, channel, region, …). */
export interface DocumentAttributes {
  source?: string;
  platform?: string;
  channel?: string;
  language: string;
  region?: string;
  sector?: string;
  tickers: string[];
  /** Chat author, already pseudonymised with a keyed HMAC (never the raw id). */
  authorPseudonym?: string;
  url?: string;
}

export interface InputDocument {
  id: string;
  kind: DocumentKind;
  /** Event time (published_at / sent_at) in epoch milliseconds. */
  eventTimeMs: number;
  /** The text the models read: headline + "\n\n" + body for news, the message text for chat. */
  text: string;
  attributes: DocumentAttributes;
  position: SourcePosition;
  /** Kafka key of the input record (preserved on the enriched output). */
  key: Buffer | null;
  /** Kafka headers of the input record (traceparent etc. are propagated). */
  headers: Record<string, Buffer>;
}
