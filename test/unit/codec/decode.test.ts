import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { AvroDecoder } from '../../../src/codec/decode.js';
import { InputCodec } from '../../../src/codec/input.js';
import { SchemaRegistry } from '../../../src/codec/registry.js';
import { schemaJson, schemaType } from '../../../src/codec/schemas.js';
import { frameConfluent } from '../../../src/codec/wire.js';
import type { RawRecord } from '../../../src/io/kafka/types.js';
import { AuthorPseudonymiser } from '../../../src/privacy/pseudonymise.js';
import { chat, encodeChat, encodeNews, news } from '../../helpers/avro-producer.js';

const NOW = Date.UTC(2026, 0, 5, 12, 0);
const KEY = 'test-author-key-0123456789';
const limits = { maxTextChars: 500, maxFutureSkewMs: 3_600_000 };

// A writer schema from an older producer: NewsArticle without region/sector/url (resolved with defaults).
const oldNews = (() => {
  const json = schemaJson('NewsArticle') as { fields: Array<{ name: string }> };
  return avro.Type.forSchema({
    ...json,
    fields: json.fields.filter((f) => !['region', 'sector', 'url'].includes(f.name)),
  } as avro.Schema);
})();

function makeCodec(options: { wireFormat?: 'auto' | 'plain' | 'confluent'; maxMessageBytes?: number } = {}) {
  const registry = new SchemaRegistry({
    schemaIds: { '1': 'io.finsentry.NewsArticle', '2': 'ChatMessage', '3': 'Label' },
  });
  registry.register(7, oldNews);
  const decoder = new AvroDecoder({
    registry,
    wireFormat: options.wireFormat ?? 'auto',
    maxMessageBytes: options.maxMessageBytes ?? 10_000,
  });
  return new InputCodec(decoder, new AuthorPseudonymiser(KEY), limits, () => NOW);
}

function raw(value: Buffer | null, offset = '42'): RawRecord {
  return {
    topic: 'news.raw',
    partition: 3,
    offset,
    key: Buffer.from('k1'),
    value,
    headers: { traceparent: '00-abc-def-01' },
    timestamp: String(NOW),
  };
}

