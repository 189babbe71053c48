import type { InputDocument } from '../domain/documents.js';
import type { Enrichment, ScoredEnrichment } from '../domain/enrichment.js';
import type { GroupRef, StatsObservation } from '../domain/observation.js';
import { DIMENSION_SOURCES, type DimensionConfig } from '../config/schema.js';
import { CURRENCY_CODES } from './currency-codes.js';
import type { IssuerResolver } from './issuer-master.js';

/**
 * Grouping (design §4): one group per configured dimension, from an input attribute or from the
 * model's own output (entities of a type, entity types). Multi-valued dimensions (tickers, entities,
 * entity types) count a document once per distinct value; a document with no value is in no group
 * of such a dimension. Single-valued dimensions put a missing value in the group "unknown", so every
 * document is counted exactly once per single-valued dimension.
 *
 * Every observation is also in the group "all" of the implicit dimension `_all` (config dimension
 * names must start with a letter, so it cannot collide): totals and drift use it and are exact
 * whatever dimensions are configured.
 */
export const ALL_DIMENSION = '_all';
export const ALL_GROUP = 'all';
export const UNKNOWN_GROUP = 'unknown';
/** Longest group value kept (in code points); longer values are cut. Bounds key size and label size. */
export const MAX_GROUP_LENGTH = 64;

type DimensionSource = DimensionConfig['from'];

/** Tickers and everything taken from the model's entities can hold several values per document. */
const MULTI_VALUED = new Set<DimensionSource>(
  DIMENSION_SOURCES.filter((s) => s === 'tickers' || s.startsWith('entit')),
);

export function isMultiValued(source: DimensionSource): boolean {
  return MULTI_VALUED.has(source);
}

/**
 * Sanitise a group value: Unicode NFKC, whitespace collapsed, characters outside letters, digits and
 * a few punctuation marks replaced by "_", cut to MAX_GROUP_LENGTH code points. Lower-cased except
 * for tickers and entity types, whose case is conventional (AAPL, ORG). Returns null when nothing is left.
 */
