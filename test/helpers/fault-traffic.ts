// Deterministic input traffic for the fault tests: news and chat records (plain and Confluent-framed
// Avro) with varied groups, some event times far behind (late), and a corrupt record now and then
// (dead-lettered). Every record's key is its id, so the ledger can name what is missing.
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { ChatMessageRecord, NewsArticleRecord } from '../../src/codec/records.js';
import { chat, encodeChat, encodeNews, news } from './avro-producer.js';

/** Deterministic PRNG (mulberry32): the same seed gives the same stream on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ISSUERS = ['Acme Corp', 'Gamma Inc', 'Beta Bank', 'Delta Corp', 'Omega Inc'];
const TICKERS = ['ACME', 'GMMA', 'BETA', 'DLTA', 'OMGA'];
const SOURCES = ['wire-a', 'wire-b', 'blog-c'];
const REGIONS = ['emea', 'amer', 'apac', 'latam'];
const LANGUAGES = ['en', 'en', 'en', 'de'];
const CHANNELS = ['rates', 'fx', 'equities'];
const PHRASES = [
  'shares surge on record profit',
  'misses estimates and the stock could plunge',
  'reports results in line with guidance',
  'faces a lawsuit over accounting fraud',
  'beats forecasts as growth returns',
  'is downgraded after a quarterly loss',
  'holds its dividend steady',
];

export interface TrafficTopics {
  news: string;
  chat: string;
}

export interface TrafficOptions {
  /** Id prefix; ids are `<prefix>-<n>`. */
  prefix: string;
  topics: TrafficTopics;
  seed?: number;
  /** Event time of record 0 (must be in the past: the codec rejects far-future event times). */
  baseTimeMs: number;
  /** Event time step between consecutive records. */
  stepMs?: number;
  /** Every n-th record is corrupt bytes (0 = none). */
  corruptEvery?: number;
  /** Every n-th record has an event time 15 minutes behind (late once its partition moved on). */
  lateEvery?: number;
  /**
   * Bytes of an extra header on every record: makes records (and a backlog) large without making
   * inference slower, for the memory bound under overload. Can be changed later (Traffic.padding).
   */
  headerPaddingBytes?: number;
}

export class Traffic {
  /** Ids of every record sent, valid or not. */
  readonly ids: string[] = [];
  /** Ids of the corrupt records (they must end up on the DLQ). */
  readonly corrupt = new Set<string>();
  /** Key + value + header bytes of every record sent. */
  bytesSent = 0;
  /** Bytes of the padding header on records from now on. */
  padding: number;
  private producer: Producer | null = null;
  private sequence = 0;
  private readonly random: () => number;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: TrafficOptions,
  ) {
    this.random = rng(options.seed ?? 1);
    this.padding = options.headerPaddingBytes ?? 0;
  }

  get sent(): number {
    return this.ids.length;
  }

  private async connected(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      this.producer = producer;
    }
    return this.producer;
  }

  private pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.random() * values.length)]!;
  }

  /** The next record: its id, topic and encoded value (plus the padding header, if configured). */
  private next(): { id: string; topic: string; message: Message } {
    const record = this.nextRecord();
    if (this.padding > 0)
      record.message.headers = { 'x-fault-padding': `${record.id}:`.padEnd(this.padding, '.') };
    return record;
  }

  private nextRecord(): { id: string; topic: string; message: Message } {
    const n = this.sequence++;
    const id = `${this.options.prefix}-${n}`;
    const { corruptEvery = 0, lateEvery = 0, stepMs = 100 } = this.options;
    const late = lateEvery > 0 && n % lateEvery === lateEvery - 1;
    const eventTime = this.options.baseTimeMs + n * stepMs - (late ? 15 * 60_000 : 0);
    const issuer = this.pick(ISSUERS);
    const text = `${issuer} ${this.pick(PHRASES)} (${id})`;
    const isNews = this.random() < 0.6;
    const framed = this.random() < 0.3;
    if (corruptEvery > 0 && n % corruptEvery === corruptEvery - 1) {
      this.corrupt.add(id);
      const garbage = Buffer.from(`corrupt record ${id} ${Math.floor(this.random() * 1e9)}`);
      return {
        id,
        topic: isNews ? this.options.topics.news : this.options.topics.chat,
        message: { key: id, value: garbage },
      };
    }
    const tickers = this.random() < 0.8 ? [TICKERS[ISSUERS.indexOf(issuer)]!] : [];
    if (isNews) {
      const record: Partial<NewsArticleRecord> = {
        source: this.pick(SOURCES),
        published_at: eventTime,
        headline: text,
        body:
          this.random() < 0.5
            ? 'Analysts at Beta Bank comment on the quarter.'
            : 'No further comment was given.',
        language: this.pick(LANGUAGES),
        tickers,
        region: this.pick(REGIONS),
        sector: this.random() < 0.5 ? 'financials' : 'industrials',
      };
      return {
        id,
        topic: this.options.topics.news,
        message: { key: id, value: encodeNews(news(id, record), framed ? 21 : undefined) },
      };
    }
    const record: Partial<ChatMessageRecord> = {
      channel: this.pick(CHANNELS),
      author_id: `trader-${Math.floor(this.random() * 50)}`,
      sent_at: eventTime,
      text,
      language: this.pick(LANGUAGES),
      tickers,
      region: this.pick(REGIONS),
    };
    return {
      id,
      topic: this.options.topics.chat,
      message: { key: id, value: encodeChat(chat(id, record), framed ? 22 : undefined) },
    };
  }

  /**
   * Sends the next `count` records (acks=all), at most 200 records or 256 KiB per request so that a
   * request stays under the broker's message.max.bytes even with padded records. A failed request is retried until
   * `retryForMs` passes, so traffic survives a broker restart; a retried request may write records
   * twice (non-idempotent producer), which the ledger counts per input offset, not per id.
   */
  async send(count: number, retryForMs = 120_000): Promise<void> {
    const perRequest = Math.max(1, Math.min(200, Math.floor((256 * 1024) / (this.padding + 300))));
    for (let done = 0; done < count;) {
      const n = Math.min(perRequest, count - done);
      await this.sendChunk(n, retryForMs);
      done += n;
    }
  }

  private async sendChunk(count: number, retryForMs: number): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (let i = 0; i < count; i++) {
      const { id, topic, message } = this.next();
      this.ids.push(id);
      this.bytesSent += id.length + (message.value as Buffer).length + this.padding;
      const list = byTopic.get(topic);
      if (list) list.push(message);
      else byTopic.set(topic, [message]);
    }
    const deadline = Date.now() + retryForMs;
    for (;;) {
      try {
        const producer = await this.connected();
        await producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await this.producer?.disconnect().catch(() => {});
        this.producer = null;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /**
   * Sends `total` records in chunks of `chunk` at about `perSecond` records a second, until done or
   * `stop()` returns true. Pacing only shapes the load; no assertion depends on it.
   */
  async stream(
    total: number,
    perSecond: number,
    stop: () => boolean = () => false,
    chunk = 250,
  ): Promise<void> {
    const started = Date.now();
    let sent = 0;
    while (sent < total && !stop()) {
      // Small chunks at low rates, so that the pace is smooth rather than bursts.
      const n = Math.min(chunk, Math.max(1, Math.ceil(perSecond / 4)), total - sent);
      await this.send(n);
      sent += n;
      const due = started + (sent / perSecond) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => {});
    this.producer = null;
  }
}