describe('decode news and chat in both wire formats', () => {
  it('decodes a plain Avro NewsArticle into an InputDocument', () => {
    const result = makeCodec().document(
      raw(encodeNews(news('n1', { tickers: [' acme ', 'ACME', ''], url: '' }))),
      'news',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      id: 'n1',
      kind: 'news',
      eventTimeMs: Date.UTC(2026, 0, 5, 9, 30),
      text: 'Acme Corp shares surge on record profit (n1)\n\nAnalysts at Beta Bank upgrade the stock after the quarter.',
      attributes: {
        source: 'wire-a',
        language: 'en',
        region: 'emea',
        sector: 'industrials',
        tickers: ['ACME'],
      },
      position: { topic: 'news.raw', partition: 3, offset: '42' },
    });
    expect(result.value.attributes.url).toBeUndefined();
    expect(result.value.key?.toString()).toBe('k1');
    expect(result.value.headers.traceparent?.toString()).toBe('00-abc-def-01');
  });

  it('decodes a Confluent-framed ChatMessage and pseudonymises the author', () => {
    const result = makeCodec().document(raw(encodeChat(chat('c1'), 2)), 'chat');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const pseudonym = new AuthorPseudonymiser(KEY).pseudonymise('trader-c1');
    expect(result.value.attributes.authorPseudonym).toBe(pseudonym);
    expect(pseudonym).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(result.value)).not.toContain('trader-c1');
    expect(result.value.attributes).toMatchObject({
      platform: 'desk-chat',
      channel: 'rates',
      region: 'amer',
      tickers: ['GMMA'],
    });
  });

  it('writes Chinese codes canonically and, where the producer sent none, reads them from the text', () => {
    const codec = makeCodec();
    const zhNews = news('z1', {
      headline: '贵州茅台股价暴跌8%，市值蒸发逾千亿',
      body: '贵州茅台（600519.SH）晚间公告称，营收600519万元，同比下降12%。',
      language: 'zh',
      tickers: [],
    });
    const fromText = codec.document(raw(encodeNews(zhNews)), 'news');
    expect(fromText.ok && fromText.value.attributes.tickers).toEqual(['600519.SH']);
    const supplied = codec.document(
      raw(encodeNews({ ...zhNews, tickers: ['SH600519', '600519.ss'] })),
      'news',
    );
    expect(supplied.ok && supplied.value.attributes.tickers).toEqual(['600519.SH']);
    const guba = chat('z2', { text: '$600519 又跌停了，割肉了😭 亏了20000元', language: 'und', tickers: [] });
    const fromChat = codec.document(raw(encodeChat(guba)), 'chat');
    expect(fromChat.ok && fromChat.value.attributes.tickers).toEqual(['600519.SH']);
    // Amounts and dates are no tickers; a bare code counts only with the security master.
    const bare = chat('z3', { text: '今天600519放量，成交20240601手', language: 'zh', tickers: [] });
    const plain = codec.document(raw(encodeChat(bare)), 'chat');
    expect(plain.ok && plain.value.attributes.tickers).toEqual([]);
    const registry = new SchemaRegistry({ schemaIds: {} });
    const decoder = new AvroDecoder({ registry, wireFormat: 'auto', maxMessageBytes: 10_000 });
    const withMaster = new InputCodec(
      decoder,
      new AuthorPseudonymiser(KEY),
      limits,
      () => NOW,
      new Set(['600519.SH']),
    );
    const listed = withMaster.document(raw(encodeChat(bare)), 'chat');
    expect(listed.ok && listed.value.attributes.tickers).toEqual(['600519.SH']);
  });

  it('reads an older writer schema through a resolver (missing optional fields take defaults)', () => {
    const record = news('n2');
    const body = oldNews.toBuffer({ ...record, region: undefined, sector: undefined, url: undefined });
    const result = makeCodec().document(raw(frameConfluent(7, body)), 'news');
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value.attributes.region).toBeUndefined();
  });

  it('pseudonyms depend on the key', () => {
    expect(new AuthorPseudonymiser(KEY).pseudonymise('a')).not.toBe(
      new AuthorPseudonymiser(`${KEY}x`).pseudonymise('a'),
    );
    expect(() => new AuthorPseudonymiser('short')).toThrow(/at least 16 bytes/);
  });
});

