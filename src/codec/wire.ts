import type { Type } from 'avsc';

/**
 * Framing of Avro values on Kafka. Two formats (design §2):
 *  - plain: the value is the Avro binary encoding of the record, nothing else;
 *  - Confluent Schema Registry: magic byte 0x00, 4-byte big-endian schema id, then the Avro body.
 * In `auto` mode a value whose first byte is 0x00 is read as Confluent framing. A plain NewsArticle or
 * ChatMessage body only starts with 0x00 when its id (the first field) is empty, which is invalid
 * anyway, so the ambiguity cannot turn a valid record into a rejected one; when the schema id is
 * unknown the decoder also tries the bytes as a plain body, so such a record is reported as
 * invalid-field rather than unknown-schema-id.
 */
export type WireFormat = 'auto' | 'plain' | 'confluent';

export const CONFLUENT_MAGIC = 0;
export const CONFLUENT_HEADER_BYTES = 5;

export type Framing =
  | { format: 'plain'; body: Buffer }
  | { format: 'confluent'; schemaId: number; body: Buffer }
  | { format: 'invalid'; message: string };

export function unframe(value: Buffer, wireFormat: WireFormat): Framing {
  const looksConfluent = value.length >= 1 && value[0] === CONFLUENT_MAGIC;
  if (wireFormat === 'plain' || (wireFormat === 'auto' && !looksConfluent))
    return { format: 'plain', body: value };
  if (!looksConfluent)
    return { format: 'invalid', message: `expected Confluent magic byte 0, got ${value[0] ?? 'nothing'}` };
  if (value.length < CONFLUENT_HEADER_BYTES) {
    return {
      format: 'invalid',
      message: `Confluent framing needs ${CONFLUENT_HEADER_BYTES} header bytes, got ${value.length}`,
    };
  }
  return {
    format: 'confluent',
    schemaId: value.readUInt32BE(1),
    body: value.subarray(CONFLUENT_HEADER_BYTES),
  };
}

export function frameConfluent(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(CONFLUENT_HEADER_BYTES);
  header[0] = CONFLUENT_MAGIC;
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

/**
 * Walks the Avro binary encoding of `type` over `buf` without materialising values and returns the
 * end position, or -1 when the bytes cannot be a value of that type. It exists because avsc trusts
 * block counts: a crafted array count of 2^31 in a few bytes would make it allocate and loop until
 * the process runs out of memory. Here every count must fit in the bytes that remain (each item of a
 * non-null type takes at least one byte), every length must stay inside the buffer, every union
 * branch and enum index must exist. Only a value that passes is handed to avsc.
 */
export function scanAvro(type: Type, buf: Buffer, start = 0): number {
  const cursor = { pos: start };
  try {
    return walk(type, buf, cursor) ? cursor.pos : -1;
  } catch {
    return -1;
  }
}

interface Cursor {
  pos: number;
}

/** Reads a zig-zag varint long; null on overflow/truncation. Limited to 10 bytes (64 bits). */
function readLong(buf: Buffer, c: Cursor): number | null {
  let result = 0;
  let multiplier = 1;
  for (let i = 0; i < 10; i++) {
    const byte = buf[c.pos++];
    if (byte === undefined) return null;
    result += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      // zig-zag decode with float arithmetic (values here are only used as counts/lengths/indices)
      return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    }
    multiplier *= 128;
  }
  return null;
}

interface AvscTypeShape {
  typeName: string;
  fields?: Array<{ type: Type }>;
  itemsType?: Type;
  valuesType?: Type;
  types?: Type[];
  symbols?: string[];
  size?: number;
  underlyingType?: Type;
}

function minItemBytes(type: Type): number {
  return (type as unknown as AvscTypeShape).typeName === 'null' ? 0 : 1;
}

function walk(type: Type, buf: Buffer, c: Cursor): boolean {
  const t = type as unknown as AvscTypeShape;
  switch (t.typeName) {
    case 'null':
      return true;
    case 'boolean': {
      const b = buf[c.pos++];
      return b === 0 || b === 1;
    }
    case 'int':
    case 'long':
      return readLong(buf, c) !== null;
    case 'float':
      c.pos += 4;
      return c.pos <= buf.length;
    case 'double':
      c.pos += 8;
      return c.pos <= buf.length;
    case 'string':
    case 'bytes': {
      const len = readLong(buf, c);
      if (len === null || len < 0 || c.pos + len > buf.length) return false;
      c.pos += len;
      return true;
    }
    case 'fixed':
      c.pos += t.size ?? 0;
      return c.pos <= buf.length;
    case 'enum': {
      const index = readLong(buf, c);
      return index !== null && index >= 0 && index < (t.symbols?.length ?? 0);
    }
    case 'record':
    case 'error':
      return (t.fields ?? []).every((field) => walk(field.type, buf, c));
    case 'array':
    case 'map': {
      const item = (t.typeName === 'array' ? t.itemsType : t.valuesType)!;
      const perItem = minItemBytes(item) + (t.typeName === 'map' ? 1 : 0);
      for (;;) {
        let count = readLong(buf, c);
        if (count === null) return false;
        if (count === 0) return true;
        if (count < 0) {
          count = -count;
          const size = readLong(buf, c); // block size in bytes, ignored
          if (size === null) return false;
        }
        // A count that cannot fit in the remaining bytes is corrupt (null items: bounded by the buffer size).
        const limit = perItem === 0 ? buf.length : Math.floor((buf.length - c.pos) / perItem);
        if (count > limit) return false;
        for (let i = 0; i < count; i++) {
          if (t.typeName === 'map' && !walk(STRING_SHAPE, buf, c)) return false;
          if (!walk(item, buf, c)) return false;
        }
      }
    }
    case 'union:wrapped':
    case 'union:unwrapped': {
      const index = readLong(buf, c);
      const branch = index === null ? undefined : t.types?.[index];
      return branch !== undefined && walk(branch, buf, c);
    }
    default:
      // logical types wrap an underlying type
      if (t.underlyingType) return walk(t.underlyingType, buf, c);
      return false;
  }
}

const STRING_SHAPE = { typeName: 'string' } as unknown as Type;
