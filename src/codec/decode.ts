import type { Resolver, Type } from 'avsc';
import { reject, type Rejection } from './reasons.js';
import type { SchemaRegistry } from './registry.js';
import { schemaType, type SchemaName } from './schemas.js';
import { scanAvro, unframe, type WireFormat } from './wire.js';

export type DecodeResult =
  { ok: true; record: unknown; schemaId: number | null } | { ok: false; rejection: Rejection };

export interface AvroDecoderOptions {
  registry: SchemaRegistry;
  wireFormat: WireFormat;
  /** Values larger than this are rejected before any decoding (limits.maxMessageBytes). */
  maxMessageBytes: number;
}

/**
 * Turns the bytes of one Kafka value into a record of an expected contract schema, or a typed
 * rejection. Never throws, whatever the bytes (property-tested in test/unit/codec/decode-fuzz.test.ts).
 *
 * Schema evolution: a Confluent-framed value names its writer schema; when that differs from ours it is
 * read through an avsc resolver (added fields take their defaults, removed ones are skipped). A writer
 * schema that cannot be resolved to the expected one — another record type, an incompatible change —
 * is `wrong-schema`.
 */
export class AvroDecoder {
  private readonly resolvers = new Map<
    string,
    { writer: Type; resolver: Resolver | null } | { error: string }
  >();

  constructor(private readonly options: AvroDecoderOptions) {}

  /** The Confluent schema id of a value, if it is framed that way (for SchemaRegistry.prefetch). */
  schemaIdOf(value: Buffer | null): number | null {
    if (!value) return null;
    const framing = unframe(value, this.options.wireFormat);
    return framing.format === 'confluent' ? framing.schemaId : null;
  }

  decode(value: Buffer | null, expected: SchemaName): DecodeResult {
    if (value === null || value.length === 0) {
      return {
        ok: false,
        rejection: reject('empty-message', 'decode', 'record has no value (null or zero bytes)'),
      };
    }
    if (value.length > this.options.maxMessageBytes) {
      return {
        ok: false,
        rejection: reject(
          'message-too-large',
          'decode',
          `value is ${value.length} bytes, limit limits.maxMessageBytes=${this.options.maxMessageBytes}`,
        ),
      };
    }
    const reader = schemaType(expected);
    const framing = unframe(value, this.options.wireFormat);
    if (framing.format === 'invalid')
      return { ok: false, rejection: reject('corrupt-avro', 'decode', framing.message) };
    if (framing.format === 'plain') return this.read(reader, null, framing.body, null);

    const resolved = this.resolverFor(framing.schemaId, reader, expected);
    if (resolved === undefined) {
      // auto mode: a leading 0 with an unknown id may be a plain body whose first string is empty
      // (e.g. a record with an empty id): read it that way so that validation names the real problem.
      if (this.options.wireFormat === 'auto') {
        const plain = this.read(reader, null, value, null);
        if (plain.ok) return plain;
      }
      return {
        ok: false,
        rejection: reject('unknown-schema-id', 'decode', `schema id ${framing.schemaId} is not registered`),
      };
    }
    if ('error' in resolved)
      return { ok: false, rejection: reject('wrong-schema', 'decode', resolved.error) };
    return this.read(
      resolved.writer,
      resolved.resolver ? { reader, resolver: resolved.resolver } : null,
      framing.body,
      framing.schemaId,
    );
  }

  /** `writer` describes the bytes; with `resolving`, avsc reads them into the reader type (readerType.decode(buf, pos, resolver)). */
  private read(
    writer: Type,
    resolving: { reader: Type; resolver: Resolver } | null,
    body: Buffer,
    schemaId: number | null,
  ): DecodeResult {
    const end = scanAvro(writer, body);
    if (end < 0)
      return {
        ok: false,
        rejection: reject(
          'corrupt-avro',
          'decode',
          `bytes are not a valid ${writer.name ?? 'Avro'} encoding`,
        ),
      };
    if (end !== body.length) {
      return {
        ok: false,
        rejection: reject(
          'corrupt-avro',
          'decode',
          `${body.length - end} trailing bytes after the ${writer.name ?? 'Avro'} record`,
        ),
      };
    }
    try {
      const result = resolving
        ? resolving.reader.decode(body, 0, resolving.resolver)
        : writer.decode(body, 0);
      if (result.offset !== body.length)
        return { ok: false, rejection: reject('corrupt-avro', 'decode', 'truncated Avro record') };
      return { ok: true, record: result.value, schemaId };
    } catch (err) {
      return {
        ok: false,
        rejection: reject('corrupt-avro', 'decode', `Avro decoding failed: ${(err as Error).message}`),
      };
    }
  }

  private resolverFor(schemaId: number, reader: Type, expected: SchemaName) {
    const cacheKey = `${schemaId}:${expected}`;
    const cached = this.resolvers.get(cacheKey);
    if (cached) return cached;
    const writer = this.options.registry.get(schemaId);
    if (!writer) return undefined; // not cached: the id may be registered later
    let entry: { writer: Type; resolver: Resolver | null } | { error: string };
    if (writer.equals(reader)) {
      entry = { writer: reader, resolver: null };
    } else {
      try {
        entry = { writer, resolver: reader.createResolver(writer) };
      } catch (err) {
        entry = {
          error: `schema id ${schemaId} (${writer.name ?? writer.typeName}) cannot be read as ${reader.name}: ${(err as Error).message.split('\n')[0]}`,
        };
      }
    }
    this.resolvers.set(cacheKey, entry);
    return entry;
  }
}
