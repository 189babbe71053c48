// The pipeline against the REAL schema registry of the local stack (Apicurio Registry's Confluent API,
// scripts/stack/stack.sh up registry), the real broker and Redis: input schemas registered under
// TopicNameStrategy subjects (<topic>-value) through the registry's REST API, Confluent-framed records
// decoded by the running pipeline with the ids the registry assigned; a schema evolution (v2 adds an
// optional field) checked by the registry's compatibility API and decoded; an id the registry does not
// know is dead-lettered with its reason, and once the id is registered the running service finds it
// after codec.registry.notFoundTtl (the negative cache expires). With codec.registry.registerOutputSchemas
// the enriched and alerts topics are written with registered ids, and Confluent's own Python client
// (confluent-kafka's AvroDeserializer, tools/python/registry_reader.py) reads them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import avro from 'avsc';
import type { Schema } from 'avsc';
import type { Kafka } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../src/alerts/events.js';
import { PipelineService } from '../../src/app/pipeline.js';
import { withRegisteredOutputSchemas } from '../../src/app/schema-registry.js';
import { decodeEnriched } from '../../src/codec/enriched.js';
import type { NewsArticleRecord } from '../../src/codec/records.js';
import { schemaJson } from '../../src/codec/schemas.js';
import { frameConfluent } from '../../src/codec/wire.js';
import { parseConfig } from '../../src/config/load.js';
import type { FinsentryConfig } from '../../src/config/schema.js';
import { ConfluentRegistryClient } from '../../src/io/http/schema-registry.js';
import { kafkaAlertPublisher } from '../../src/io/kafka/alert-publisher.js';
import { readDeadLetterHeaders } from '../../src/pipeline/dlq.js';
import { buildObservation } from '../../src/stats/grouping.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { checkSchemaDir, type CompatResult } from '../../src/tools/schemas/compat.js';
import { checkWithRegistry } from '../../src/tools/schemas/registry-compat.js';
import {
  committedOffsets,
  highWatermarks,
  news,
  produce,
  readAll,
  testKafka,
} from '../helpers/avro-producer.js';
import {
  deleteSubject,
  isCompatibleWithLatest,
  registerSchema,
  setCompatibility,
  subjectVersions,
} from '../helpers/schema-registry.js';
import {
  createTopic,
  deleteTopics,
  kafkaBrokers,
  redisUrl,
  schemaRegistryUrl,
  uniqueName,
  waitFor,
} from '../helpers/stack.js';
import { repoRoot } from '../helpers/finsentry-cli.js';
import { TestEnricher } from '../helpers/test-enricher.js';

const NOT_FOUND_TTL_MS = 500;
const kafka: Kafka = testKafka();
const createdTopics: string[] = [];
const subjects: string[] = [];

type Fields = Array<{ name: string; type: unknown; default?: unknown }>;
const v1 = schemaJson('NewsArticle') as unknown as { fields: Fields } & Record<string, unknown>;
/** v2: an added optional field (a union with null first, default null): BACKWARD compatible. */
const v2 = { ...v1, fields: [...v1.fields, { name: 'desk', type: ['null', 'string'], default: null }] };
/** An added required field without a default: v1 records cannot be read with it (not BACKWARD). */
const v3Breaking = { ...v1, fields: [...v1.fields, { name: 'desk_id', type: 'long' }] };

function frame(schema: object, id: number, record: object): Buffer {
  return frameConfluent(id, avro.Type.forSchema(schema as Schema).toBuffer(record));
}

type Topics = Record<'news' | 'chat' | 'enriched' | 'dlq' | 'alerts', string>;

async function freshTopics(): Promise<Topics & { base: string }> {
  const base = uniqueName('fs-sr');
  const topics = {
    news: `${base}.news`,
    chat: `${base}.chat`,
    enriched: `${base}.enriched`,
    dlq: `${base}.dlq`,
    alerts: `${base}.alerts`,
  };
  for (const topic of Object.values(topics)) await createTopic(topic, 2);
  createdTopics.push(...Object.values(topics));
  return { ...topics, base };
}

