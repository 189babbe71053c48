import { performance } from 'node:perf_hooks';
import type { Span } from '@opentelemetry/api';
import { reject, type Rejection } from '../codec/reasons.js';
import type { InputDocument } from '../domain/documents.js';
import type { Enrichment } from '../domain/enrichment.js';
import { withStageSpan } from '../telemetry/tracing.js';
import type { BatchContext, ProcessorRuntime } from './processor-types.js';

/** A micro-batch that failed this many times in a row is probed for poison documents (see isolatePoison). */
export const POISON_PROBE_AFTER_ATTEMPTS = 3;
const CANARY_TEXT = 'Shares closed higher after the company reported quarterly results.';

export function isRejection(value: Enrichment | Rejection): value is Rejection {
  return typeof (value as Rejection).reason === 'string' && typeof (value as Rejection).stage === 'string';
}

/**
 * Enriches one micro-batch, bounded process-wide by batching.maxInFlightBatches and retried like any
 * dependency; after POISON_PROBE_AFTER_ATTEMPTS failures its documents are probed one by one, so a
 * poison document comes back as an `enrich-failed` rejection instead of blocking the partition.
 */
export function enrichChunk(
  rt: ProcessorRuntime,
  ctx: BatchContext,
  docs: InputDocument[],
  stageSpans: Span[],
): Promise<Array<Enrichment | Rejection>> {
  return rt.inference.run(() =>
    ctx.retry<Array<Enrichment | Rejection>>(
      'enrich',
      () => enrichDocuments(rt, docs, stageSpans),
      (attempt) =>
        attempt >= POISON_PROBE_AFTER_ATTEMPTS ? isolatePoison(rt, docs, stageSpans) : Promise.resolve(null),
    ),
  );
}

/** One enrich call for `docs`, in an `infer` span. */
async function enrichDocuments(
  rt: ProcessorRuntime,
  docs: InputDocument[],
  stageSpans: Span[],
): Promise<Enrichment[]> {
  return withStageSpan(
    'infer',
    docs.map((d) => d.headers),
    async (span) => {
      const inferStart = performance.now();
      const results = await rt.deps.enricher.enrich(
        docs.map((d) => ({ id: d.id, text: d.text, language: d.attributes.language })),
      );
      if (results.length !== docs.length)
        throw new Error(`enricher returned ${results.length} results for ${docs.length} documents`);
      rt.observer.observeStage('infer', (performance.now() - inferStart) / 1000);
      stageSpans.push(span);
      return results;
    },
  );
}

/**
 * Poison-document isolation, after a micro-batch failed POISON_PROBE_AFTER_ATTEMPTS times: each
 * document is enriched alone; if some fail, a canary text is enriched. When the canary succeeds the
 * inference backend is healthy and the failing documents are poison — they go to the DLQ as
 * `enrich-failed` (stage enrich) instead of blocking the partition forever. When the canary fails
 * too, it is an infrastructure failure: null, and the batch keeps being retried with backoff.
 */
async function isolatePoison(
  rt: ProcessorRuntime,
  docs: InputDocument[],
  stageSpans: Span[],
): Promise<Array<Enrichment | Rejection> | null> {
  const results: Array<Enrichment | Error> = [];
  for (const doc of docs) {
    try {
      results.push((await enrichDocuments(rt, [doc], stageSpans))[0]!);
    } catch (err) {
      results.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  if (!results.some((r) => r instanceof Error)) return results as Enrichment[];
  try {
    await rt.deps.enricher.enrich([{ id: 'finsentry-canary', text: CANARY_TEXT }]);
  } catch {
    return null;
  }
  return results.map((r) =>
    r instanceof Error
      ? reject(
          'enrich-failed',
          'enrich',
          `inference fails on this document while a canary text succeeds: ${r.message}`,
        )
      : r,
  );
}
