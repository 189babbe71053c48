import type { DocumentKind, InputDocument, SourcePosition } from '../domain/documents.js';
import type { SentimentLabel } from '../domain/enrichment.js';
import { canonicalTicker, extractTickers } from '../domain/tickers.js';
import type { AuthorPseudonymiser } from '../privacy/pseudonymise.js';
import { reject, type Rejection } from './reasons.js';
import type { ChatMessageRecord, LabelRecord, NewsArticleRecord } from './records.js';

/**
 * Validation of decoded records into the pipeline's InputDocument (src/domain/documents.ts).
 * Rules, each with its DLQ reason:
 *  - invalid-field: id (or document_id) empty or longer than 512 chars; news source / chat platform,
 *    channel, author_id empty; language empty or longer than 35 chars (BCP-47 maximum);
 *  - invalid-timestamp: event time not a positive integer of epoch milliseconds, or later than
 *    now + limits.maxFutureSkew (clock-skewed or corrupt producers would otherwise poison the watermark);
 *  - empty-text: nothing but whitespace to analyse (headline and body, or chat text);
 *  - text-too-large: model text longer than limits.maxTextChars characters;
 *  - invalid-field (tickers): more distinct tickers than limits.maxTickersPerDocument, or one longer
 *    than 64 characters — each ticker becomes a statistics group, so an unbounded list would let one
 *    record create any number of groups (Redis fields, top-K candidates).
 * The value size (limits.maxMessageBytes) is checked before decoding (src/codec/decode.ts); entities
 * found by the model are capped at limits.maxEntitiesPerDocument (highest scores kept) on output.
 * Normalisation: optional strings that are empty become absent; tickers are trimmed, upper-cased,
 * written canonically (SH600519, 600519.SS → 600519.SH; 00700.HK → 0700.HK) and de-duplicated; a
 * document without tickers gets the codes its text names (src/domain/tickers.ts). Chat author ids are replaced by their HMAC pseudonym here, the first place they are read.
 */
export interface ValidationLimits {
  maxTextChars: number;
  maxFutureSkewMs: number;
  /** Distinct tickers per document (limits.maxTickersPerDocument); DEFAULT_MAX_TICKERS when absent. */
  maxTickersPerDocument?: number;
  /** limits.maxUrlChars; DEFAULT_MAX_URL_CHARS when absent. */
  maxUrlChars?: number;
  /** limits.maxAttributeChars (source, platform, channel, author_id, region, sector, labeller). */
  maxAttributeChars?: number;
}

export const DEFAULT_MAX_TICKERS = 64;
export const DEFAULT_MAX_URL_CHARS = 4096;
export const DEFAULT_MAX_ATTRIBUTE_CHARS = 256;

export interface ValidationContext {
  limits: ValidationLimits;
  pseudonymiser: AuthorPseudonymiser;
  nowMs: number;
  position: SourcePosition;
  key: Buffer | null;
  headers: Record<string, Buffer>;
  /** Canonical tickers of the security master: bare codes in text count only when listed here. */
  knownTickers?: ReadonlySet<string>;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

const MAX_ID_CHARS = 512;
const MAX_LANGUAGE_CHARS = 35;
const MAX_TICKER_CHARS = 64;

function invalidField(field: string, problem: string): ValidationResult<never> {
  return { ok: false, rejection: reject('invalid-field', 'validate', `${field}: ${problem}`) };
}

function checkId(field: string, id: string): ValidationResult<never> | null {
  if (id.trim().length === 0) return invalidField(field, 'must not be empty');
  if (id.length > MAX_ID_CHARS) return invalidField(field, `longer than ${MAX_ID_CHARS} characters`);
  return null;
}

function checkRequired(field: string, value: string): ValidationResult<never> | null {
  return value.trim().length === 0 ? invalidField(field, 'must not be empty') : null;
}

/**
 * Free-text fields other than the model text are bounded too: each is copied into the enriched
 * record (and some into Redis group names), so an unbounded one makes outputs the broker refuses.
 */
function checkLengths(
  limits: ValidationLimits,
  fields: Record<string, string | null | undefined>,
  url?: string | null,
): ValidationResult<never> | null {
  const maxUrl = limits.maxUrlChars ?? DEFAULT_MAX_URL_CHARS;
  if (url && url.length > maxUrl)
    return invalidField('url', `${url.length} characters, limit limits.maxUrlChars=${maxUrl}`);
  const max = limits.maxAttributeChars ?? DEFAULT_MAX_ATTRIBUTE_CHARS;
  for (const [field, value] of Object.entries(fields))
    if (value && value.length > max)
      return invalidField(field, `${value.length} characters, limit limits.maxAttributeChars=${max}`);
  return null;
}

function checkLanguage(language: string): ValidationResult<never> | null {
  if (language.trim().length === 0) return invalidField('language', 'must not be empty');
  if (language.length > MAX_LANGUAGE_CHARS)
    return invalidField('language', `longer than ${MAX_LANGUAGE_CHARS} characters`);
  return null;
}

/**
 * An ISO date for the message, or the raw number when it is beyond the range a Date can hold
 * (±8.64e15 ms): `toISOString` throws there, and a throwing validator crashed the consumer on a
 * record with a far-future event time instead of dead-lettering it (found by test/faults/fuzz.test.ts).
 */
function describeEpochMs(value: number): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? `${value} ms since the epoch` : date.toISOString();
}