function pipelineConfig(
  { base: _base, ...topics }: Topics & { base: string },
  registry: object = {},
): FinsentryConfig {
  return parseConfig(
    {
      kafka: {
        brokers: kafkaBrokers(),
        groupId: uniqueName('fs-sr-group'),
        clientId: 'finsentry-it-sr',
        topics: { ...topics, labels: null },
        sessionTimeout: '10s',
      },
      redis: { url: redisUrl(), keyPrefix: uniqueName('fssr').replace(/-/g, '_') },
      codec: {
        wireFormat: 'confluent',
        registry: { url: schemaRegistryUrl(), notFoundTtl: `${NOT_FOUND_TTL_MS}ms`, ...registry },
      },
      batching: { maxBatchSize: 8, maxInFlightBatches: 2, maxQueuedDocuments: 64 },
      limits: { maxFutureSkew: '5m' },
      log: { level: 'warn' },
    },
    {},
  );
}

function pipeline(cfg: FinsentryConfig): PipelineService {
  return new PipelineService(cfg, {
    kafka,
    enricher: new TestEnricher(),
    stats: null,
    buildObservation: (doc, enrichment) => buildObservation(doc, enrichment, cfg.stats.dimensions),
    authorKey: 'integration-test-author-key-0001',
    logger: createLogger('error', 'finsentry-it-sr'),
    pipelineVersion: 'test',
    backoff: { initialMs: 50, maxMs: 400 },
  });
}

async function committedThrough(groupId: string, topic: string): Promise<boolean> {
  const [committed, high] = await Promise.all([
    committedOffsets(kafka, groupId, topic),
    highWatermarks(kafka, topic),
  ]);
  return [...high].every(([p, hw]) => hw === 0n || (committed.get(p) ?? -1n) >= hw);
}

afterAll(async () => {
  await deleteTopics(createdTopics);
  for (const subject of subjects) await deleteSubject(subject);
});

