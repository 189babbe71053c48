// Fault 6 (issue #8): 5,000 fuzzed input records through `finsentry run` (real broker, real Redis,
// real ONNX inference): random bytes, truncated and edited Avro, Confluent frames with unknown or
// wrong schema ids, extreme strings (control characters, bidi overrides, zero-width joiners, emoji,
// lone surrogates, whitespace only), invalid UTF-8 inside Avro strings, huge fields (texts beyond
// limits.maxTextChars, messages beyond limits.maxMessageBytes, thousands of tickers, long ids),
// extreme event times, empty and null values and keys — mixed with valid records.
//
// Property-based with fast-check: the inputs are drawn from fast-check arbitraries with a fixed seed
// (printed; rerun a failure with the same seed). Because the system under test is a running pipeline,
// the property is checked over all 5,000 records after one run rather than record by record, so
// fast-check's shrinking does not apply; the ledger names the failing records instead.
//
// Pass condition: every input lands on finsentry.enriched or finsentry.dlq (never both, never
// neither); a record the product codec rejects is dead-lettered with that reason; an accepted one is
// enriched (or, if inference fails on it alone, dead-lettered as enrich-failed); the processor never
// crashes or stalls (valid records produced after all the fuzz are enriched, it stops with exit 0);
// and the windows equal a clean single pass.
import avro from 'avsc';
import fc from 'fast-check';
import { Partitioners, type Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { ChatMessageRecord, NewsArticleRecord } from '../../src/codec/records.js';
import { schemaType } from '../../src/codec/schemas.js';
import { frameConfluent } from '../../src/codec/wire.js';
import { chat, news } from '../helpers/avro-producer.js';
import {
  expectCleanStop,
  expectRunning,
  expectWindowsMatch,
  faultFixture,
} from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import { TEST_AUTHOR_KEY } from '../helpers/processor-process.js';
import { productCodec } from '../helpers/window-check.js';

const FUZZ_RUNS = Number(process.env.FINSENTRY_FUZZ_RUNS ?? 5_000);
const SENTINELS = 50;
const SEED = Number(process.env.FINSENTRY_FUZZ_SEED ?? 20_260_105);
const LIMITS = { maxMessageBytes: 64 * 1024, maxTextChars: 20_000, maxEntitiesPerDocument: 20_000 };

const fx = faultFixture({ dir: 'fuzz', name: 'fuzz' });
const { topics } = fx;
/** Generation time: event times are drawn relative to it (the codec rejects those too far ahead). */
const NOW = Date.now();

// ------------------------------------------------------------------------------ arbitraries

type Kind = 'news' | 'chat';

interface FuzzInput {
  kind: Kind;
  category: string;
  key: string | null;
  value: Buffer | null;
}

/** Strings that break naive text handling. */
const nasty = fc.constantFrom(
  '',
  ' ',
  '\t\n\r ',
  '\u0000\u0001\u0007\u001b[31m',
  '\u202eevil\u202c override',
  'e\u0301\u0301\u0301 combining',
  '\u200d\u200d\u200b zero width',
  '👩‍👩‍👧‍👦🏳️‍🌈💸📉',
  '\ud800 lone high, \udfff lone low',
  '\uffff\ufffe\ufeff',
  'Ａｃｍｅ　Ｃｏｒｐ',
  'شركة أكمي تربح',
  '株式会社アクメが急落',
  'null',
  "Robert'); DROP TABLE--",
  '{{7*7}} ${7*7} %s%n',
);
const extremeString = fc.oneof(
  { weight: 3, arbitrary: nasty },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.tuple(nasty, fc.integer({ min: 1, max: 400 })).map(([s, n]) => s.repeat(n)) },
);
const plainText = fc.constantFrom(
  'Acme Corp shares surge on record profit',
  'Gamma Inc misses and the stock could plunge',
  'Beta Bank holds its dividend steady',
);
const eventTime = fc.oneof(
  // Mostly within the allowed lateness (5 min) of each other, so that most documents count in the
  // windows rather than as late.
  { weight: 8, arbitrary: fc.integer({ min: NOW - 4 * 60_000, max: NOW - 60_000 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(-1, 0, 1, NOW + 50 * 60_000, NOW + 3 * 3_600_000, 2 ** 53 - 2, -(2 ** 53 - 2)),
  },
);
const tickers = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.constantFrom('ACME', 'GMMA', 'BETA'), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(extremeString, { maxLength: 5 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 50, max: 5_000 }).map((n) => Array.from({ length: n }, (_, i) => `T${i}`)),
  },
);

