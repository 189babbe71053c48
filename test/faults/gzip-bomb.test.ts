// Fault: a gzip bomb on an input topic (issue 14). One record batch of 1,000 valid news records of
// 960 KB each, gzip-compressed to under the broker's 1 MiB limit, produced raw (the test builds the
// compressed records itself; the broker validates and stores them as they are). `finsentry run`
// (a child process, its RSS sampled from /proc) must not inflate it beyond
// limits.maxDecompressedBatchBytes: the bomb's 1,000 offsets go to the DLQ as `decompression-limit`,
// the records after it are enriched, and the process stays near its steady RSS.
import { createGzip } from 'node:zlib';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { installBoundedCodecs } from '../../src/io/kafka/bounded-codecs.js';
import { encodeChat, encodeNews, chat, news, produce } from '../helpers/avro-producer.js';
import { faultFixture } from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import { waitFor } from '../helpers/stack.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

const BOMB_RECORDS = 1_000;
const BOMB_VALUE_BYTES = 960_000;
const BEFORE = 20;
const AFTER = 40;
const MiB = 1024 * 1024;

/** Kafka's signed (zigzag) varint. */
function varint(value: number): Buffer {
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** One record in the v2 batch encoding: length, attributes, timestamp delta, offset delta, key, value, no headers. */
function encodeRecord(offsetDelta: number, key: Buffer, value: Buffer): Buffer[] {
  const body = [
    Buffer.from([0]),
    varint(0),
    varint(offsetDelta),
    varint(key.length),
    key,
    varint(value.length),
    value,
    varint(0),
  ];
  const length = body.reduce((n, b) => n + b.length, 0);
  return [varint(length), ...body];
}

/** The batch's records, gzip level 9, built one record at a time (the test never holds them inflated). */
async function gzipBomb(): Promise<{ compressed: Buffer; inflatedBytes: number }> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve, reject) => gzip.on('end', resolve).on('error', reject));
  let inflatedBytes = 0;
  for (let i = 0; i < BOMB_RECORDS; i++) {
    const id = `bomb-${String(i).padStart(4, '0')}`;
    const value = encodeNews(news(id, { body: 'x'.repeat(BOMB_VALUE_BYTES - 200) }));
    for (const part of encodeRecord(i, Buffer.from(id), value)) {
      inflatedBytes += part.length;
      if (!gzip.write(part)) await new Promise((resolve) => gzip.once('drain', resolve));
    }
  }
  gzip.end();
  await done;
  return { compressed: Buffer.concat(chunks), inflatedBytes };
}

/**
 * Produces the bomb as one batch of BOMB_RECORDS records to partition 0: kafkajs' producer frames the
 * batch (header, CRC) around whatever its gzip codec returns, so the codec returns the bomb.
 */
async function produceBomb(kafka: Parameters<typeof produce>[0], topic: string, bomb: Buffer): Promise<void> {
  const codecs = CompressionCodecs as Record<number, () => unknown>;
  const original = codecs[CompressionTypes.GZIP]!;
  codecs[CompressionTypes.GZIP] = () => ({ compress: () => Promise.resolve(bomb) });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: BOMB_RECORDS }, (_, i) => ({ key: `b${i}`, value: 'x', partition: 0 })),
    });
  } finally {
    codecs[CompressionTypes.GZIP] = original;
    await producer.disconnect();
  }
}

describe('fault: gzip bomb on an input topic', () => {
  const fixture = faultFixture({ dir: 'gzip-bomb', name: 'gzipbomb' });

  it('dead-letters the bomb batch as decompression-limit with flat memory, and processes what follows', async () => {
    const { topics, kafka } = fixture;
    const { compressed, inflatedBytes } = await gzipBomb();
    // Under the broker's default message.max.bytes (1,048,588) with the 61-byte batch header.
    expect(compressed.length).toBeLessThan(1_048_588 - 61);
    const newsAt = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => {
        const id = `${prefix}-${i}`;
        return { key: id, value: encodeNews(news(id)), partition: 0 };
      });
    await produce(kafka, topics.news, newsAt('before', BEFORE));
    await produceBomb(kafka, topics.news, compressed);
    await produce(kafka, topics.news, newsAt('after', AFTER));
    await produce(
      kafka,
      topics.chat,
      Array.from({ length: 20 }, (_, i) => ({ key: `chat-${i}`, value: encodeChat(chat(`chat-${i}`)) })),
    );

    const { path: configPath, config } = fixture.writeConfig();
    const progress = fixture.progress();
    const processor = fixture.start(configPath, 'bomb');
    let steadyRss = 0;
    let peakRss = 0;
    const sampler = setInterval(() => {
      const rss = processor.rssBytes() ?? 0;
      peakRss = Math.max(peakRss, rss);
      if (!processor.consuming) steadyRss = Math.max(steadyRss, rss);
    }, 20);
    const started = Date.now();
    try {
      await waitFor(() => processor.consuming || !processor.running, 180_000);
      await progress.waitForAllCommitted([processor], 300_000);
    } finally {
      clearInterval(sampler);
      await progress.close();
    }
    const seconds = (Date.now() - started) / 1000;
    const rssAfter = processor.rssBytes() ?? 0;
    await processor.stop();

    // The test's own reads must not inflate the bomb either.
    installBoundedCodecs({ maxDecompressedBatchBytes: config.limits.maxDecompressedBatchBytes });
    const ledger = await fixture.collectLedger();
    const bombOffsets = (offset: string) =>
      Number(offset) >= BEFORE && Number(offset) < BEFORE + BOMB_RECORDS;
    const isBomb = (r: { topic: string; partition: number; offset: string }) =>
      r.topic === topics.news && r.partition === 0 && bombOffsets(r.offset);
    const report = ledger.report((input) => (isBomb(input) ? 'dlq' : 'enriched'), { idsAreKeys: false });
    const bombReasons = new Map<string, number>();
    for (const input of ledger.inputs.filter(isBomb))
      for (const d of ledger.deadOf(input))
        bombReasons.set(d.reason ?? '?', (bombReasons.get(d.reason ?? '?') ?? 0) + 1);
    const afterEnriched = ledger.inputs.filter(
      (r) => r.key?.toString().startsWith('after-') && ledger.enrichedOf(r),
    ).length;
    printFigures({
      fault: 'gzip-bomb',
      report,
      recoverySeconds: [seconds],
      extra: {
        bombCompressedBytes: compressed.length,
        bombInflatedBytes: inflatedBytes,
        limitBytes: config.limits.maxDecompressedBatchBytes,
        steadyRssMiB: Math.round(steadyRss / MiB),
        peakRssMiB: Math.round(peakRss / MiB),
        rssAfterMiB: Math.round(rssAfter / MiB),
        bombDlqReasons: Object.fromEntries(bombReasons),
        afterEnriched,
      },
    });

    expect(ledgerProblems(report)).toEqual([]);
    expect(ledger.inputs.filter(isBomb)).toHaveLength(BOMB_RECORDS);
    expect(Object.fromEntries(bombReasons)).toEqual({ 'decompression-limit': BOMB_RECORDS });
    expect(afterEnriched).toBe(AFTER);
    // Steady RSS plus a few times the limit, far from the inflated ~960 MB (2.13 GiB before the fix).
    expect(peakRss).toBeLessThan(steadyRss + 4 * config.limits.maxDecompressedBatchBytes + 128 * MiB);
  }, 600_000);
});
