import type { RejectReason } from '../../codec/reasons.js';
import { frameConfluent } from '../../codec/wire.js';
import { encodePlain, encodeRecord, type InputRecord, type ScenarioSchemaIds } from './encoding.js';
import type { InputTopic, PoisonKind } from './ground-truth.js';
import type { Random } from './random.js';

/**
 * Malformed inputs of the `poison` scenario. Each kind is built so that the codec (src/codec/decode.ts,
 * src/codec/validate.ts) must reject it with exactly the reason it is named after — the unit tests
 * decode every generated poison message to prove it.
 */
export const POISON_KINDS: readonly PoisonKind[] = [
  'empty-message',
  'message-too-large',
  'corrupt-avro',
  'unknown-schema-id',
  'wrong-schema',
  'invalid-field',
  'invalid-timestamp',
  'empty-text',
  'text-too-large',
];

export interface PoisonLimits {
  /** limits.maxMessageBytes of the consuming finsentry. */
  maxMessageBytes: number;
  /** limits.maxTextChars of the consuming finsentry. */
  maxTextChars: number;
  /**
   * Largest value the broker accepts (Kafka's message.max.bytes, default 1 MB, minus record
   * overhead). Poison must reach finsentry to be rejected there, so oversize kinds need room below it.
   */
  brokerMaxValueBytes: number;
}

export const DEFAULT_POISON_LIMITS: PoisonLimits = {
  maxMessageBytes: 1_048_576,
  maxTextChars: 200_000,
  brokerMaxValueBytes: 1_000_000,
};

/** Schema id that no registry will know (the top of the id space; registries count up from 1). */
const UNKNOWN_SCHEMA_ID = 0x7ffffff0;

/** 2200-01-01T00:00:00Z: later than any now + maxFutureSkew a deployment could configure. */
const FAR_FUTURE_MS = 7_258_118_400_000;

/** Kinds that cannot be produced under these limits or without schema ids, with the reason. */
export function infeasiblePoisonKinds(limits: PoisonLimits, ids: ScenarioSchemaIds): Map<PoisonKind, string> {
  const out = new Map<PoisonKind, string>();
  if (limits.maxMessageBytes + 1024 > limits.brokerMaxValueBytes) {
    out.set(
      'message-too-large',
      `a value above limits.maxMessageBytes=${limits.maxMessageBytes} would be refused by the broker (max ${limits.brokerMaxValueBytes} bytes) before finsentry sees it`,
    );
  }
  // Text over maxTextChars must still fit under maxMessageBytes, else it is message-too-large first.
  if (limits.maxTextChars + 4096 > Math.min(limits.maxMessageBytes, limits.brokerMaxValueBytes)) {
    out.set(
      'text-too-large',
      `a text of limits.maxTextChars=${limits.maxTextChars}+ characters does not fit under the message size limits`,
    );
  }
  if (ids.news === undefined || ids.chat === undefined) {
    out.set(
      'wrong-schema',
      'needs registered schema ids for both NewsArticle and ChatMessage (codec.schemaIds)',
    );
  }
  return out;
}

function filler(rng: Random, chars: number): string {
  // Varied words so that gzip on the producer cannot shrink a "huge" value to nothing.
  const words = [
    'revenue',
    'guidance',
    'margin',
    'outlook',
    'quarter',
    'dividend',
    'order',
    'volume',
    'market',
    'shares',
  ];
  const parts: string[] = [];
  let length = 0;
  while (length < chars) {
    const w = `${rng.pick(words)}${rng.int(0, 99_999)}`;
    parts.push(w);
    length += w.length + 1;
  }
  return parts.join(' ').slice(0, chars);
}

function withText(topic: InputTopic, record: InputRecord, text: string): InputRecord {
  if (topic === 'news')
    return { ...(record as Extract<InputRecord, { headline: string }>), headline: '', body: text };
  return { ...(record as Extract<InputRecord, { text: string }>), text };
}

/** Bytes of a poison message of `kind`, derived from a well-formed record of the same slot. */
export function buildPoison(
  kind: PoisonKind,
  topic: InputTopic,
  record: InputRecord,
  rng: Random,
  limits: PoisonLimits,
  ids: ScenarioSchemaIds,
): { value: Buffer; reason: RejectReason } {
  switch (kind) {
    case 'empty-message':
      return { value: Buffer.alloc(0), reason: kind };
    case 'message-too-large': {
      const bytes = limits.maxMessageBytes + rng.int(1, 512);
      // Random bytes behind a valid-looking start: the size check must come before any decoding.
      return {
        value: Buffer.concat([encodePlain(topic, record), rng.bytes(bytes)]).subarray(0, bytes),
        reason: kind,
      };
    }
    case 'corrupt-avro': {
      const plain = encodePlain(topic, record);
      switch (rng.int(0, 2)) {
        case 0: // truncated record
          return {
            value: plain.subarray(0, Math.max(1, Math.floor(plain.length * (0.3 + rng.float() * 0.5)))),
            reason: kind,
          };
        case 1: // trailing garbage after a complete record
          return { value: Buffer.concat([plain, rng.bytes(rng.int(1, 16))]), reason: kind };
        default: // Confluent magic byte with a cut-off header
          return { value: Buffer.from([0, rng.int(0, 255), rng.int(0, 255)]), reason: kind };
      }
    }
    case 'unknown-schema-id':
      return {
        value: frameConfluent(UNKNOWN_SCHEMA_ID + rng.int(0, 14), encodePlain(topic, record)),
        reason: kind,
      };
    case 'wrong-schema': {
      // A well-formed record framed with the id of the other input schema.
      const otherId = topic === 'news' ? ids.chat : ids.news;
      if (otherId === undefined) throw new Error('wrong-schema poison needs both schema ids');
      return { value: frameConfluent(otherId, encodePlain(topic, record)), reason: kind };
    }
    case 'invalid-field': {
      const broken: InputRecord =
        topic === 'news'
          ? rng.chance(0.5)
            ? { ...record, source: ' ' }
            : { ...record, language: '' }
          : rng.chance(0.5)
            ? { ...record, author_id: '' }
            : { ...record, channel: '' };
      return { value: encodeRecord(topic, broken, 'plain', ids), reason: kind };
    }
    case 'invalid-timestamp': {
      const bad = rng.chance(0.5) ? FAR_FUTURE_MS + rng.int(0, 86_400_000) : -rng.int(0, 86_400_000);
      const broken: InputRecord =
        topic === 'news' ? { ...record, published_at: bad } : { ...record, sent_at: bad };
      return { value: encodeRecord(topic, broken, 'plain', ids), reason: kind };
    }
    case 'empty-text':
      return {
        value: encodeRecord(topic, withText(topic, record, rng.pick(['', ' ', '\n\n', '\t '])), 'plain', ids),
        reason: kind,
      };
    case 'text-too-large':
      return {
        value: encodeRecord(
          topic,
          withText(topic, record, filler(rng, limits.maxTextChars + rng.int(1, 2048))),
          'plain',
          ids,
        ),
        reason: kind,
      };
  }
}