describe('the pipeline with the real schema registry', () => {
  it('decodes records framed with registry ids (v1 and an evolved v2), dead-letters an unknown id and finds it once registered', async () => {
    const topics = await freshTopics();
    const { base } = topics;

    // TopicNameStrategy: the value schema of topic T is the subject "T-value".
    const subject = `${topics.news}-value`;
    subjects.push(subject);
    await setCompatibility(subject, 'BACKWARD');
    const v1Id = await registerSchema(subject, v1);
    expect(await isCompatibleWithLatest(subject, v2)).toBe(true);
    expect(await isCompatibleWithLatest(subject, v3Breaking)).toBe(false);
    const v2Id = await registerSchema(subject, v2);
    expect(v2Id).not.toBe(v1Id);
    expect(await subjectVersions(subject)).toEqual([1, 2]);

    const cfg = pipelineConfig(topics);
    const service = pipeline(cfg);
    await service.start();
    try {
      // An id nobody has registered yet: the registry hands out ids in sequence, so the next one after
      // a probe registration. The late schema registered below gets it (asserted).
      const probeSubject = `${base}.probe-value`;
      subjects.push(probeSubject);
      const lateId =
        (await registerSchema(probeSubject, { ...v1, name: `Probe_${randomBytes(4).toString('hex')}` })) + 1;

      const v1Records = Array.from({ length: 6 }, (_, i) =>
        news(`v1-${i}`, { published_at: Date.now() - i * 1000 }),
      );
      const v2Records = Array.from({ length: 6 }, (_, i) => ({
        ...news(`v2-${i}`, { published_at: Date.now() - i * 1000 }),
        desk: i % 2 === 0 ? 'rates' : null,
      }));
      // The producer's schema, registered only after its first records: a NewsArticle with another
      // optional field (its doc unique to this run, hence a new id: lateId).
      const wireRef = {
        name: 'wire_ref',
        type: ['null', 'string'],
        default: null,
        doc: `wire reference (${base})`,
      };
      const late = { ...v1, fields: [...v1.fields, wireRef] };
      const early = Array.from({ length: 3 }, (_, i) => ({ ...news(`early-${i}`), wire_ref: null }));
      await produce(kafka, topics.news, [
        ...v1Records.map((r) => ({ key: r.id, value: frame(v1, v1Id, r) })),
        ...v2Records.map((r) => ({ key: r.id, value: frame(v2, v2Id, r) })),
        ...early.map((r) => ({ key: r.id, value: frame(late, lateId, r) })),
      ]);
      await waitFor(() => committedThrough(cfg.kafka.groupId, topics.news), 120_000, 250);

      const enrichedIds = async () =>
        new Set((await readAll(kafka, topics.enriched)).map((r) => decodeEnriched(r.message.value!).id));
      expect(await enrichedIds()).toEqual(new Set([...v1Records, ...v2Records].map((r) => r.id)));
      const dead = await readAll(kafka, topics.dlq);
      expect(dead.map((r) => r.message.key!.toString()).sort()).toEqual(early.map((r) => r.id).sort());
      for (const r of dead) expect(readDeadLetterHeaders(r.message.headers).reason).toBe('unknown-schema-id');
      const missedAt = Math.max(...dead.map((r) => Number(r.message.timestamp)));

      // Now the producer's schema is registered.
      expect(await registerSchema(subject, late)).toBe(lateId);
      // The service remembers the miss for notFoundTtl; records after it decode with the new schema.
      await waitFor(() => Date.now() > missedAt + NOT_FOUND_TTL_MS, 10_000, 50);
      const after: Array<NewsArticleRecord & { wire_ref: string }> = Array.from({ length: 3 }, (_, i) => ({
        ...news(`late-${i}`),
        wire_ref: `ref-${i}`,
      }));
      await produce(
        kafka,
        topics.news,
        after.map((r) => ({ key: r.id, value: frame(late, lateId, r) })),
      );
      await waitFor(() => committedThrough(cfg.kafka.groupId, topics.news), 120_000, 250);
      const final = await enrichedIds();
      for (const r of after) expect(final.has(r.id)).toBe(true);
      expect((await readAll(kafka, topics.dlq)).length).toBe(early.length);
      // The DLQ keeps each input's own bytes (docs/schemas.md): once their schema is registered,
      // Confluent's Python deserializer reads the dead letters like any framed record.
      const deadRead = readWithPython(topics.dlq, early.length);
      expect(deadRead.map((r) => r.key).sort()).toEqual(early.map((r) => r.id).sort());
      for (const r of deadRead) expect(r).toMatchObject({ schema_id: lateId, value: { id: r.key } });
    } finally {
      expect(await service.stop(30_000)).toBe(true);
    }
  });

  it("registers the output schemas under TopicNameStrategy subjects; Confluent's Python deserializer reads enriched and alerts", async () => {
    const topics = await freshTopics();
    const cfg = await withRegisteredOutputSchemas(
      pipelineConfig(topics, { registerOutputSchemas: true }),
      createLogger('error', 'finsentry-it-sr'),
    );
    const enrichedSubject = `${topics.enriched}-value`;
    const alertsSubject = `${topics.alerts}-value`;
    subjects.push(enrichedSubject, alertsSubject, `${topics.news}-value`);
    const { enrichedSchemaId, alertsSchemaId } = cfg.codec;
    expect(enrichedSchemaId).toBeTypeOf('number');
    expect(alertsSchemaId).toBeTypeOf('number');
    expect(await subjectVersions(enrichedSubject)).toEqual([1]);
    expect(await subjectVersions(alertsSubject)).toEqual([1]);
    // A second start registers nothing new: the same ids.
    const again = await withRegisteredOutputSchemas(cfg, createLogger('error', 'finsentry-it-sr'));
    expect([again.codec.enrichedSchemaId, again.codec.alertsSchemaId]).toEqual([
      enrichedSchemaId,
      alertsSchemaId,
    ]);
    expect(await subjectVersions(enrichedSubject)).toEqual([1]);

    const inputId = await registerSchema(`${topics.news}-value`, v1);
    const inputs = Array.from({ length: 5 }, (_, i) =>
      news(`out-${i}`, { published_at: Date.now() - i * 1000 }),
    );
    await produce(
      kafka,
      topics.news,
      inputs.map((r) => ({ key: r.id, value: frame(v1, inputId, r) })),
    );
    const service = pipeline(cfg);
    await service.start();
    try {
      await waitFor(() => committedThrough(cfg.kafka.groupId, topics.news), 120_000, 250);
    } finally {
      expect(await service.stop(30_000)).toBe(true);
    }
    const alert: AlertEvent = {
      fingerprint: 'fp-1',
      rule: 'NegativeShareHigh',
      kind: 'sentiment',
      state: 'firing',
      severity: 'warning',
      dimension: 'issuer',
      group: 'acme',
      metric: 'negative_share',
      value: 0.42,
      threshold: 0.3,
      window_ms: 300_000,
      sample_size: 120,
      p_value: null,
      started_at: Date.now(),
      ended_at: null,
      summary: 'negative share of acme above 0.3',
      runbook_url: 'docs/runbooks.md#negativesharehigh',
      labels: { event_id: 'fp-1:1:firing' },
    };
    const producer = kafka.producer();
    await producer.connect();
    try {
      await kafkaAlertPublisher(producer, topics.alerts, alertsSchemaId).publish([alert]);
    } finally {
      await producer.disconnect();
    }

    const enriched = readWithPython(topics.enriched, inputs.length);
    expect(enriched.map((r) => r.key).sort()).toEqual(inputs.map((r) => r.id).sort());
    for (const r of enriched) {
      expect(r.schema_id).toBe(enrichedSchemaId);
      expect(r.value.id).toBe(r.key);
      expect(r.value.kind).toBe('news');
    }
    const [published] = readWithPython(topics.alerts, 1);
    expect(published).toMatchObject({
      key: 'fp-1',
      schema_id: alertsSchemaId,
      value: { rule: 'NegativeShareHigh', state: 'firing', group: 'acme', value: 0.42, labels: alert.labels },
    });
  });
});