const newsRecord = (id: string): fc.Arbitrary<NewsArticleRecord> =>
  fc
    .record({
      headline: fc.oneof(plainText, extremeString),
      body: fc.oneof(plainText, extremeString),
      source: fc.oneof(fc.constant('wire-a'), extremeString),
      language: fc.oneof(fc.constant('en'), extremeString),
      region: fc.oneof(fc.constant('emea'), fc.constant(null), extremeString),
      published_at: eventTime,
      tickers,
    })
    .map((fields) => news(id, fields));

const chatRecord = (id: string): fc.Arbitrary<ChatMessageRecord> =>
  fc
    .record({
      text: fc.oneof(plainText, extremeString),
      channel: fc.oneof(fc.constant('rates'), extremeString),
      author_id: fc.oneof(fc.constant('trader-1'), extremeString),
      language: fc.oneof(fc.constant('en'), extremeString),
      region: fc.oneof(fc.constant('amer'), fc.constant(null), extremeString),
      sent_at: eventTime,
      tickers,
    })
    .map((fields) => chat(id, fields));

/** Records as the avro-producer helpers build them, with a recent event time unless one is given. */
const freshNews = (id: string, fields: Partial<NewsArticleRecord> = {}): NewsArticleRecord =>
  news(id, { published_at: NOW - 120_000, ...fields });
const freshChat = (id: string, fields: Partial<ChatMessageRecord> = {}): ChatMessageRecord =>
  chat(id, { sent_at: NOW - 120_000, ...fields });

const encode = (kind: Kind, record: NewsArticleRecord | ChatMessageRecord): Buffer =>
  schemaType(kind === 'news' ? 'NewsArticle' : 'ChatMessage').toBuffer(record);

/** A structurally valid record (extreme values allowed), as plain Avro. */
const avroBody = (kind: Kind, id: string): fc.Arbitrary<Buffer> =>
  kind === 'news'
    ? newsRecord(id).map((r) => encode('news', r))
    : chatRecord(id).map((r) => encode('chat', r));

const avroString = avro.Type.forSchema('string');

/**
 * A record whose event time is an int64 beyond JavaScript's safe integers (avsc will not write one):
 * the record is encoded with event time 1 (the single byte 0x02) and that byte replaced by the
 * zigzag varint of `value`. The event time is the 3rd field of NewsArticle, the 5th of ChatMessage.
 */
function withInt64EventTime(kind: Kind, id: string, value: bigint): Buffer {
  const record = kind === 'news' ? freshNews(id, { published_at: 1 }) : freshChat(id, { sent_at: 1 });
  const before =
    kind === 'news'
      ? [(record as NewsArticleRecord).id, (record as NewsArticleRecord).source]
      : [
          (record as ChatMessageRecord).id,
          (record as ChatMessageRecord).platform,
          (record as ChatMessageRecord).channel,
          (record as ChatMessageRecord).author_id,
        ];
  const prefix = Buffer.concat(before.map((v) => avroString.toBuffer(v)));
  const body = encode(kind, record);
  let zigzag = value >= 0n ? value << 1n : (-value << 1n) - 1n;
  const varint: number[] = [];
  do {
    let byte = Number(zigzag & 0x7fn);
    zigzag >>= 7n;
    if (zigzag > 0n) byte |= 0x80;
    varint.push(byte);
  } while (zigzag > 0n);
  return Buffer.concat([prefix, Buffer.from(varint), body.subarray(prefix.length + 1)]);
}

/** Invalid UTF-8 inside an Avro string: a placeholder of the same byte length is overwritten. */
const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0xc3, 0x28],
  [0xe2, 0x28, 0xa1],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xc0, 0xaf],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
);