export function checkTimestamp(
  field: string,
  value: number,
  limits: ValidationLimits,
  nowMs: number,
): ValidationResult<never> | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value)) {
    return {
      ok: false,
      rejection: reject(
        'invalid-timestamp',
        'validate',
        `${field}: ${String(value)} is not an integer of epoch milliseconds`,
      ),
    };
  }
  if (value <= 0)
    return {
      ok: false,
      rejection: reject('invalid-timestamp', 'validate', `${field}: ${value} is not after 1970-01-01`),
    };
  if (value > nowMs + limits.maxFutureSkewMs) {
    return {
      ok: false,
      rejection: reject(
        'invalid-timestamp',
        'validate',
        `${field}: ${describeEpochMs(value)} is more than limits.maxFutureSkew=${limits.maxFutureSkewMs}ms in the future`,
      ),
    };
  }
  return null;
}

function checkText(field: string, text: string, limits: ValidationLimits): ValidationResult<never> | null {
  if (text.trim().length === 0)
    return { ok: false, rejection: reject('empty-text', 'validate', `${field}: no text to analyse`) };
  if (text.length > limits.maxTextChars) {
    return {
      ok: false,
      rejection: reject(
        'text-too-large',
        'validate',
        `${field}: ${text.length} characters, limit limits.maxTextChars=${limits.maxTextChars}`,
      ),
    };
  }
  return null;
}

function checkTickers(tickers: readonly string[], limits: ValidationLimits): ValidationResult<never> | null {
  const max = limits.maxTickersPerDocument ?? DEFAULT_MAX_TICKERS;
  const long = tickers.find((t) => t.trim().length > MAX_TICKER_CHARS);
  if (long !== undefined)
    return invalidField(
      'tickers',
      `a ticker is ${long.trim().length} characters, longer than ${MAX_TICKER_CHARS}`,
    );
  const distinct = normaliseTickers(tickers).length;
  if (distinct > max)
    return invalidField('tickers', `${distinct} distinct tickers, limit limits.maxTickersPerDocument=${max}`);
  return null;
}

function optional(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 ? trimmed : undefined;
}

export function normaliseTickers(tickers: readonly string[]): string[] {
  const out = new Set<string>();
  for (const ticker of tickers) {
    const clean = canonicalTicker(ticker);
    if (clean.length > 0) out.add(clean);
  }
  return [...out];
}

/**
 * The producer's tickers, or, when it sent none, the codes the text names (src/domain/tickers.ts:
 * only codes marked as such, never a bare number the security master does not list), at most
 * limits.maxTickersPerDocument of them.
 */
function documentTickers(supplied: readonly string[], text: string, ctx: ValidationContext): string[] {
  const given = normaliseTickers(supplied);
  if (given.length > 0) return given;
  return extractTickers(text, {
    ...(ctx.knownTickers ? { known: ctx.knownTickers } : {}),
    max: ctx.limits.maxTickersPerDocument ?? DEFAULT_MAX_TICKERS,
  });
}

