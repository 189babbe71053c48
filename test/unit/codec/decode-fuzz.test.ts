import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvroDecoder } from '../../../src/codec/decode.js';
import { InputCodec } from '../../../src/codec/input.js';
import { REJECT_REASONS } from '../../../src/codec/reasons.js';
import { SchemaRegistry } from '../../../src/codec/registry.js';
import type { RawRecord } from '../../../src/io/kafka/types.js';
import { AuthorPseudonymiser } from '../../../src/privacy/pseudonymise.js';
import { chat, encodeChat, encodeNews, news } from '../../helpers/avro-producer.js';

const registry = new SchemaRegistry({ schemaIds: { '1': 'NewsArticle', '2': 'ChatMessage', '3': 'Label' } });
const codec = new InputCodec(
  new AvroDecoder({ registry, wireFormat: 'auto', maxMessageBytes: 64 * 1024 }),
  new AuthorPseudonymiser('fuzz-key-0123456789abcdef'),
  { maxTextChars: 10_000, maxFutureSkewMs: 3_600_000 },
);

function raw(value: Buffer): RawRecord {
  return { topic: 't', partition: 0, offset: '0', key: null, value, headers: {}, timestamp: '0' };
}

/** The property: whatever the bytes, decoding returns a document or a known rejection, and never throws. */
function decodesOrRejects(value: Buffer): void {
  for (const kind of ['news', 'chat'] as const) {
    const result = codec.document(raw(value), kind);
    if (result.ok) {
      expect(result.value.id.trim().length).toBeGreaterThan(0);
      expect(result.value.text.trim().length).toBeGreaterThan(0);
    } else {
      expect(REJECT_REASONS).toContain(result.rejection.reason);
      expect(result.rejection.message.length).toBeGreaterThan(0);
    }
  }
  const label = codec.label(raw(value));
  if (!label.ok) expect(REJECT_REASONS).toContain(label.rejection.reason);
}

const validBodies = [
  encodeNews(news('n1')),
  encodeChat(chat('c1')),
  encodeNews(news('n2'), 1),
  encodeChat(chat('c2'), 2),
];

describe('decoder fuzzing', () => {
  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => decodesOrRejects(Buffer.from(bytes))),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary bytes behind a Confluent header', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 256 }), (id, bytes) => {
        const header = Buffer.from([0, 0, 0, 0, id]);
        decodesOrRejects(Buffer.concat([header, Buffer.from(bytes)]));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on valid records with bytes flipped, inserted or cut', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...validBodies),
        fc.array(
          fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'cut')),
          { minLength: 1, maxLength: 6 },
        ),
        (valid, edits) => {
          let bytes = Buffer.from(valid);
          for (const [at, byte, op] of edits) {
            const i = at % Math.max(1, bytes.length);
            if (op === 'flip') bytes[i] = byte;
            else if (op === 'insert')
              bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
            else bytes = bytes.subarray(0, i);
          }
          decodesOrRejects(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('valid records of every generated shape decode', () => {
    const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0);
    fc.assert(
      fc.property(
        text,
        text,
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 5 }),
        fc.boolean(),
        (id, body, tickers, framed) => {
          const value = framed
            ? encodeChat(chat(id, { text: body, tickers }), 2)
            : encodeChat(chat(id, { text: body, tickers }));
          const result = codec.document(raw(value), 'chat');
          expect(result.ok ? result.value.id : result.rejection).toBe(id);
        },
      ),
      { numRuns: 500 },
    );
  });
});