function fuzzInput(kind: Kind, id: string): fc.Arbitrary<FuzzInput> {
  const input = (category: string, value: Buffer | null, key: string | null = id): FuzzInput => ({
    kind,
    category,
    key,
    value,
  });
  const schemaIdOf = kind === 'news' ? 21 : 22;
  return fc.oneof(
    { weight: 20, arbitrary: avroBody(kind, id).map((v) => input('valid-or-extreme', v)) },
    {
      weight: 5,
      arbitrary: avroBody(kind, id).map((v) => input('confluent-valid', frameConfluent(schemaIdOf, v))),
    },
    {
      weight: 8,
      arbitrary: fc.uint8Array({ maxLength: 2_048 }).map((b) => input('random-bytes', Buffer.from(b))),
    },
    {
      weight: 8,
      arbitrary: fc
        .tuple(avroBody(kind, id), fc.nat())
        .map(([v, at]) => input('truncated-avro', v.subarray(0, at % Math.max(1, v.length)))),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          avroBody(kind, id),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        )
        .map(([v, edits]) => {
          const bytes = Buffer.from(v);
          for (const [at, byte] of edits) bytes[at % bytes.length] = byte;
          return input('edited-avro', bytes);
        }),
    },
    {
      weight: 8,
      arbitrary: fc
        .tuple(avroBody(kind, id), fc.constantFrom(0, 1, 7, 99, 4_294_967_295, kind === 'news' ? 22 : 21))
        .map(([v, schemaId]) => input('wrong-schema-id', frameConfluent(schemaId, v))),
    },
    {
      weight: 2,
      arbitrary: fc
        .uint8Array({ maxLength: 4 })
        .map((b) => input('short-confluent-header', Buffer.from([0, ...b]))),
    },
    {
      weight: 5,
      arbitrary: fc.tuple(invalidUtf8, fc.integer({ min: 0, max: 30 })).map(([bad, padding]) => {
        const marker = `#${'x'.repeat(bad.length + padding - 1)}`;
        const record =
          kind === 'news'
            ? freshNews(id, { headline: `Acme Corp ${marker} surges` })
            : freshChat(id, { text: `Gamma Inc ${marker} plunges` });
        const bytes = Buffer.from(encode(kind, record));
        const at = bytes.indexOf(Buffer.from(marker));
        Buffer.from(bad).copy(bytes, at + padding);
        return input('invalid-utf8', bytes);
      }),
    },
    {
      weight: 4,
      arbitrary: fc.oneof(
        fc.integer({ min: LIMITS.maxTextChars - 500, max: 2 * LIMITS.maxTextChars }).map((n) => {
          const text = 'Acme Corp shares surge on record profit. '.repeat(Math.ceil(n / 42)).slice(0, n);
          return input(
            'huge-text',
            encode(kind, kind === 'news' ? freshNews(id, { body: text }) : freshChat(id, { text })),
          );
        }),
        fc
          .integer({ min: LIMITS.maxMessageBytes + 1, max: 3 * LIMITS.maxMessageBytes })
          .map((n) =>
            input(
              'huge-message',
              encode(
                kind,
                kind === 'news'
                  ? freshNews(id, { url: `https://x.example/${'u'.repeat(n)}` })
                  : freshChat(id, { channel: 'c'.repeat(n) }),
              ),
            ),
          ),
        fc.integer({ min: 1_000, max: 20_000 }).map((n) => {
          const longId = `${id}-${'i'.repeat(n)}`;
          return input('huge-id', encode(kind, kind === 'news' ? freshNews(longId) : freshChat(longId)));
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(input('null-value', null), input('empty-value', Buffer.alloc(0))),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n)
        .map((v) => input('int64-event-time', withInt64EventTime(kind, id, v))),
    },
    { weight: 2, arbitrary: avroBody(kind, id).map((v) => input('null-key', v, null)) },
  );
}

/** FUZZ_RUNS inputs, the same for the same SEED; record i has key (and, when it has one, id) fz-i. */
function fuzzInputs(): FuzzInput[] {
  const kinds = fc.sample(fc.constantFrom<Kind>('news', 'chat'), { numRuns: FUZZ_RUNS, seed: SEED });
  return kinds.map(
    (kind, i) => fc.sample(fuzzInput(kind, `fz-${i}`), { numRuns: 1, seed: SEED + i + 1 })[0]!,
  );
}

/** Sends in requests of at most 200 records or 512 KiB (the broker's message.max.bytes is 1 MiB). */
async function produceAll(messages: Array<{ topic: string; message: Message }>): Promise<void> {
  const producer = fx.kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    let batch: Array<{ topic: string; message: Message }> = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const byTopic = new Map<string, Message[]>();
      for (const { topic, message } of batch) byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
      });
      batch = [];
      bytes = 0;
    };
    for (const m of messages) {
      const size = (m.message.value as Buffer | null)?.length ?? 0;
      if (batch.length >= 200 || bytes + size > 512 * 1024) await flush();
      batch.push(m);
      bytes += size;
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
}

