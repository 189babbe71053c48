import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { Schema, Type } from 'avsc';
import { contractSchemaName, schemaType } from './schemas.js';

/**
 * Schema ids of the Confluent wire format → writer schemas. Ids come from a local map (config
 * codec.schemaIds: id → contract schema name or .avsc path) and, for ids not in it, from a Confluent
 * compatible Schema Registry through a `SchemaLookup` (the HTTP adapter is src/io/http/schema-registry.ts).
 *
 * Decoding stays synchronous: the processor calls `prefetch` with the ids of a fetched batch first.
 * A registry that is unreachable or answers 5xx makes `prefetch` throw (a dependency failure: the
 * batch is retried, not dead-lettered); a 404 marks the id as unknown (its records go to the DLQ).
 * Unknown ids are remembered only for `notFoundTtlMs` and at most `notFoundMaxEntries` of them, like
 * Confluent's own client cache (docs/schemas.md#schema-registry): a schema registered after a
 * producer raced ahead of it is found on a later batch, and hostile ids cannot grow memory.
 */
export type SchemaLookupResult = { found: true; schema: string; schemaType?: string } | { found: false };

/** found; not_found (its records are dead-lettered as unknown-schema-id); error (the batch is retried). */
export type SchemaLookupOutcome = 'found' | 'not_found' | 'error';

/** Port: one registry look-up by id. Throws when the registry cannot answer (retry later). */
export interface SchemaLookup {
  schemaById(id: number): Promise<SchemaLookupResult>;
}

export interface SchemaRegistryOptions {
  schemaIds?: Record<string, string>;
  lookup?: SchemaLookup;
  /** How long an id the registry did not know stays unknown before it is asked again. */
  notFoundTtlMs?: number;
  /** Bound on remembered unknown ids (oldest forgotten first). */
  notFoundMaxEntries?: number;
  /** Distinct ids of one batch looked up at the same time. */
  maxConcurrentLookups?: number;
  now?: () => number;
}

export class SchemaRegistry {
  private readonly known = new Map<number, Type>();
  /** id → time (ms) until which it counts as unknown; insertion order = age. */
  private readonly missing = new Map<number, number>();
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly lookup: SchemaLookup | undefined;
  private readonly notFoundTtlMs: number;
  private readonly notFoundMaxEntries: number;
  private readonly maxConcurrent: number;
  private readonly now: () => number;

  constructor(options: SchemaRegistryOptions = {}) {
    for (const [id, ref] of Object.entries(options.schemaIds ?? {})) {
      this.register(Number(id), loadSchemaRef(ref));
    }
    this.lookup = options.lookup;
    this.notFoundTtlMs = options.notFoundTtlMs ?? 30_000;
    this.notFoundMaxEntries = Math.max(1, options.notFoundMaxEntries ?? 10_000);
    this.maxConcurrent = Math.max(1, options.maxConcurrentLookups ?? 4);
    this.now = options.now ?? Date.now;
  }

  register(id: number, schema: Type | Schema): void {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new Error(`invalid schema id ${id}`);
    this.known.set(id, avro.Type.isType(schema) ? (schema as Type) : avro.Type.forSchema(schema as Schema));
    this.missing.delete(id);
  }

  get(id: number): Type | undefined {
    return this.known.get(id);
  }

  /** Ids currently remembered as unknown (for tests and metrics). */
  get unknownIds(): number {
    return this.missing.size;
  }

  /**
   * Loads the ids not yet known from the registry (no-op without one): distinct ids at most
   * `maxConcurrentLookups` at a time; a look-up already under way for an id is shared.
   */
  async prefetch(ids: Iterable<number>): Promise<void> {
    if (!this.lookup) return;
    const wanted = [...new Set(ids)].filter((id) => !this.known.has(id) && !this.stillMissing(id));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < wanted.length) await this.loadOnce(wanted[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.maxConcurrent, wanted.length) }, worker));
  }

  private stillMissing(id: number): boolean {
    const until = this.missing.get(id);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.missing.delete(id);
    return false;
  }

  private loadOnce(id: number): Promise<void> {
    let pending = this.inFlight.get(id);
    if (!pending) {
      pending = this.load(id).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, pending);
    }
    return pending;
  }

  private async load(id: number): Promise<void> {
    const answer = await this.lookup!.schemaById(id);
    // A JSON/Protobuf schema can never decode as Avro: as unknown as a missing one.
    if (!answer.found || (answer.schemaType !== undefined && answer.schemaType !== 'AVRO')) {
      this.markMissing(id);
      return;
    }
    try {
      this.register(id, JSON.parse(answer.schema) as Schema);
    } catch {
      this.markMissing(id);
    }
  }

  private markMissing(id: number): void {
    this.missing.delete(id);
    this.missing.set(id, this.now() + this.notFoundTtlMs);
    while (this.missing.size > this.notFoundMaxEntries) {
      this.missing.delete(this.missing.keys().next().value!);
    }
  }
}

/** A schema reference in config: a contract schema name (io.finsentry.NewsArticle) or an .avsc path. */
export function loadSchemaRef(ref: string): Type {
  const name = contractSchemaName(ref);
  if (name) return schemaType(name);
  return avro.Type.forSchema(JSON.parse(readFileSync(ref, 'utf8')) as Schema);
}
