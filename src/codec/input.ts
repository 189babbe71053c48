import type { DocumentKind, InputDocument } from '../domain/documents.js';
import type { AuthorPseudonymiser } from '../privacy/pseudonymise.js';
import { normaliseHeaders, type RawRecord } from '../domain/records.js';
import type { AvroDecoder } from './decode.js';
import type { Rejection } from './reasons.js';
import type { ChatMessageRecord, LabelRecord, NewsArticleRecord } from './records.js';
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
  ) {}

  get avro(): AvroDecoder {
    return this.decoder;
  }

  document(record: RawRecord, kind: DocumentKind): InputResult<InputDocument> {
    const decoded = this.decoder.decode(record.value, kind === 'news' ? 'NewsArticle' : 'ChatMessage');
    if (!decoded.ok) return decoded;
    const ctx = {
      limits: this.limits,
      pseudonymiser: this.pseudonymiser,
      nowMs: this.clock(),
      position: { topic: record.topic, partition: record.partition, offset: record.offset },
      key: record.key,
      headers: normaliseHeaders(record.headers),
    };
    return kind === 'news'
      ? validateNews(decoded.record as NewsArticleRecord, ctx)
      : validateChat(decoded.record as ChatMessageRecord, ctx);
  }

  label(record: RawRecord): InputResult<InputLabel> {
    const decoded = this.decoder.decode(record.value, 'Label');
    if (!decoded.ok) return decoded;
    return validateLabel(decoded.record as LabelRecord, {
      limits: this.limits,
      nowMs: this.clock(),
      position: { topic: record.topic, partition: record.partition, offset: record.offset },
    });
  }
}
