// Schema ids fetched from a Confluent-compatible registry (a local HTTP server answering like one, for
// the error paths; test/integration/schema-registry.test.ts runs against the real registry): found ids
// decode, 404 ids are unknown-schema-id until the not-found TTL expires, a failing registry is a
// dependency error (throws), each id is fetched once per batch, basic auth is sent.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroDecoder } from '../../../src/codec/decode.js';
import { SchemaRegistry } from '../../../src/codec/registry.js';
import { ConfluentRegistryClient } from '../../../src/io/http/schema-registry.js';
import { schemaJson } from '../../../src/codec/schemas.js';
import { chat, encodeChat, encodeNews, news } from '../../helpers/avro-producer.js';

let server: Server;
let url: string;
const requests: string[] = [];
const authorizations: (string | undefined)[] = [];
let failing = false;
let registeredLate: unknown;

const client = (extra: Partial<ConstructorParameters<typeof ConfluentRegistryClient>[0]> = {}) =>
  new ConfluentRegistryClient({ url, timeoutMs: 2_000, ...extra });

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    authorizations.push(req.headers.authorization);
    if (req.headers.authorization === 'Basic ' + Buffer.from('svc:wrong').toString('base64')) {
      res.writeHead(401).end('{"error_code":40101,"message":"Unauthorized"}');
      return;
    }
    if (failing) {
      res.writeHead(503).end('{"error_code":50301,"message":"unavailable"}');
      return;
    }
    const id = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '')?.[1];
    const schemas: Record<string, unknown> = {
      '100': schemaJson('NewsArticle'),
      '101': schemaJson('ChatMessage'),
      ...(registeredLate ? { '200': registeredLate } : {}),
    };
    if (id && schemas[id]) {
      res
        .writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
        .end(JSON.stringify({ schema: JSON.stringify(schemas[id]) }));
    } else if (id === '102') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ schemaType: 'PROTOBUF', schema: 'syntax = "proto3";' }));
    } else {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"error_code":40403,"message":"Schema not found"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('schema registry look-ups', () => {
  it('fetches unknown ids once, decodes with them, and maps 404 and non-Avro schemas to unknown-schema-id', async () => {
    const registry = new SchemaRegistry({ lookup: client() });
    const decoder = new AvroDecoder({ registry, wireFormat: 'confluent', maxMessageBytes: 10_000 });
    const values = [
      encodeNews(news('r1'), 100),
      encodeChat(chat('r2'), 101),
      encodeNews(news('r3'), 404),
      encodeNews(news('r4'), 102),
    ];
    await registry.prefetch(values.map((v) => decoder.schemaIdOf(v)!));
    await registry.prefetch([100, 404]); // cached, including the miss
    expect(requests.filter((r) => r === '/schemas/ids/100').length).toBe(1);
    expect(requests.filter((r) => r === '/schemas/ids/404').length).toBe(1);

    expect(decoder.decode(values[0]!, 'NewsArticle')).toMatchObject({
      ok: true,
      schemaId: 100,
      record: { id: 'r1' },
    });
    expect(decoder.decode(values[1]!, 'ChatMessage')).toMatchObject({ ok: true, schemaId: 101 });
    expect(decoder.decode(values[1]!, 'NewsArticle')).toMatchObject({
      ok: false,
      rejection: { reason: 'wrong-schema' },
    });
    expect(decoder.decode(values[2]!, 'NewsArticle')).toMatchObject({
      ok: false,
      rejection: { reason: 'unknown-schema-id' },
    });
    expect(decoder.decode(values[3]!, 'NewsArticle')).toMatchObject({
      ok: false,
      rejection: { reason: 'unknown-schema-id' },
    });
  });

  it('an unavailable registry is a dependency failure, not a rejection', async () => {
    const registry = new SchemaRegistry({ lookup: client() });
    failing = true;
    try {
      await expect(registry.prefetch([100])).rejects.toThrow(/503/);
    } finally {
      failing = false;
    }
    await registry.prefetch([100]); // retried later: now found
    expect(registry.get(100)?.name).toBe('io.finsentry.NewsArticle');
  });

  it('forgets an unknown id after notFoundTtl, so a schema registered after its first records is found', async () => {
    let now = 1_000;
    const registry = new SchemaRegistry({ lookup: client(), notFoundTtlMs: 30_000, now: () => now });
    const before = requests.length;
    await registry.prefetch([200]);
    expect(registry.get(200)).toBeUndefined();
    registeredLate = schemaJson('NewsArticle');
    try {
      now += 29_999;
      await registry.prefetch([200]); // still within the TTL: not asked again
      expect(requests.length - before).toBe(1);
      expect(registry.get(200)).toBeUndefined();
      now += 1;
      await registry.prefetch([200]);
      expect(requests.length - before).toBe(2);
      expect(registry.get(200)?.name).toBe('io.finsentry.NewsArticle');
      expect(registry.unknownIds).toBe(0);
    } finally {
      registeredLate = undefined;
    }
  });

  it('bounds the remembered unknown ids (hostile ids cannot grow memory) and asks once per distinct id', async () => {
    const registry = new SchemaRegistry({ lookup: client(), notFoundMaxEntries: 3, maxConcurrentLookups: 2 });
    const before = requests.length;
    await Promise.all([registry.prefetch([1001, 1002, 1003, 1001]), registry.prefetch([1002, 1004, 1005])]);
    expect(requests.length - before).toBe(5); // shared in-flight look-ups: 1001..1005 once each
    expect(registry.unknownIds).toBe(3);
    await registry.prefetch([1005]); // among the 3 newest: remembered
    expect(requests.length - before).toBe(5);
    await registry.prefetch([1001]); // oldest, forgotten: asked again
    expect(requests.length - before).toBe(6);
  });

  it('sends basic auth; a refused credential is a dependency failure naming the status', async () => {
    const ok = new SchemaRegistry({ lookup: client({ username: 'svc', password: 's3cret' }) });
    await ok.prefetch([101]);
    expect(authorizations.at(-1)).toBe('Basic ' + Buffer.from('svc:s3cret').toString('base64'));
    const refused = new SchemaRegistry({ lookup: client({ username: 'svc', password: 'wrong' }) });
    await expect(refused.prefetch([100])).rejects.toThrow(/401.*Unauthorized/);
    expect(refused.unknownIds).toBe(0); // not cached as unknown: retried
  });

  it('an unreachable registry names the setting to fix', async () => {
    const closed = new ConfluentRegistryClient({ url: 'http://127.0.0.1:1/', timeoutMs: 1_000 });
    await expect(new SchemaRegistry({ lookup: closed }).prefetch([100])).rejects.toThrow(
      /cannot reach the schema registry at http:\/\/127\.0\.0\.1:1\/.*codec\.registry\.url/,
    );
  });
});