export function sanitizeGroupValue(raw: string, opts: { keepCase?: boolean } = {}): string | null {
  let value = raw.normalize('NFKC').replace(/\s+/gu, ' ').trim();
  if (!opts.keepCase) value = value.toLowerCase();
  value = value.replace(/[^\p{L}\p{N} ._\-/&+'@#$%]/gu, '_');
  const codePoints = Array.from(value);
  if (codePoints.length > MAX_GROUP_LENGTH) value = codePoints.slice(0, MAX_GROUP_LENGTH).join('').trimEnd();
  return value.length > 0 ? value : null;
}

/** Entity type as stored in counters and groups: upper-case letters, digits and underscore, max 32 chars. */
export function sanitizeEntityType(raw: string): string | null {
  const value = raw
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_')
    .slice(0, 32);
  return value.length > 0 ? value : null;
}

function rawValues(source: DimensionSource, doc: InputDocument, enrichment: Enrichment): string[] {
  const a = doc.attributes;
  switch (source) {
    case 'kind':
      return [doc.kind];
    case 'source':
      return a.source ? [a.source] : [];
    case 'platform':
      return a.platform ? [a.platform] : [];
    case 'channel':
      return a.channel ? [a.channel] : [];
    case 'language': {
      // The routed language (normalised, detected where the producer's tag was unusable) when routing ran.
      const language = enrichment.language?.language ?? a.language;
      return language ? [language] : [];
    }
    case 'region':
      return a.region ? [a.region] : [];
    case 'sector':
      return a.sector ? [a.sector] : [];
    case 'tickers':
      return a.tickers;
    case 'entities.ORG':
    case 'entities.PER':
    case 'entities.LOC':
    case 'entities.MISC': {
      const type = source.slice('entities.'.length);
      return enrichment.entities.filter((e) => e.type === type).map((e) => e.normalized);
    }
    case 'entity_types':
      return enrichment.entities.map((e) => e.type);
  }
}

type GroupingDimension = Pick<DimensionConfig, 'name' | 'from'> &
  Partial<Pick<DimensionConfig, 'exclude' | 'excludeCurrencyCodes' | 'crossWith'>>;

/** Joins the parts of an intersectional group (region × source → "emea+wire-a"). */
export const CROSS_SEPARATOR = '+';

/** Whether a sanitised value of a dimension forms no group (its `exclude` list, currency codes). */
export function isExcludedValue(dim: GroupingDimension, value: string): boolean {
  if (dim.exclude?.includes(value)) return true;
  const currencies = dim.excludeCurrencyCodes ?? dim.from === 'entities.ORG';
  return currencies && CURRENCY_CODES.has(value.toLowerCase());
}

/**
 * One issuer, one group (docs/alerting.md "Surge"): with a security master (stats.issuers.file) the
 * dimension named `dimension` holds issuer ids resolved from the document's tickers and ORG mentions;
 * fragments, stop words, exchanges and unresolved mentions form no group.
 */
export interface IssuerGrouping {
  resolver: IssuerResolver;
  dimension: string;
  /** Told the number of a document's distinct ORG mentions that resolved to no issuer (a metric). */
  onUnresolved?: (mentions: number) => void;
}

/** Issuer ids of a document through the security master, as group values (ids keep their case). */
function issuerValues(issuers: IssuerGrouping, doc: InputDocument, enrichment: Enrichment): GroupRef[] {
  const orgs = enrichment.entities.filter((e) => e.type === 'ORG').map((e) => e.normalized);
  const { issuers: ids, unresolved } = issuers.resolver.resolveDocument(doc.attributes.tickers, orgs);
  if (unresolved.length > 0) issuers.onUnresolved?.(unresolved.length);
  const values = new Set(
    ids.map((id) => sanitizeGroupValue(id, { keepCase: true })).filter((v) => v !== null),
  );
  return [...values].sort().map((value) => ({ dimension: issuers.dimension, value }));
}

/** Groups of one document along the configured dimensions (plus `_all`), distinct per dimension. */
export function buildGroups(
  doc: InputDocument,
  enrichment: Enrichment,
  dims: readonly GroupingDimension[],
  issuers?: IssuerGrouping,
): GroupRef[] {
  const groups: GroupRef[] = [{ dimension: ALL_DIMENSION, value: ALL_GROUP }];
  for (const dim of dims) {
    if (issuers && dim.name === issuers.dimension) {
      groups.push(...issuerValues(issuers, doc, enrichment));
      continue;
    }
    if (dim.crossWith) {
      groups.push({ dimension: dim.name, value: crossedValue(dim, doc, enrichment) });
      continue;
    }
    const seen = new Set<string>();
    for (const raw of rawValues(dim.from, doc, enrichment)) {
      const value =
        dim.from === 'entity_types'
          ? sanitizeEntityType(raw)
          : sanitizeGroupValue(raw, { keepCase: dim.from === 'tickers' });
      if (value !== null && !isExcludedValue(dim, value)) seen.add(value);
    }
    if (seen.size === 0 && !isMultiValued(dim.from)) seen.add(UNKNOWN_GROUP);
    for (const value of [...seen].sort()) groups.push({ dimension: dim.name, value });
  }
  return groups;
}

/**
 * The group of an intersectional dimension: one value per (single-valued) source, each sanitised as
 * its own dimension would be ("unknown" when missing), joined by CROSS_SEPARATOR — every document is
 * counted exactly once, like a single-valued dimension. `exclude` applies to the combined value.
 */
function crossedValue(dim: GroupingDimension, doc: InputDocument, enrichment: Enrichment): string {
  const parts = [dim.from, ...(dim.crossWith ?? [])].map((source) => {
    const raw = rawValues(source, doc, enrichment)[0];
    return (raw !== undefined ? sanitizeGroupValue(raw) : null) ?? UNKNOWN_GROUP;
  });
  const value = Array.from(parts.join(CROSS_SEPARATOR)).slice(0, MAX_GROUP_LENGTH).join('');
  return dim.exclude?.includes(value) ? UNKNOWN_GROUP : value;
}

/**
 * What the statistics stage records for one enriched document: numbers and group values, never text.
 * An unscored document (no model reads its language) has nothing to count in the sentiment windows:
 * null; it is counted by language in finsentry_documents_unscored_total instead.
 */
export function buildObservation(
  doc: InputDocument,
  enrichment: ScoredEnrichment,
  dims: readonly DimensionConfig[],
  issuers?: IssuerGrouping,
): StatsObservation;
export function buildObservation(
  doc: InputDocument,
  enrichment: Enrichment,
  dims: readonly DimensionConfig[],
  issuers?: IssuerGrouping,
): StatsObservation | null;
export function buildObservation(
  doc: InputDocument,
  enrichment: Enrichment,
  dims: readonly DimensionConfig[],
  issuers?: IssuerGrouping,
): StatsObservation | null {
  const s = enrichment.sentiment;
  if (s === undefined) return null;
  const entityTypes: Record<string, number> = {};
  for (const e of enrichment.entities) {
    const type = sanitizeEntityType(e.type);
    if (type !== null) entityTypes[type] = (entityTypes[type] ?? 0) + 1;
  }
  return {
    documentId: doc.id,
    offset: doc.position.offset,
    kind: doc.kind,
    eventTimeMs: doc.eventTimeMs,
    ...(doc.position.timestampMs !== undefined ? { recordTimeMs: doc.position.timestampMs } : {}),
    groups: buildGroups(doc, enrichment, dims, issuers),
    label: s.label,
    pNeg: s.probabilities.negative,
    pPos: s.probabilities.positive,
    polarity: s.polarity,
    confidence: s.confidence,
    tokens: s.tokens,
    unknownTokens: s.unknownTokens,
    truncated: s.truncated,
    entityTypes,
  };
}
