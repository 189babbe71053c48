// Test helpers to write Avro input records (plain or Confluent-framed) to the real broker and to read
// topics back in full.
import { Kafka, logLevel, type IHeaders, type KafkaMessage } from 'kafkajs';
import { schemaType } from '../../src/codec/schemas.js';
import { frameConfluent } from '../../src/codec/wire.js';
import type { ChatMessageRecord, NewsArticleRecord } from '../../src/codec/records.js';
import { readToEnd } from './read-to-end.js';
import { kafkaBrokers } from './stack.js';

export function testKafka(clientId = 'finsentry-test'): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

export function news(id: string, overrides: Partial<NewsArticleRecord> = {}): NewsArticleRecord {
  return {
    id,
    source: 'wire-a',
    published_at: Date.UTC(2026, 0, 5, 9, 30),
    headline: `Acme Corp shares surge on record profit (${id})`,
    body: 'Analysts at Beta Bank upgrade the stock after the quarter.',
    language: 'en',
    tickers: ['ACME'],
    region: 'emea',
    sector: 'industrials',
    url: null,
    ...overrides,
  };
}

export function chat(id: string, overrides: Partial<ChatMessageRecord> = {}): ChatMessageRecord {
  return {
    id,
    platform: 'desk-chat',
    channel: 'rates',
    author_id: `trader-${id}`,
    sent_at: Date.UTC(2026, 0, 5, 9, 31),
    text: `Hearing Gamma Inc misses and the stock could plunge (${id})`,
    language: 'en',
    tickers: ['GMMA'],
    region: 'amer',
    ...overrides,
  };
}

export function encodeNews(record: NewsArticleRecord, schemaId?: number): Buffer {
  const body = schemaType('NewsArticle').toBuffer(record);
  return schemaId === undefined ? body : frameConfluent(schemaId, body);
}

export function encodeChat(record: ChatMessageRecord, schemaId?: number): Buffer {
  const body = schemaType('ChatMessage').toBuffer(record);
  return schemaId === undefined ? body : frameConfluent(schemaId, body);
}

export interface TestMessage {
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
  partition?: number;
}

export async function produce(kafka: Kafka, topic: string, messages: TestMessage[]): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

export interface ReadRecord {
  partition: number;
  message: KafkaMessage;
}

/** Committed offsets of a consumer group per partition (-1 = nothing committed). */
export async function committedOffsets(
  kafka: Kafka,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((result?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** High watermarks (next offset) per partition of a topic. */
export async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every record currently in a topic: reads each partition up to its high watermark at call time (read
 * committed). By position, not by the last message (readToEnd): topics written in transactions — the
 * alerts topic, the outputs under exactly-once — end with a commit marker that no message carries.
 * Throws when the end is not reached within `timeoutMs`.
 */
export async function readAll(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReadRecord[]> {
  return readToEnd(kafka, topic, { timeoutMs });
}