describe('every rejection reason', () => {
  const cases: Array<[string, Buffer | null, 'news' | 'chat', string, RegExp]> = [
    ['null value', null, 'news', 'empty-message', /no value/],
    ['zero bytes', Buffer.alloc(0), 'news', 'empty-message', /no value/],
    ['oversized', Buffer.alloc(20_000, 1), 'news', 'message-too-large', /maxMessageBytes=10000/],
    ['garbage', Buffer.from('not avro at all, definitely'), 'news', 'corrupt-avro', /./],
    ['truncated', encodeNews(news('t')).subarray(0, 20), 'news', 'corrupt-avro', /./],
    [
      'trailing bytes',
      Buffer.concat([encodeNews(news('t')), Buffer.from([1, 2, 3])]),
      'news',
      'corrupt-avro',
      /trailing/,
    ],
    ['short Confluent header', Buffer.from([0, 0, 1]), 'news', 'corrupt-avro', /header/],
    ['unknown schema id', encodeNews(news('u'), 99), 'news', 'unknown-schema-id', /schema id 99/],
    [
      'chat schema on news topic',
      encodeChat(chat('w'), 2),
      'news',
      'wrong-schema',
      /cannot be read as io.finsentry.NewsArticle/,
    ],
    [
      'label schema on chat topic',
      frameConfluent(3, Buffer.from([2, 65, 0, 2, 66, 2])),
      'chat',
      'wrong-schema',
      /./,
    ],
    ['empty id', encodeNews(news('')), 'news', 'invalid-field', /^id: must not be empty/],
    ['empty source', encodeNews(news('s', { source: ' ' })), 'news', 'invalid-field', /^source:/],
    ['empty author', encodeChat(chat('a', { author_id: '' })), 'chat', 'invalid-field', /^author_id:/],
    ['empty language', encodeChat(chat('l', { language: '' })), 'chat', 'invalid-field', /^language:/],
    [
      'zero timestamp',
      encodeNews(news('z', { published_at: 0 })),
      'news',
      'invalid-timestamp',
      /published_at: 0/,
    ],
    ['negative timestamp', encodeChat(chat('n', { sent_at: -5 })), 'chat', 'invalid-timestamp', /sent_at/],
    [
      'future timestamp',
      encodeNews(news('f', { published_at: NOW + 2 * 3_600_000 })),
      'news',
      'invalid-timestamp',
      /maxFutureSkew/,
    ],
    [
      // Beyond what a Date can hold: the rejection message must not call toISOString on it.
      'far-future timestamp',
      encodeNews(news('ff', { published_at: 2 ** 53 - 2 })),
      'news',
      'invalid-timestamp',
      /9007199254740990 ms since the epoch .*maxFutureSkew/,
    ],
    [
      'blank news text',
      encodeNews(news('e', { headline: '  ', body: '\n' })),
      'news',
      'empty-text',
      /no text/,
    ],
    ['blank chat text', encodeChat(chat('e', { text: '' })), 'chat', 'empty-text', /no text/],
    [
      'text too large',
      encodeChat(chat('big', { text: 'x'.repeat(501) })),
      'chat',
      'text-too-large',
      /501 characters/,
    ],
  ];
  for (const [name, value, kind, reason, message] of cases) {
    it(`${name} → ${reason}`, () => {
      const result = makeCodec().document(raw(value), kind);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.rejection.reason).toBe(reason);
      expect(result.rejection.message).toMatch(message);
      expect(result.rejection.stage).toBe(
        ['empty-message', 'message-too-large', 'corrupt-avro', 'unknown-schema-id', 'wrong-schema'].includes(
          reason,
        )
          ? 'decode'
          : 'validate',
      );
    });
  }

  it('accepts a timestamp just inside the future-skew limit', () => {
    expect(
      makeCodec().document(raw(encodeNews(news('ok', { published_at: NOW + 3_600_000 }))), 'news').ok,
    ).toBe(true);
  });

  it('plain wire format reads a leading zero byte as Avro, confluent format demands the magic byte', () => {
    const plain = makeCodec({ wireFormat: 'plain' }).document(raw(encodeNews(news('n'), 1)), 'news');
    expect(plain.ok).toBe(false); // the framing bytes are not a NewsArticle body
    const confluent = makeCodec({ wireFormat: 'confluent' }).document(raw(encodeNews(news('n'))), 'news');
    expect(confluent.ok ? 'ok' : confluent.rejection.reason).toBe('corrupt-avro');
  });

  it('rejects an array count that cannot fit in the bytes without allocating it', () => {
    // id "a", source "b", published_at 1, headline "h", body "b", language "e", tickers count 2^40
    const prefix = schemaType('NewsArticle')
      .toBuffer(news('a', { tickers: [] }))
      .subarray(0, -5);
    const hostile = Buffer.concat([
      prefix,
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x40]),
      Buffer.alloc(4),
    ]);
    const result = makeCodec().document(raw(hostile), 'news');
    expect(result.ok ? 'ok' : result.rejection.reason).toBe('corrupt-avro');
  });
});

describe('labels', () => {
  it('decodes a Label and rejects one without document id', () => {
    const codec = makeCodec();
    const type = schemaType('Label');
    const good = type.toBuffer({
      document_id: 'n1',
      label: 'negative',
      labeller: 'desk',
      labelled_at: NOW,
      document_event_time: NOW - 1000,
      document_kind: 'news',
    });
    const result = codec.label(raw(good));
    expect(result).toMatchObject({
      ok: true,
      value: { documentId: 'n1', label: 'negative', documentEventTimeMs: NOW - 1000, documentKind: 'news' },
    });
    const bad = type.toBuffer({
      document_id: '',
      label: 'neutral',
      labeller: 'desk',
      labelled_at: NOW,
      document_event_time: null,
      document_kind: null,
    });
    const rejected = codec.label(raw(bad));
    expect(rejected.ok ? 'ok' : rejected.rejection.reason).toBe('invalid-field');
  });
});