describe('fault: fuzzed inputs', () => {
  it(`${FUZZ_RUNS} fuzzed records each land on enriched or the DLQ, and the pipeline keeps going`, async () => {
    const { path: configPath, config } = fx.writeConfig({ limits: LIMITS });
    const inputs = fuzzInputs();
    const topicOf = (kind: Kind): string => (kind === 'news' ? topics.news : topics.chat);
    const sentinels = Array.from({ length: SENTINELS }, (_, i) => ({
      topic: topicOf(i % 2 === 0 ? 'news' : 'chat'),
      message: {
        key: `sentinel-${i}`,
        value:
          i % 2 === 0
            ? encode('news', freshNews(`sentinel-${i}`, { published_at: NOW - 60_000 }))
            : encode('chat', freshChat(`sentinel-${i}`, { sent_at: NOW - 60_000 })),
      },
    }));
    const progress = fx.progress();
    const processor = fx.start(configPath);
    const started = Date.now();
    const timing = { processingSeconds: 0 };
    try {
      await produceAll(
        inputs.map((input) => ({
          topic: topicOf(input.kind),
          message: { key: input.key, value: input.value },
        })),
      );
      await produceAll(sentinels);
      await progress.waitForAllCommitted([processor], 600_000);
      timing.processingSeconds = (Date.now() - started) / 1000;
      expectRunning(processor);
      await expectCleanStop(processor);
    } finally {
      await processor.ensureStopped();
      await progress.close();
    }

    const ledger = await fx.collectLedger();
    const report = ledger.report(() => 'either', { idsAreKeys: false });
    // Where each record should land, by the product codec (decode + validate) run here again.
    const codec = productCodec(config, TEST_AUTHOR_KEY);
    const routing: string[] = [];
    const reasons = new Map<string, number>();
    const categories = new Map<string, number>();
    for (const input of inputs) categories.set(input.category, (categories.get(input.category) ?? 0) + 1);
    for (const record of ledger.inputs) {
      const decoded = codec.document(record, record.topic === topics.chat ? 'chat' : 'news');
      const dead = ledger.deadOf(record);
      const enriched = ledger.enrichedOf(record);
      for (const d of dead) reasons.set(d.reason ?? '?', (reasons.get(d.reason ?? '?') ?? 0) + 1);
      const where = `${String(record.key)} @ ${record.topic}:${record.partition}:${record.offset}`;
      if (!decoded.ok) {
        if (enriched || dead[0]?.reason !== decoded.rejection.reason)
          routing.push(
            `${where}: codec rejects (${decoded.rejection.reason}) but it went to ${enriched ? 'enriched' : `dlq (${dead[0]?.reason})`}`,
          );
      } else if (!enriched && dead[0]?.reason !== 'enrich-failed') {
        routing.push(`${where}: codec accepts but it went to dlq (${dead[0]?.reason})`);
      } else if (enriched && enriched.id !== decoded.value.id) {
        routing.push(`${where}: enriched id differs from the input's`);
      }
    }
    const check = await fx.checkWindows(ledger, config);
    const { windows } = check;
    printFigures({
      fault: `6 fuzz (${FUZZ_RUNS} records, seed ${SEED})`,
      report,
      recoverySeconds: [],
      extra: {
        sentinels: SENTINELS,
        processingSeconds: timing.processingSeconds,
        categories: Object.fromEntries(categories),
        dlqReasons: Object.fromEntries(reasons),
        windowDocuments: windows.documents,
      },
    });
    expect(report.inputs).toBe(FUZZ_RUNS + SENTINELS);
    expect(ledgerProblems(report)).toEqual([]);
    expect(routing.slice(0, 20)).toEqual([]);
    for (const s of sentinels) {
      const record = ledger.inputs.find((r) => r.key?.toString() === s.message.key)!;
      expect(ledger.enrichedOf(record)?.id, s.message.key).toBe(s.message.key);
    }
    // The fuzz reached both outcomes and many rejection reasons (it is not all one kind of garbage).
    expect(report.enrichedInputs).toBeGreaterThan(FUZZ_RUNS / 10);
    expect(reasons.size).toBeGreaterThanOrEqual(6);
    expectWindowsMatch(check, 0);
  });
});
