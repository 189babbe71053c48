// The schema-registry client built from config codec.registry (registryClientFromConfig): an https://
// registry that requires a client certificate is reached with the configured CA, client cert and
// key; a client trusting another CA refuses the server (a dependency failure naming the setting); the
// basic-auth password comes from the environment ({ env }) and a missing one fails early. The server
// is a stand-in HTTPS server answering like the registry (the real one is tested in
// test/integration/schema-registry.test.ts).
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchemaRegistry } from '../../../../src/codec/registry.js';
import { schemaJson } from '../../../../src/codec/schemas.js';
import { parseConfig } from '../../../../src/config/load.js';
import { registryClientFromConfig } from '../../../../src/io/http/schema-registry.js';
import { generateTls, type TlsMaterial } from '../../../helpers/secure-servers.js';

let dir: string;
let tls: TlsMaterial;
let server: Server;
let url: string;
const seen: Array<{ authorization?: string; clientCert: boolean }> = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'fs-registry-tls-'));
  tls = generateTls(dir);
  server = createServer(
    {
      key: readFileSync(tls.serverKeyFile),
      cert: readFileSync(tls.serverCertFile),
      ca: readFileSync(tls.caFile),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      seen.push({
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        clientCert: Object.keys((req.socket as import('node:tls').TLSSocket).getPeerCertificate()).length > 0,
      });
      if (req.url === '/apis/ccompat/v7/schemas/ids/5') {
        res.writeHead(200).end(JSON.stringify({ schema: JSON.stringify(schemaJson('NewsArticle')) }));
      } else res.writeHead(404).end('{"error_code":40403,"message":"Schema not found"}');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/apis/ccompat/v7`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function registryFrom(registry: object, env: NodeJS.ProcessEnv = {}): SchemaRegistry {
  const config = parseConfig({ codec: { registry: { url, ...registry } } }, env);
  return new SchemaRegistry({ lookup: registryClientFromConfig(config.codec, env)! });
}

const mutualTls = () => ({
  enabled: true,
  caFile: tls.caFile,
  certFile: tls.clientCertFile,
  keyFile: tls.clientKeyFile,
});

describe('schema registry client from config: TLS and basic auth', () => {
  it('reaches an https registry with the configured CA and client certificate, sending basic auth from env', async () => {
    const registry = registryFrom(
      { tls: mutualTls(), username: 'finsentry', password: { env: 'REGISTRY_PW' } },
      { REGISTRY_PW: 'pw-from-env' },
    );
    await registry.prefetch([5, 6]);
    expect(registry.get(5)?.name).toBe('io.finsentry.NewsArticle');
    expect(registry.get(6)).toBeUndefined();
    expect(seen.at(-1)).toEqual({
      authorization: 'Basic ' + Buffer.from('finsentry:pw-from-env').toString('base64'),
      clientCert: true,
    });
  });

  it('refuses a server its CA did not sign: a dependency failure naming codec.registry.url', async () => {
    const registry = registryFrom({ tls: { ...mutualTls(), caFile: tls.otherCaFile } });
    await expect(registry.prefetch([5])).rejects.toThrow(
      /cannot reach the schema registry.*codec\.registry\.url/,
    );
    expect(registry.get(5)).toBeUndefined();
  });

  it('a password reference to an unset variable fails when the client is built, naming the field', () => {
    expect(() => registryFrom({ username: 'finsentry', password: { env: 'UNSET_REGISTRY_PW' } })).toThrow(
      /codec\.registry\.password: environment variable UNSET_REGISTRY_PW is not set/,
    );
  });

  it('basic auth needs both username and password in config', () => {
    expect(() => parseConfig({ codec: { registry: { url, username: 'finsentry' } } }, {})).toThrow(
      /username and password/,
    );
  });
});
