import type { Span } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';
import { buildEnrichedRecord, encodeEnriched } from '../codec/enriched.js';
import type { InputDocument } from '../domain/documents.js';
import type { Enrichment } from '../domain/enrichment.js';
import type { StatsObservation } from '../domain/observation.js';
import type { OutRecord } from '../domain/records.js';
import { outputHeaders as traceHeaders } from '../telemetry/tracing.js';
import type { ProcessorOptions } from './processor-types.js';

/**
 * Headers of an enriched record: the input's W3C trace context continued by a `finsentry.process` span
 * (src/telemetry/tracing.ts; with tracing off the input's traceparent is forwarded as is), plus the
 * document kind and model identities.
 */
export function outputHeaders(
  doc: InputDocument,
  enrichment: Enrichment,
  stageSpans: readonly Span[] = [],
): IHeaders {
  const headers: IHeaders = { ...traceHeaders(doc.headers, stageSpans) };
  headers['finsentry-kind'] = doc.kind;
  for (const model of enrichment.models)
    headers[`finsentry-model-${model.task}`] = `${model.name}@${model.version}`;
  return headers;
}

/** The enrichment with PER entities' text and normalized form replaced by pseudonyms (docs/security.md). */
export function withPersonsPseudonymised(
  enrichment: Enrichment,
  pseudonym: ((name: string) => string) | undefined,
): Enrichment {
  if (!pseudonym || !enrichment.entities.some((e) => e.type === 'PER')) return enrichment;
  return {
    ...enrichment,
    entities: enrichment.entities.map((e) =>
      e.type === 'PER' ? { ...e, text: pseudonym(e.normalized), normalized: pseudonym(e.normalized) } : e,
    ),
  };
}

/** The finsentry.enriched record of one document (key = input key, trace context continued). */
export function enrichedRecord(
  options: ProcessorOptions,
  doc: InputDocument,
  enrichment: Enrichment,
  context: {
    observation: StatsObservation | null;
    stageSpans: readonly Span[];
    latencyMs: number;
    nowMs: number;
  },
): OutRecord {
  const value = encodeEnriched(
    buildEnrichedRecord(doc, enrichment, {
      groups: context.observation?.groups ?? [],
      processingLatencyMs: context.latencyMs,
      processedAtMs: context.nowMs,
      pipelineVersion: options.pipelineVersion,
      maxEntities: options.maxEntitiesPerDocument,
      storyId: context.observation?.storyId ?? null,
    }),
    options.enrichedSchemaId,
  );
  return { key: doc.key, value, headers: outputHeaders(doc, enrichment, context.stageSpans) };
}
