// Security settings against private servers started here (design §10, issue 8 item 5) — never the
// shared stack: a Kafka broker with SASL_SSL / SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)
// and mutual-TLS listeners, and a TLS-only Redis with ACL users; certificates generated at test time.
//  - Kafka: each SASL mechanism authenticates with the secret from env or file; a wrong password, an
//    untrusted CA and a missing client certificate are refused.
//  - Redis: the ACL user over TLS with a client certificate can do what finsentry needs, within its key
//    prefix only; wrong password, foreign keys, dangerous commands and a missing certificate are refused.
//  - `finsentry run` (real models, exactly-once) against both, at log level trace: every input comes
//    out, and no secret (Kafka password, Redis password, author key) appears anywhere in its output.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnriched } from '../../src/codec/enriched.js';
import { parseConfig } from '../../src/config/load.js';
import type { FinsentryConfig } from '../../src/config/schema.js';
import { buildKafka, buildKafkaJsConfig } from '../../src/io/kafka/client.js';
import { createRedisClient } from '../../src/io/redis/client.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { chat, encodeChat, encodeNews, news } from '../helpers/avro-producer.js';
import { GroupProgress, synthModels } from '../helpers/processor-process.js';
import { readToEnd } from '../helpers/read-to-end.js';
import {
  generateTls,
  randomSecret,
  SecureKafka,
  SecureRedis,
  type TlsMaterial,
} from '../helpers/secure-servers.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(path.join(tmpdir(), 'fs-security-'));
const logger = createLogger('silent');

const kafkaUser = { name: 'finsentry', password: randomSecret('kpw') };
const redisUser = { name: 'finsentry', password: randomSecret('rpw') };
const redisAdmin = { name: 'admin', password: randomSecret('apw') };
const authorKey = randomSecret('author');
const keyPrefix = 'fs_sec';
// What finsentry needs of Redis, and only within its key prefix: reads, writes, Lua scripts (the
// window store, the leader lease), MULTI/EXEC, connection commands and INFO (ioredis' ready check).
const FINSENTRY_ACL = `~${keyPrefix}:* resetchannels -@all +@read +@write +@scripting +@transaction +@connection -@dangerous +info`;

let tls: TlsMaterial;
let kafkaServer: SecureKafka;
let redisServer: SecureRedis;

beforeAll(async () => {
  tls = generateTls(path.join(dir, 'tls'));
  [kafkaServer, redisServer] = await Promise.all([
    SecureKafka.start({ tls, users: [kafkaUser] }),
    SecureRedis.start({
      tls,
      users: [
        { ...redisUser, rules: FINSENTRY_ACL },
        { ...redisAdmin, rules: '~* &* +@all' },
      ],
    }),
  ]);
}, 300_000);

afterAll(async () => {
  await Promise.allSettled([kafkaServer?.stop(), redisServer?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const PW_ENV = 'FS_TEST_KAFKA_PASSWORD';

function kafkaConfig(kafka: Record<string, unknown>): FinsentryConfig['kafka'] {
  return parseConfig({ kafka: { clientId: 'finsentry-security-it', ...kafka } }, {}).kafka;
}

/** Metadata, topic creation and an acknowledged produce: all need an authenticated, authorised session. */
async function roundTrip(kafka: Kafka, topic: string): Promise<bigint> {
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }] });
    const [offsets] = await admin.fetchTopicOffsets(topic);
    return BigInt(offsets!.high);
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}

/** A client that gives up at the first failure (refusal tests need no retries). */
function oneShot(cfg: FinsentryConfig['kafka'], env: NodeJS.ProcessEnv): Kafka {
  return new Kafka({ ...buildKafkaJsConfig(cfg, logger, env), retry: { retries: 0 } });
}

async function connectError(kafka: Kafka): Promise<Error> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (err) {
    return err as Error;
  } finally {
    await admin.disconnect().catch(() => {});
  }
  throw new Error('connected although it should have been refused');
}

