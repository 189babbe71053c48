// Security-relevant rules that need no server (design §10): secrets only as env/file references, never
// inline (not even in a Redis URL); input limits with their DLQ reasons; Prometheus label values
// sanitised and bounded whatever the data says. (Servers: test/integration/security.test.ts.)
import fc from 'fast-check';
import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { AvroDecoder } from '../../src/codec/decode.js';
import type { ChatMessageRecord, NewsArticleRecord } from '../../src/codec/records.js';
import { SchemaRegistry } from '../../src/codec/registry.js';
import { validateChat, validateNews, type ValidationContext } from '../../src/codec/validate.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { buildKafkaJsConfig } from '../../src/io/kafka/client.js';
import { AuthorPseudonymiser } from '../../src/privacy/pseudonymise.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { chat, encodeNews, news } from '../helpers/avro-producer.js';

function configIssues(raw: unknown): string[] {
  try {
    parseConfig(raw, {});
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

describe('secrets come only from env or files', () => {
  it('refuses inline secrets in config: SASL and Redis passwords, author key, a password in the Redis URL', () => {
    expect(
      configIssues({ kafka: { sasl: { mechanism: 'plain', username: 'u', password: 'inline-secret' } } }),
    ).toEqual([expect.stringMatching(/^kafka\.sasl\.password: /)]);
    expect(configIssues({ redis: { password: 'inline-secret' } })).toEqual([
      expect.stringMatching(/^redis\.password: /),
    ]);
    expect(configIssues({ privacy: { authorKey: 'inline-secret' } })).toEqual([
      expect.stringMatching(/^privacy\.authorKey: /),
    ]);
    expect(configIssues({ redis: { url: 'rediss://finsentry:inline-secret@redis:6380' } })).toEqual([
      'redis.url: no password in the URL: use redis.password ({ env } or { file })',
    ]);
    expect(configIssues({ redis: { url: 'redis://:inline-secret@redis:6379/0' } })).toHaveLength(1);
    // A user name in the URL is fine; so are references.
    expect(
      configIssues({ redis: { url: 'rediss://finsentry@redis:6380', password: { env: 'REDIS_PW' } } }),
    ).toEqual([]);
    expect(configIssues({ redis: { password: { env: 'A', file: '/b' } } })).toEqual([
      'redis.password: give exactly one of env or file',
    ]);
  });

  it('asks kafkajs for its per-request debug entries only when they are written (log level trace)', () => {
    const kafka = parseConfig({}, {}).kafka;
    expect(buildKafkaJsConfig(kafka, createLogger('trace')).logLevel).toBe(logLevel.DEBUG);
    expect(buildKafkaJsConfig(kafka, createLogger('debug')).logLevel).toBe(logLevel.INFO);
    expect(buildKafkaJsConfig(kafka, createLogger('info')).logLevel).toBe(logLevel.INFO);
  });
});

describe('input limits', () => {
  const limits = { maxTextChars: 1000, maxFutureSkewMs: 3_600_000, maxTickersPerDocument: 8 };
  const ctx: ValidationContext = {
    limits,
    pseudonymiser: new AuthorPseudonymiser('unit-test-author-key'),
    nowMs: Date.UTC(2026, 0, 6),
    position: { topic: 'news.raw', partition: 0, offset: '0' },
    key: null,
    headers: {},
  };
  const tickers = (n: number): string[] => Array.from({ length: n }, (_, i) => `T${i}`);

  it('dead-letters news and chat with more distinct tickers than limits.maxTickersPerDocument', () => {
    const ok = validateNews(news('n1', { tickers: [...tickers(8), 't0', ' T1 '] }) as NewsArticleRecord, ctx);
    expect(ok.ok).toBe(true); // duplicates (after trim and upper-casing) count once
    const tooMany = validateNews(news('n2', { tickers: tickers(9) }) as NewsArticleRecord, ctx);
    expect(tooMany).toEqual({
      ok: false,
      rejection: {
        reason: 'invalid-field',
        stage: 'validate',
        message: 'tickers: 9 distinct tickers, limit limits.maxTickersPerDocument=8',
      },
    });
    const chatTooMany = validateChat(chat('c1', { tickers: tickers(50) }) as ChatMessageRecord, ctx);
    expect(chatTooMany.ok ? null : chatTooMany.rejection.reason).toBe('invalid-field');
    const long = validateNews(news('n3', { tickers: ['X'.repeat(65)] }) as NewsArticleRecord, ctx);
    expect(long.ok ? null : long.rejection.message).toBe(
      'tickers: a ticker is 65 characters, longer than 64',
    );
  });

  it('dead-letters oversize values before decoding and oversize text after', () => {
    const decoder = new AvroDecoder({
      registry: new SchemaRegistry({ schemaIds: {} }),
      wireFormat: 'auto',
      maxMessageBytes: 2048,
    });
    const big = decoder.decode(encodeNews(news('n4', { body: 'y'.repeat(3000) })), 'NewsArticle');
    expect(big.ok ? null : big.rejection.reason).toBe('message-too-large');
    const longText = validateNews(news('n5', { body: 'word '.repeat(300) }) as NewsArticleRecord, ctx);
    expect(longText.ok ? null : longText.rejection.reason).toBe('text-too-large');
  });

  it('dead-letters a url over limits.maxUrlChars and free-text attributes over limits.maxAttributeChars', () => {
    const bounded = { ...ctx, limits: { ...limits, maxUrlChars: 100, maxAttributeChars: 20 } };
    const url = (n: number) => `https://example.com/${'a'.repeat(n - 20)}`;
    expect(validateNews(news('u1', { url: url(100) }) as NewsArticleRecord, bounded).ok).toBe(true);
    const longUrl = validateNews(news('u2', { url: url(780_000) }) as NewsArticleRecord, bounded);
    expect(longUrl.ok ? null : longUrl.rejection.message).toBe(
      'url: 780000 characters, limit limits.maxUrlChars=100',
    );
    const source = validateNews(news('u3', { source: 's'.repeat(21) }) as NewsArticleRecord, bounded);
    expect(source.ok ? null : source.rejection.message).toBe(
      'source: 21 characters, limit limits.maxAttributeChars=20',
    );
    for (const field of ['platform', 'channel', 'author_id', 'region'] as const) {
      const r = validateChat(chat('u4', { [field]: 'c'.repeat(21) }) as ChatMessageRecord, bounded);
      expect(r.ok ? null : r.rejection.message).toBe(
        `${field}: 21 characters, limit limits.maxAttributeChars=20`,
      );
    }
  });

  it('has defaults for every limit', () => {
    expect(parseConfig({}, {}).limits).toEqual({
      maxMessageBytes: 1_048_576,
      maxDeadLetterBytes: 1_000_000,
      maxDecompressedBatchBytes: 33_554_432,
      maxOutputBatchBytes: 1_000_000,
      maxUrlChars: 4096,
      maxAttributeChars: 256,
      maxTextChars: 200_000,
      maxEntitiesPerDocument: 256,
      maxTickersPerDocument: 64,
      maxFutureSkew: 300_000,
    });
  });
});

describe('metric label values', () => {
  const STATS = {
    dimensions: [
      { name: 'region', bounded: true },
      { name: 'issuer', bounded: false },
    ],
    topK: 3,
  };
  /** Values of the labels of the exposition text (histogram bucket bounds `le` are numbers, not data). */
  const labelValues = (text: string): string[] =>
    [...text.matchAll(/\b([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].filter((m) => m[1] !== 'le').map((m) => m[2]!);

  it('are short, printable and bounded in number whatever the data-derived values are (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { minLength: 1, maxLength: 40 }),
        async (values) => {
          const m = createMetrics({ stats: STATS, processMetrics: false, maxBoundedGroups: 5 });
          values.forEach((v, i) => {
            m.documentsConsumed(v, v);
            m.produced(v);
            m.dlq(v);
            m.consumerLag(v, i, 1);
            m.redisLatency(v, 0.001);
            m.drift(v, 300_000, { psi: 0.1 });
          });
          for (const dimension of ['region', 'issuer'])
            m.groupSentiment(
              dimension,
              300_000,
              values.map((group, i) => ({ group, count: i + 1, negative: 0, meanPolarity: 0 })),
            );
          const text = await m.registry.metrics();
          for (const value of labelValues(text)) expect(value).toMatch(/^[a-z0-9._:/@+-]{1,64}$/);
          // No value can add a line, a label or a series beyond the caps.
          const series = text.split('\n').filter((l) => l.startsWith('finsentry_group_documents{'));
          // region (bounded): at most maxBoundedGroups + other; issuer (unbounded): top-K + other.
          expect(series.length).toBeLessThanOrEqual(5 + 1 + (STATS.topK + 1));
        },
      ),
      { numRuns: 60 },
    );
  });
});