describe("schema evolution through the registry's compatibility API (npm run schemas:check -- --registry)", () => {
  it('agrees with the avsc check on the shipped schemas and refuses planted breaks', async () => {
    const client = new ConfluentRegistryClient({ url: schemaRegistryUrl(), timeoutMs: 10_000 });
    const shipped = path.join(repoRoot, 'schemas');
    const byKey = (results: CompatResult[]) =>
      results.map((r) => [r.schema, r.direction, r.problem === undefined]);
    const registry = await checkWithRegistry(client, shipped, uniqueName('fs-compat'));
    expect(byKey(registry)).toEqual(byKey(checkSchemaDir(shipped)));
    // The one accepted break (ACCEPTED_BREAKS) is the registry's verdict too, not only avsc's.
    expect(registry.filter((r) => r.accepted).map((r) => `${r.schema} ${r.direction}`)).toEqual([
      'EnrichedDocument.avsc FORWARD',
    ]);

    // Planted: a required field added (old records unreadable: not BACKWARD) and a required field
    // dropped (old readers cannot read new records: not FORWARD).
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-compat-'));
    mkdirSync(path.join(dir, 'released'));
    const write = (file: string, schema: object) =>
      writeFileSync(path.join(dir, file), JSON.stringify(schema));
    write('released/Added.avsc', v1);
    write('Added.avsc', v3Breaking);
    write('released/Dropped.avsc', v1);
    write('Dropped.avsc', { ...v1, fields: v1.fields.filter((f) => f.name !== 'source') });
    try {
      const planted = await checkWithRegistry(client, dir, uniqueName('fs-compat-planted'));
      expect(byKey(planted)).toEqual([
        ['Added.avsc', 'BACKWARD', false],
        ['Added.avsc', 'FORWARD', true],
        ['Dropped.avsc', 'BACKWARD', true],
        ['Dropped.avsc', 'FORWARD', false],
      ]);
      expect(byKey(planted)).toEqual(byKey(checkSchemaDir(dir)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

interface PythonRecord {
  key: string;
  schema_id: number;
  value: Record<string, unknown>;
}

/** Reads a topic with Confluent's Python client and AvroDeserializer (tools/python/registry_reader.py). */
function readWithPython(topic: string, count: number): PythonRecord[] {
  const python = process.env.FINSENTRY_PYTHON ?? '.venv-py/bin/python';
  const result = spawnSync(
    python,
    ['tools/python/registry_reader.py', kafkaBrokers().join(','), schemaRegistryUrl(), topic, String(count)],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (result.status !== 0) throw new Error(`registry_reader.py failed (${result.status}): ${result.stderr}`);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as PythonRecord);
}