describe('Kafka SASL and TLS', () => {
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    it(`${mechanism} over SASL_SSL with the password from the environment; a wrong one is refused`, async () => {
      const cfg = kafkaConfig({
        brokers: [kafkaServer.broker('saslSsl')],
        tls: { caFile: tls.caFile },
        sasl: { mechanism, username: kafkaUser.name, password: { env: PW_ENV } },
      });
      const env = { [PW_ENV]: kafkaUser.password };
      expect(await roundTrip(buildKafka(cfg, logger, env), uniqueName(`sec-${mechanism}`))).toBe(1n);

      const wrong = await connectError(oneShot(cfg, { [PW_ENV]: `${kafkaUser.password}x` }));
      expect(wrong.name).toBe('KafkaJSSASLAuthenticationError');
    });
  }

  it('scram-sha-512 over SASL_PLAINTEXT with the password from a file', async () => {
    const file = path.join(dir, 'kafka-password');
    writeFileSync(file, `${kafkaUser.password}\n`, { mode: 0o600 });
    const cfg = kafkaConfig({
      brokers: [kafkaServer.broker('saslPlaintext')],
      sasl: { mechanism: 'scram-sha-512', username: kafkaUser.name, password: { file } },
    });
    expect(await roundTrip(buildKafka(cfg, logger, {}), uniqueName('sec-file'))).toBe(1n);
  });

  it('refuses a broker whose certificate is not signed by the configured CA', async () => {
    const cfg = kafkaConfig({
      brokers: [kafkaServer.broker('saslSsl')],
      tls: { caFile: tls.otherCaFile },
      sasl: { mechanism: 'scram-sha-256', username: kafkaUser.name, password: { env: PW_ENV } },
    });
    const err = await connectError(oneShot(cfg, { [PW_ENV]: kafkaUser.password }));
    expect(`${err.message} ${String((err as { cause?: unknown }).cause)}`).toMatch(/certificate/i);
  });

  it('mutual TLS: the SSL listener accepts the client certificate and refuses a client without one', async () => {
    const withCert = kafkaConfig({
      brokers: [kafkaServer.broker('ssl')],
      tls: { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile },
    });
    expect(await roundTrip(buildKafka(withCert, logger, {}), uniqueName('sec-mtls'))).toBe(1n);
    const without = kafkaConfig({ brokers: [kafkaServer.broker('ssl')], tls: { caFile: tls.caFile } });
    const err = await connectError(oneShot(without, {}));
    expect(err.message).toMatch(/bad certificate|certificate required/);
  });
});

