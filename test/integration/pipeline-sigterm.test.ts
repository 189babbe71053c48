// `finsentry run` as a real child process with real (synthesised) ONNX models, the real broker and
// Redis: SIGTERM while input is still arriving → exit 0; a restart resumes; every input ends up on
// finsentry.enriched (duplicates allowed, losses not) and every bad one on the DLQ.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnriched } from '../../src/codec/enriched.js';
import { synthesizeModel } from '../../src/tools/models/synth/index.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import {
  chat,
  committedOffsets,
  encodeChat,
  encodeNews,
  highWatermarks,
  news,
  produce,
  readAll,
  testKafka,
} from '../helpers/avro-producer.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const kafka = testKafka();
const dir = mkdtempSync(path.join(tmpdir(), 'fs-sigterm-'));
const base = uniqueName('fs-sig');
const topics = {
  news: `${base}.news`,
  chat: `${base}.chat`,
  enriched: `${base}.enriched`,
  dlq: `${base}.dlq`,
};
const groupId = uniqueName('fs-sig-group');
const keyPrefix = uniqueName('fssig').replace(/-/g, '_');
let configPath: string;

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function startRun(): { child: ChildProcess; exited: Promise<Exited> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'run', '--config', configPath],
    {
      cwd: repoRoot,
      env: { ...process.env, FINSENTRY_AUTHOR_KEY: 'sigterm-test-author-key-000001' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<Exited>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, output })),
  );
  return { child, exited };
}

async function committedTotal(): Promise<bigint> {
  let total = 0n;
  for (const topic of [topics.news, topics.chat])
    for (const offset of (await committedOffsets(kafka, groupId, topic)).values())
      if (offset > 0n) total += offset;
  return total;
}

async function allCommitted(): Promise<boolean> {
  for (const topic of [topics.news, topics.chat]) {
    const [committed, high] = await Promise.all([
      committedOffsets(kafka, groupId, topic),
      highWatermarks(kafka, topic),
    ]);
    for (const [partition, hw] of high) if (hw > 0n && (committed.get(partition) ?? -1n) < hw) return false;
  }
  return true;
}

const produced = new Set<string>();
const corrupt = new Set<string>();
let sequence = 0;

/** One round of traffic: news (plain and Confluent-framed) and chat, plus one corrupt record. */
async function produceRound(size: number): Promise<void> {
  const newsMessages = [];
  const chatMessages = [];
  for (let i = 0; i < size; i++) {
    const id = `sig-${sequence++}`;
    produced.add(id);
    const eventTime = Date.UTC(2026, 0, 5, 10, 0) + sequence * 500;
    if (sequence % 2 === 0)
      newsMessages.push({
        key: id,
        value: encodeNews(news(id, { published_at: eventTime }), sequence % 4 === 0 ? 21 : undefined),
      });
    else chatMessages.push({ key: id, value: encodeChat(chat(id, { sent_at: eventTime })) });
  }
  corrupt.add(`corrupt-${sequence}`);
  newsMessages.push({ key: `corrupt-${sequence}`, value: Buffer.from(`corrupt record ${sequence}`) });
  await produce(kafka, topics.news, newsMessages);
  await produce(kafka, topics.chat, chatMessages);
}

beforeAll(async () => {
  // Small seeded BERT models in the Hugging Face layout (what `finsentry models synth` writes).
  synthesizeModel({
    task: 'sentiment',
    layers: 1,
    hidden: 32,
    heads: 2,
    seed: 7,
    vocabSize: 400,
    out: path.join(dir, 'sentiment'),
  });
  synthesizeModel({
    task: 'ner',
    layers: 1,
    hidden: 32,
    heads: 2,
    seed: 8,
    vocabFrom: path.join(dir, 'sentiment'),
    out: path.join(dir, 'ner'),
  });
  for (const topic of [topics.news, topics.chat]) await createTopic(topic, 3);
  configPath = path.join(dir, 'finsentry.yaml');
  writeFileSync(
    configPath,
    JSON.stringify({
      kafka: {
        brokers: kafkaBrokers(),
        groupId,
        topics: { ...topics, labels: null, alerts: `${base}.alerts` },
        sessionTimeout: '10s',
      },
      redis: { url: redisUrl(), keyPrefix },
      codec: { schemaIds: { '21': 'io.finsentry.NewsArticle' } },
      models: {
        sentiment: { path: path.join(dir, 'sentiment') },
        ner: { path: path.join(dir, 'ner') },
        intraOpThreads: 1,
      },
      batching: { maxBatchSize: 8, maxInFlightBatches: 2 },
      metrics: { port: 0, host: '127.0.0.1' },
      evaluator: { enabled: false },
      shutdown: { deadline: '30s' },
      log: { level: 'info' },
    }),
  );
});

afterAll(async () => {
  await deleteTopics(Object.values(topics));
  const redis = new Redis(redisUrl());
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('finsentry run as a process', () => {
  it('exits 0 on SIGTERM mid-stream and a restart resumes without loss', async () => {
    const first = startRun();
    try {
      // Keep traffic flowing while the service starts and consumes; SIGTERM once it has committed something.
      let producing = true;
      const producer = (async () => {
        while (producing) {
          await produceRound(10);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      await waitFor(async () => (await committedTotal()) > 0n, 120_000, 200);
      first.child.kill('SIGTERM');
      const exit = await first.exited;
      producing = false;
      await producer;
      expect(exit.output).toContain('shutting down: finishing in-flight batches');
      expect(exit.code, exit.output.slice(-2000)).toBe(0);
      expect(exit.output).toContain('finsentry stopped cleanly');
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }

    await produceRound(20); // more input while the service is down

    const second = startRun();
    try {
      await waitFor(allCommitted, 180_000, 250);
      second.child.kill('SIGTERM');
      const exit = await second.exited;
      expect(exit.code, exit.output.slice(-2000)).toBe(0);
    } finally {
      if (second.child.exitCode === null) second.child.kill('SIGKILL');
    }

    const enriched = (await readAll(kafka, topics.enriched)).map((r) => decodeEnriched(r.message.value!));
    const ids = new Set(enriched.map((d) => d.id));
    const missing = [...produced].filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
    expect(ids.size).toBe(produced.size);
    for (const d of enriched) {
      expect(d.models.map((m) => m.name).sort()).toEqual([
        'finsentry-synth-ner',
        'finsentry-synth-sentiment',
      ]);
      expect(
        d.sentiment!.probabilities.negative +
          d.sentiment!.probabilities.neutral +
          d.sentiment!.probabilities.positive,
      ).toBeCloseTo(1, 6);
    }
    const dead = await readAll(kafka, topics.dlq);
    expect(new Set(dead.map((d) => d.message.key?.toString()))).toEqual(corrupt);
    for (const d of dead) expect(readDeadLetterHeaders(d.message.headers).reason).toBe('corrupt-avro');
  });
});
