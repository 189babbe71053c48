import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { Schema, Type } from 'avsc';

/**
 * The Avro contract of finsentry lives in schemas/*.avsc (design §2, §8). This module loads those files
 * (relative to this module, so it works from src/ under tsx and from dist/ after a build).
 *
 * Timestamps: fields annotated `timestamp-millis` are decoded as plain numbers (epoch milliseconds).
 * We deliberately register no LogicalType class: avsc then ignores the annotation, the JS value is the
 * long itself, and the pipeline converts/validates in code (src/codec/validate.ts). avsc's default long
 * type refuses values beyond Number.MAX_SAFE_INTEGER, which the decoder reports as corrupt input.
 */

export const SCHEMA_NAMES = [
  'NewsArticle',
  'ChatMessage',
  'Label',
  'EnrichedDocument',
  'Alert',
  'DeadLetter',
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

export const NAMESPACE = 'io.finsentry';

/** Directory holding the .avsc files: <package root>/schemas. */
export function schemasDir(): string {
  return fileURLToPath(new URL('../../schemas/', import.meta.url));
}

const cache = new Map<string, Type>();

/** Raw JSON of one of the contract schemas. */
export function schemaJson(name: SchemaName): Schema {
  return JSON.parse(readFileSync(`${schemasDir()}${name}.avsc`, 'utf8')) as Schema;
}

/** The avsc Type of one of the contract schemas (cached). */
export function schemaType(name: SchemaName): Type {
  let type: Type | undefined = cache.get(name);
  if (!type) {
    type = avro.Type.forSchema(schemaJson(name));
    cache.set(name, type);
  }
  return type;
}

/** Accepts `NewsArticle` or `io.finsentry.NewsArticle`; undefined for anything else. */
export function contractSchemaName(fullOrShort: string): SchemaName | undefined {
  const short = fullOrShort.startsWith(`${NAMESPACE}.`)
    ? fullOrShort.slice(NAMESPACE.length + 1)
    : fullOrShort;
  return (SCHEMA_NAMES as readonly string[]).includes(short) ? (short as SchemaName) : undefined;
}
