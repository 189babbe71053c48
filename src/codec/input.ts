import type { DocumentKind, InputDocument } from '../domain/documents.js';
import type { AuthorPseudonymiser } from '../privacy/pseudonymise.js';
import { normaliseHeaders, type RawRecord } from '../domain/records.js';
import type { AvroDecoder } from './decode.js';
import { reject, type Rejection } from './reasons.js';
import type { ChatMessageRecord, LabelRecord, NewsArticleRecord } from './records.js';
import { schemaType } from './schemas.js';
import {
  validateChat,
  validateLabel,
  validateNews,
  type InputLabel,
  type ValidationLimits,
} from './validate.js';

export type InputResult<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

/**
 * Decode + validate of one input record: bytes in, an InputDocument (or InputLabel) or a typed
 * rejection out. Pure apart from the clock and the (cached) schema registry; never throws.
 */
export class InputCodec {
  constructor(
    private readonly decoder: AvroDecoder,
    private readonly pseudonymiser: AuthorPseudonymiser,
    private readonly limits: ValidationLimits,
    private readonly clock: () => number = Date.now,
    /** Canonical tickers of the security master, for bare codes in text (src/domain/tickers.ts). */
    private readonly knownTickers?: ReadonlySet<string>,
  ) {}

  get avro(): AvroDecoder {
    return this.decoder;
  }

  document(record: RawRecord, kind: DocumentKind): InputResult<InputDocument> {
    if (record.refusal) return refused(record);
    const decoded = this.decoder.decode(record.value, kind === 'news' ? 'NewsArticle' : 'ChatMessage');
    if (!decoded.ok) return decoded;
    const ctx = {
      limits: this.limits,
      pseudonymiser: this.pseudonymiser,
      nowMs: this.clock(),
      position: positionOf(record),
      key: record.key,
      headers: normaliseHeaders(record.headers),
      ...(this.knownTickers ? { knownTickers: this.knownTickers } : {}),
    };
    return kind === 'news'
      ? validateNews(decoded.record as NewsArticleRecord, ctx)
      : validateChat(decoded.record as ChatMessageRecord, ctx);
  }

  /**
   * A chat value with its author id pseudonymised, re-encoded as plain Avro (our ChatMessage schema),
   * for the DLQ (docs/security.md "Dead letters"); null when the bytes do not parse as a chat message
   * (then only the original bytes exist, and the DLQ keeps them).
   */
  redactedChat(value: Buffer | null): Buffer | null {
    const decoded = this.decoder.decode(value, 'ChatMessage');
    if (!decoded.ok) return null;
    const r = decoded.record as ChatMessageRecord;
    const authorId = r.author_id.length > 0 ? this.pseudonymiser.pseudonymise(r.author_id) : r.author_id;
    return schemaType('ChatMessage').toBuffer({ ...r, author_id: authorId });
  }

  label(record: RawRecord): InputResult<InputLabel> {
    if (record.refusal) return refused(record);
    const decoded = this.decoder.decode(record.value, 'Label');
    if (!decoded.ok) return decoded;
    return validateLabel(decoded.record as LabelRecord, {
      limits: this.limits,
      nowMs: this.clock(),
      position: { topic: record.topic, partition: record.partition, offset: record.offset },
    });
  }
}

/** Where a record came from, with its Kafka timestamp when it has one (Kafka writes -1 for none). */
function positionOf(record: RawRecord): InputDocument['position'] {
  const timestampMs = Number(record.timestamp);
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    ...(timestampMs > 0 ? { timestampMs } : {}),
  };
}

/** A placeholder for a record of a refused batch (corrupt, too large inflated, unsupported codec). */
function refused(record: RawRecord): { ok: false; rejection: Rejection } {
  const { reason, message } = record.refusal!;
  return { ok: false, rejection: reject(reason, 'decode', message) };
}
