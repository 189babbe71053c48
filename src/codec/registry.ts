import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { Schema, Type } from 'avsc';
import { contractSchemaName, schemaType } from './schemas.js';

/**
 * Schema ids of the Confluent wire format → writer schemas. Ids come from a local map (config
 * codec.schemaIds: id → contract schema name or .avsc path) and, for ids not in it, from a Confluent
 * compatible Schema Registry (`GET {url}/schemas/ids/{id}`), fetched once and cached.
 *
 * Decoding stays synchronous: the processor calls `prefetch` with the ids of a fetched batch first.
 * A registry that is unreachable or answers 5xx makes `prefetch` throw (a dependency failure: the
 * batch is retried, not dead-lettered); a 404 marks the id as unknown (its records go to the DLQ).
 */
export interface SchemaRegistryOptions {
  schemaIds?: Record<string, string>;
  registryUrl?: string;
  fetchImpl?: typeof fetch;
  /** Per-request timeout for registry look-ups. */
  timeoutMs?: number;
}

export class SchemaRegistry {
  private readonly known = new Map<number, Type>();
  private readonly missing = new Set<number>();
  private readonly registryUrl: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: SchemaRegistryOptions = {}) {
    for (const [id, ref] of Object.entries(options.schemaIds ?? {})) {
      this.register(Number(id), loadSchemaRef(ref));
    }
    this.registryUrl = options.registryUrl?.replace(/\/+$/, '');
    this.fetchImpl = options.fetchImpl ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  register(id: number, schema: Type | Schema): void {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new Error(`invalid schema id ${id}`);
    this.known.set(id, avro.Type.isType(schema) ? (schema as Type) : avro.Type.forSchema(schema as Schema));
    this.missing.delete(id);
  }

  get(id: number): Type | undefined {
    return this.known.get(id);
  }

  /** Loads ids not yet known from the registry URL (no-op without one). */
  async prefetch(ids: Iterable<number>): Promise<void> {
    if (!this.registryUrl) return;
    for (const id of new Set(ids)) {
      if (this.known.has(id) || this.missing.has(id)) continue;
      const response = await this.fetchImpl(`${this.registryUrl}/schemas/ids/${id}`, {
        headers: { accept: 'application/vnd.schemaregistry.v1+json, application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (response.status === 404) {
        this.missing.add(id);
        continue;
      }
      if (!response.ok) throw new Error(`schema registry answered ${response.status} for schema id ${id}`);
      const body = (await response.json()) as { schema?: unknown; schemaType?: string };
      if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
        this.missing.add(id); // a JSON/Protobuf schema can never decode as Avro
        continue;
      }
      if (typeof body.schema !== 'string') throw new Error(`schema registry gave no schema for id ${id}`);
      try {
        this.register(id, JSON.parse(body.schema) as Schema);
      } catch {
        this.missing.add(id);
      }
    }
  }
}

/** A schema reference in config: a contract schema name (io.finsentry.NewsArticle) or an .avsc path. */
export function loadSchemaRef(ref: string): Type {
  const name = contractSchemaName(ref);
  if (name) return schemaType(name);
  return avro.Type.forSchema(JSON.parse(readFileSync(ref, 'utf8')) as Schema);
}