/** The text the models read for a news article (documented on InputDocument.text). */
export function newsText(headline: string, body: string): string {
  const h = headline.trim();
  const b = body.trim();
  if (h.length === 0) return b;
  if (b.length === 0) return h;
  return `${h}\n\n${b}`;
}

export function validateNews(r: NewsArticleRecord, ctx: ValidationContext): ValidationResult<InputDocument> {
  const failure =
    checkId('id', r.id) ??
    checkRequired('source', r.source) ??
    checkLengths(ctx.limits, { source: r.source, region: r.region, sector: r.sector }, r.url) ??
    checkLanguage(r.language) ??
    checkTimestamp('published_at', r.published_at, ctx.limits, ctx.nowMs) ??
    checkText('headline+body', newsText(r.headline, r.body), ctx.limits) ??
    checkTickers(r.tickers, ctx.limits);
  if (failure) return failure;
  return {
    ok: true,
    value: document('news', r.id, r.published_at, newsText(r.headline, r.body), ctx, {
      source: r.source.trim(),
      language: r.language.trim(),
      region: optional(r.region),
      sector: optional(r.sector),
      url: optional(r.url),
      tickers: documentTickers(r.tickers, newsText(r.headline, r.body), ctx),
    }),
  };
}

export function validateChat(r: ChatMessageRecord, ctx: ValidationContext): ValidationResult<InputDocument> {
  const failure =
    checkId('id', r.id) ??
    checkRequired('platform', r.platform) ??
    checkRequired('channel', r.channel) ??
    checkRequired('author_id', r.author_id) ??
    checkLengths(ctx.limits, {
      platform: r.platform,
      channel: r.channel,
      author_id: r.author_id,
      region: r.region,
    }) ??
    checkLanguage(r.language) ??
    checkTimestamp('sent_at', r.sent_at, ctx.limits, ctx.nowMs) ??
    checkText('text', r.text, ctx.limits) ??
    checkTickers(r.tickers, ctx.limits);
  if (failure) return failure;
  return {
    ok: true,
    value: document('chat', r.id, r.sent_at, r.text, ctx, {
      platform: r.platform.trim(),
      channel: r.channel.trim(),
      language: r.language.trim(),
      region: optional(r.region),
      tickers: documentTickers(r.tickers, r.text, ctx),
      authorPseudonym: ctx.pseudonymiser.pseudonymise(r.author_id),
    }),
  };
}

function document(
  kind: DocumentKind,
  id: string,
  eventTimeMs: number,
  text: string,
  ctx: ValidationContext,
  attributes: InputDocument['attributes'],
): InputDocument {
  // Drop absent optional attributes so that consumers can use `in`/spread without undefined noise.
  const clean = Object.fromEntries(
    Object.entries(attributes).filter(([, v]) => v !== undefined),
  ) as InputDocument['attributes'];
  return {
    id,
    kind,
    eventTimeMs,
    text,
    attributes: clean,
    position: ctx.position,
    key: ctx.key,
    headers: ctx.headers,
  };
}

/** A decoded, validated human label (labels topic). Joining it to a prediction is the LabelSink's job. */
export interface InputLabel {
  documentId: string;
  label: SentimentLabel;
  labeller: string;
  labelledAtMs: number;
  documentEventTimeMs?: number;
  documentKind?: DocumentKind;
  position: SourcePosition;
}

export function validateLabel(
  r: LabelRecord,
  ctx: Pick<ValidationContext, 'limits' | 'nowMs' | 'position'>,
): ValidationResult<InputLabel> {
  const failure =
    checkId('document_id', r.document_id) ??
    checkRequired('labeller', r.labeller) ??
    checkLengths(ctx.limits, { labeller: r.labeller }) ??
    checkTimestamp('labelled_at', r.labelled_at, ctx.limits, ctx.nowMs) ??
    (r.document_event_time === null
      ? null
      : checkTimestamp('document_event_time', r.document_event_time, ctx.limits, ctx.nowMs));
  if (failure) return failure;
  const label: InputLabel = {
    documentId: r.document_id,
    label: r.label,
    labeller: r.labeller.trim(),
    labelledAtMs: r.labelled_at,
    position: ctx.position,
  };
  if (r.document_event_time !== null) label.documentEventTimeMs = r.document_event_time;
  if (r.document_kind !== null) label.documentKind = r.document_kind;
  return { ok: true, value: label };
}
