import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SchemaLookup, SchemaLookupResult } from '../../codec/registry.js';
import { resolveSecret } from '../../config/load.js';
import type { RegistryConfig } from '../../config/schema.js';
import { tlsOptions } from '../kafka/client.js';
import { ServerUnreachableError } from '../unreachable.js';

/**
 * Client of a Confluent-compatible Schema Registry's REST API (Confluent, Apicurio's /apis/ccompat/v7,
 * Redpanda, Karapace): look-up by id for the decoder, and subject registration for the output schemas.
 * Basic auth (password from env or file, never from config) and TLS (CA / client cert / key) come from
 * config codec.registry (docs/schemas.md#schema-registry).
 */
export interface RegistryClientOptions {
  url: string;
  username?: string;
  password?: string;
  tls?: RegistryConfig['tls'];
  timeoutMs: number;
}

/** The registry's compatibility levels that finsentry's checks use. */
export type CompatibilityLevel = 'BACKWARD' | 'FORWARD' | 'FULL' | 'NONE';

export interface RegistryResponse {
  status: number;
  body: unknown;
}

/** The registry's error body: `{ error_code, message }`. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export class ConfluentRegistryClient implements SchemaLookup {
  private readonly base: URL;
  private readonly auth: string | undefined;
  private readonly tls: RequestOptions;

  constructor(private readonly options: RegistryClientOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    if (options.username !== undefined) {
      const token = Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64');
      this.auth = `Basic ${token}`;
    }
    this.tls = options.tls?.enabled ? tlsOptions(options.tls) : {};
  }

  /** GET /schemas/ids/{id}: 404 → not found; 5xx, 401/403 and network failures throw (retry later). */
  async schemaById(id: number): Promise<SchemaLookupResult> {
    const res = await this.request('GET', `schemas/ids/${id}`);
    if (res.status === 404) return { found: false };
    const body = this.expectOk(res, `schema id ${id}`) as { schema?: unknown; schemaType?: string };
    if (typeof body.schema !== 'string') throw new Error(`schema registry gave no schema for id ${id}`);
    return {
      found: true,
      schema: body.schema,
      ...(body.schemaType !== undefined ? { schemaType: body.schemaType } : {}),
    };
  }

  /** POST /subjects/{subject}/versions: the registry's id for this schema (idempotent). */
  async register(subject: string, schema: unknown): Promise<number> {
    const res = await this.request('POST', `subjects/${encodeURIComponent(subject)}/versions`, {
      schemaType: 'AVRO',
      schema: JSON.stringify(schema),
    });
    const body = this.expectOk(res, `subject ${subject}`) as { id?: unknown };
    if (typeof body.id !== 'number') throw new Error(`schema registry gave no id for subject ${subject}`);
    return body.id;
  }

  /** PUT /config/{subject}: the compatibility level the registry enforces for the subject. */
  async setCompatibility(subject: string, level: CompatibilityLevel): Promise<void> {
    const res = await this.request('PUT', `config/${encodeURIComponent(subject)}`, { compatibility: level });
    this.expectOk(res, `compatibility of subject ${subject}`);
  }

  /**
   * POST /compatibility/subjects/{subject}/versions/latest: would the registry accept this schema as
   * the subject's next version under its compatibility level? (The registry's own Avro rules.)
   */
  async isCompatible(subject: string, schema: unknown): Promise<boolean> {
    const res = await this.request(
      'POST',
      `compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`,
      { schemaType: 'AVRO', schema: JSON.stringify(schema) },
    );
    const body = this.expectOk(res, `compatibility check of subject ${subject}`) as {
      is_compatible?: unknown;
    };
    if (typeof body.is_compatible !== 'boolean')
      throw new Error(`schema registry gave no is_compatible for subject ${subject}`);
    return body.is_compatible;
  }

  /** DELETE /subjects/{subject} (soft, then permanent): for scratch subjects of checks and tests. */
  async deleteSubject(subject: string): Promise<void> {
    const path = `subjects/${encodeURIComponent(subject)}`;
    this.expectOk(await this.request('DELETE', path), `deletion of subject ${subject}`);
    this.expectOk(await this.request('DELETE', `${path}?permanent=true`), `deletion of subject ${subject}`);
  }

  /** Sends one request to a path under the API base; answers status and parsed JSON body. */
  async request(method: string, path: string, json?: unknown): Promise<RegistryResponse> {
    const url = new URL(path, this.base);
    const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const headers: Record<string, string> = {
      accept: 'application/vnd.schemaregistry.v1+json, application/json',
    };
    if (payload) headers['content-type'] = 'application/vnd.schemaregistry.v1+json';
    if (this.auth) headers.authorization = this.auth;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    try {
      return await new Promise<RegistryResponse>((resolve, reject) => {
        const req = send(url, { method, headers, timeout: this.options.timeoutMs, ...this.tls }, (res) => {
          readJson(res).then(resolve, reject);
        });
        req.on('timeout', () => req.destroy(new Error(`no answer in ${this.options.timeoutMs} ms`)));
        req.on('error', reject);
        req.end(payload);
      });
    } catch (err) {
      throw new ServerUnreachableError('the schema registry', this.base.href, 'codec.registry.url', err);
    }
  }

  private expectOk(res: RegistryResponse, what: string): unknown {
    if (res.status >= 200 && res.status < 300) return res.body;
    const body = (res.body ?? {}) as { error_code?: number; message?: string };
    throw new RegistryError(
      res.status,
      body.error_code,
      `schema registry answered ${res.status} for ${what}${body.message ? `: ${body.message}` : ''}`,
    );
  }
}

async function readJson(res: IncomingMessage): Promise<RegistryResponse> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = { message: text.slice(0, 200) };
  }
  return { status: res.statusCode ?? 0, body };
}

/** The registry client from config codec.registry (with the codec.registryUrl shorthand); none without a URL. */
export function registryClientFromConfig(
  codec: { registryUrl?: string | undefined; registry: RegistryConfig },
  env: NodeJS.ProcessEnv = process.env,
): ConfluentRegistryClient | undefined {
  const { registry } = codec;
  const url = registry.url ?? codec.registryUrl;
  if (!url) return undefined;
  let password: string | undefined;
  if (registry.password) {
    password = resolveSecret(registry.password, env);
    if (password === undefined || password === '') {
      const ref = registry.password.env
        ? `environment variable ${registry.password.env}`
        : `file ${registry.password.file}`;
      throw new Error(`codec.registry.password: ${ref} is not set or empty`);
    }
  }
  return new ConfluentRegistryClient({
    url,
    timeoutMs: registry.timeout,
    ...(registry.username !== undefined ? { username: registry.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(registry.tls ? { tls: registry.tls } : {}),
  });
}