describe('Redis ACL user and TLS', () => {
  function redisConfig(password: string, withClientCert = true): FinsentryConfig['redis'] {
    const file = path.join(dir, `redis-password-${password.length}-${withClientCert}`);
    writeFileSync(file, password, { mode: 0o600 });
    return parseConfig(
      {
        redis: {
          url: redisServer.url,
          username: redisUser.name,
          password: { file },
          keyPrefix,
          tls: withClientCert
            ? { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile }
            : { caFile: tls.caFile },
          commandTimeout: '5s',
        },
      },
      {},
    ).redis;
  }

  it('the ACL user works within its prefix over TLS and is refused everything else', async () => {
    const cfg = redisConfig(redisUser.password);
    const redis = createRedisClient(cfg);
    try {
      expect(await redis.ping()).toBe('PONG');
      // Lua, hashes and expiry on its own keys (the whole window store runs under this ACL in the
      // `finsentry run` test below).
      const key = `${keyPrefix}:acl-check`;
      expect(await redis.eval("return redis.call('HINCRBY', KEYS[1], 'n', 1)", 1, key)).toBe(1);
      expect(await redis.hgetall(key)).toEqual({ n: '1' });
      expect(await redis.expire(key, 60)).toBe(1);
      await expect(redis.set('other:key', '1')).rejects.toThrow(/NOPERM/);
      await expect(redis.get('other:key')).rejects.toThrow(/NOPERM/);
      await expect(redis.call('FLUSHALL')).rejects.toThrow(/NOPERM/);
      await expect(redis.call('CONFIG', 'GET', 'requirepass')).rejects.toThrow(/NOPERM/);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a wrong password and a client without a certificate', async () => {
    const wrong = createRedisClient(redisConfig(`${redisUser.password}x`));
    wrong.on('error', () => {}); // the refusals are asserted on the commands below
    try {
      await expect(wrong.ping()).rejects.toThrow(/WRONGPASS|invalid username-password/);
    } finally {
      wrong.disconnect();
    }
    const noCert = createRedisClient(redisConfig(redisUser.password, false));
    let connectionError = '';
    noCert.on('error', (err: Error) => (connectionError ||= err.message));
    try {
      await expect(noCert.ping()).rejects.toThrow();
      expect(connectionError).toMatch(/certificate required|ECONNRESET/);
    } finally {
      noCert.disconnect();
    }
  });
});

describe('finsentry run with SASL_SSL (SCRAM-SHA-512), exactly-once, and Redis ACL over TLS', () => {
  it('processes every input and writes no secret to its logs, even at log level trace', async () => {
    const base = uniqueName('sec-run');
    const topics = {
      news: `${base}.news`,
      chat: `${base}.chat`,
      enriched: `${base}.enriched`,
      dlq: `${base}.dlq`,
    };
    const groupId = `${base}-group`;
    const redisPasswordFile = path.join(dir, 'run-redis-password');
    writeFileSync(redisPasswordFile, redisUser.password, { mode: 0o600 });
    const models = synthModels(path.join(dir, 'models'));
    const raw = {
      kafka: {
        brokers: [kafkaServer.broker('saslSsl')],
        clientId: 'finsentry-security-run',
        groupId,
        topics: { ...topics, labels: null, alerts: `${base}.alerts` },
        tls: { caFile: tls.caFile },
        sasl: { mechanism: 'scram-sha-512', username: kafkaUser.name, password: { env: PW_ENV } },
        delivery: 'exactly-once',
        sessionTimeout: '6s',
      },
      redis: {
        url: redisServer.url,
        username: redisUser.name,
        password: { file: redisPasswordFile },
        tls: { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile },
        keyPrefix,
      },
      models: { sentiment: { path: models.sentiment }, ner: { path: models.ner }, intraOpThreads: 1 },
      batching: { maxBatchSize: 16, maxInFlightBatches: 2 },
      metrics: { port: 0, host: '127.0.0.1' },
      // The evaluator runs too: its leader lease and alert state are under the same ACL.
      evaluator: { enabled: true, interval: '1s' },
      privacy: { authorKey: { env: 'FS_TEST_AUTHOR_KEY' } },
      shutdown: { deadline: '30s' },
      log: { level: 'trace' },
    };
    const configFile = path.join(dir, 'run.json');
    writeFileSync(configFile, JSON.stringify(raw));
    const config = parseConfig(raw, {});
    const kafka = buildKafka(config.kafka, logger, { [PW_ENV]: kafkaUser.password });

    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })),
      });
    } finally {
      await admin.disconnect();
    }
    const ids: string[] = [];
    const authors: string[] = [];
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const newsMessages = [];
      const chatMessages = [];
      for (let i = 0; i < 30; i++) {
        const id = `sec-${i}`;
        ids.push(id);
        const eventTime = Date.UTC(2026, 0, 5, 11, 0) + i * 1000;
        if (i % 2 === 0)
          newsMessages.push({ key: id, value: encodeNews(news(id, { published_at: eventTime })) });
        else {
          const author = `desk-trader-${randomSecret('a').slice(0, 12)}`;
          authors.push(author);
          chatMessages.push({
            key: id,
            value: encodeChat(chat(id, { sent_at: eventTime, author_id: author })),
          });
        }
      }
      newsMessages.push({ key: 'sec-corrupt', value: Buffer.from('not avro at all') });
      await producer.send({ topic: topics.news, acks: -1, messages: newsMessages });
      await producer.send({ topic: topics.chat, acks: -1, messages: chatMessages });
    } finally {
      await producer.disconnect();
    }

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'run', '--config', configFile],
      {
        cwd: repoRoot,
        env: { ...process.env, [PW_ENV]: kafkaUser.password, FS_TEST_AUTHOR_KEY: authorKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const progress = new GroupProgress(kafka, groupId, [topics.news, topics.chat]);
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null)
            throw new Error(`finsentry run exited ${child.exitCode}:\n${output.slice(-3000)}`);
          return progress.allCommitted();
        },
        180_000,
        500,
      );
      // Let the evaluator run a few rounds against the ACL-restricted Redis.
      await waitFor(() => output.includes('"evaluator started"'), 30_000);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      child.kill('SIGTERM');
      expect(await exited, output.slice(-3000)).toBe(0);
    } finally {
      await progress.close();
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    const enriched = await readToEnd(kafka, topics.enriched, { isolation: 'read_uncommitted' });
    expect(new Set(enriched.map((r) => decodeEnriched(r.message.value!).id))).toEqual(new Set(ids));
    const dlq = await readToEnd(kafka, topics.dlq, { isolation: 'read_uncommitted' });
    expect(dlq.map((r) => r.message.key?.toString())).toContain('sec-corrupt');

    // No ACL refusal anywhere: everything finsentry does in Redis is inside what the ACL allows.
    expect(output).not.toMatch(/NOPERM/);
    // The logs are plentiful at trace level (kafkajs requests, batches, commits) …
    const lines = output.split('\n').length;
    expect(lines).toBeGreaterThan(200);
    // … and carry none of the secrets, nor the raw chat author ids (pseudonymised before anything else).
    for (const [name, secret] of [
      ['kafka.sasl.password', kafkaUser.password],
      ['redis.password', redisUser.password],
      ['privacy.authorKey', authorKey],
      ...authors.map((a): [string, string] => ['chat author_id', a]),
    ] as Array<[string, string]>)
      expect(output.includes(secret), `${name} appears in the finsentry run output`).toBe(false);
    const enrichedBytes = Buffer.concat(enriched.map((r) => r.message.value!)).toString('latin1');
    for (const author of authors) expect(enrichedBytes.includes(author)).toBe(false);
    console.log(
      `security: ${ids.length} inputs over SASL_SSL/SCRAM-SHA-512 + Redis ACL/TLS, ${lines} log lines searched for 3 secrets and ${authors.length} author ids: none found`,
    );
  });
});
