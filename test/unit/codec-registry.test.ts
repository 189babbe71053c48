// Schema ids fetched from a Confluent-compatible registry (a local HTTP server answering like one):
// found ids decode, 404 ids are unknown-schema-id, a failing registry is a dependency error (throws),
// and each id is fetched once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroDecoder } from '../../src/codec/decode.js';
import { SchemaRegistry } from '../../src/codec/registry.js';
import { schemaJson } from '../../src/codec/schemas.js';
import { chat, encodeChat, encodeNews, news } from '../helpers/avro-producer.js';

let server: Server;
let url: string;
const requests: string[] = [];
let failing = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (failing) {
      res.writeHead(503).end('{"error_code":50301,"message":"unavailable"}');
      return;
    }
    const id = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '')?.[1];
    const schemas: Record<string, unknown> = {
      '100': schemaJson('NewsArticle'),
      '101': schemaJson('ChatMessage'),
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
    const registry = new SchemaRegistry({ registryUrl: url });
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
    const registry = new SchemaRegistry({ registryUrl: url });
    failing = true;
    try {
      await expect(registry.prefetch([100])).rejects.toThrow(/503/);
    } finally {
      failing = false;
    }
    await registry.prefetch([100]); // retried later: now found
    expect(registry.get(100)?.name).toBe('io.finsentry.NewsArticle');
  });
});
