import type { InputDocument } from '../domain/documents.js';
import type { Enrichment, SentimentResult } from '../domain/enrichment.js';
import type { GroupRef } from '../domain/observation.js';
import type { EnrichedDocumentRecord } from './records.js';
import { schemaType } from './schemas.js';
import { frameConfluent } from './wire.js';

export interface EnrichedBuildOptions {
  groups: readonly GroupRef[];
  /** Milliseconds since the input batch was fetched. */
  processingLatencyMs: number;
  processedAtMs: number;
  pipelineVersion: string;
  maxEntities: number;
  /** The document's story id (src/stats/story.ts), when its kind is in stats.stories.kinds. */
  storyId?: string | null;
}

/**
 * The finsentry.enriched record for one document (schemas/EnrichedDocument.avsc). Raw text is not
 * copied (consumers join on id); entity surface forms are, as they are the point of NER. Entities beyond
 * limits.maxEntitiesPerDocument are dropped, keeping the highest-scoring ones in text order.
 */
export function buildEnrichedRecord(
  doc: InputDocument,
  enrichment: Enrichment,
  options: EnrichedBuildOptions,
): EnrichedDocumentRecord {
  const a = doc.attributes;
  const s = enrichment.sentiment;
  let entities = enrichment.entities;
  if (entities.length > options.maxEntities) {
    const keep = new Set([...entities].sort((x, y) => y.score - x.score).slice(0, options.maxEntities));
    entities = entities.filter((e) => keep.has(e));
  }
  return {
    id: doc.id,
    kind: doc.kind,
    event_time: doc.eventTimeMs,
    input: {
      topic: doc.position.topic,
      partition: doc.position.partition,
      offset: Number(doc.position.offset),
    },
    attributes: {
      source: a.source ?? null,
      platform: a.platform ?? null,
      channel: a.channel ?? null,
      language: a.language,
      region: a.region ?? null,
      sector: a.sector ?? null,
      tickers: a.tickers,
      author_pseudonym: a.authorPseudonym ?? null,
      url: a.url ?? null,
    },
    groups: options.groups.map((g) => ({ dimension: g.dimension, value: g.value })),
    sentiment: s ? sentimentRecord(s) : null,
    entities: entities.map((e) => ({
      type: e.type,
      text: e.text,
      normalized: e.normalized,
      start: e.start,
      end: e.end,
      score: e.score,
    })),
    models: enrichment.models.map((m) => ({
      task: m.task,
      name: m.name,
      version: m.version,
      sha256: m.sha256,
    })),
    processing_latency_ms: options.processingLatencyMs,
    processed_at: options.processedAtMs,
    pipeline_version: options.pipelineVersion,
    language_routing: enrichment.language
      ? { language: enrichment.language.language, source: enrichment.language.source }
      : null,
    unscored_reason: enrichment.unscored ?? null,
    story_id: options.storyId ?? null,
  };
}

function sentimentRecord(s: SentimentResult): NonNullable<EnrichedDocumentRecord['sentiment']> {
  return {
    label: s.label,
    probabilities: {
      negative: s.probabilities.negative,
      neutral: s.probabilities.neutral,
      positive: s.probabilities.positive,
    },
    polarity: s.polarity,
    confidence: s.confidence,
    windows: s.windows,
    truncated: s.truncated,
    tokens: s.tokens,
    unknown_tokens: s.unknownTokens,
  };
}

/** Avro-encodes an enriched record: plain body, or Confluent framing when a schema id is configured. */
export function encodeEnriched(record: EnrichedDocumentRecord, confluentSchemaId?: number): Buffer {
  const body = schemaType('EnrichedDocument').toBuffer(record);
  return confluentSchemaId === undefined ? body : frameConfluent(confluentSchemaId, body);
}

export function decodeEnriched(value: Buffer): EnrichedDocumentRecord {
  const body = value[0] === 0 ? value.subarray(5) : value;
  return schemaType('EnrichedDocument').fromBuffer(body) as EnrichedDocumentRecord;
}
