import type { BatchingConfig } from '../../config/schema.js';
import type { EnrichRequest } from '../../domain/enrichment.js';
import { OnnxEnricher } from '../../inference/enricher.js';
import { chunk, forEachBounded, median, timed } from './measure.js';
import { row, type BenchContext, type BenchRow } from './types.js';

/**
 * Rows 2 and 4: the finsentry inference path without I/O (OnnxEnricher: tokenize, window, micro-batch,
 * infer, post-process sentiment and entities), and the naive baseline — the same enricher and models
 * called one document at a time with batches of one window.
 */

interface EnricherCounters {
  batches: number;
  realTokens: number;
  paddedTokens: number;
}

async function createEnricher(
  ctx: BenchContext,
  batching: BatchingConfig,
  counters: EnricherCounters,
): Promise<OnnxEnricher> {
  return OnnxEnricher.create(ctx.models, batching, {
    maxEntitiesPerDocument: ctx.config.limits.maxEntitiesPerDocument,
    onBatch: (_task, stats) => {
      counters.batches++;
      counters.realTokens += stats.realTokens;
      counters.paddedTokens += stats.paddedTokens;
    },
  });
}

function requests(ctx: BenchContext): EnrichRequest[] {
  return ctx.corpus.map((d, i) => ({ id: d.id, text: ctx.texts[i] ?? '' }));
}

/** Text tokens the enricher analysed, from its own results (whole documents, windows not double-counted). */
function coveredTokens(results: Array<{ sentiment: { tokens: number } }>): number {
  return results.reduce((s, r) => s + r.sentiment.tokens, 0);
}

export async function inferRow(ctx: BenchContext): Promise<BenchRow> {
  const counters: EnricherCounters = { batches: 0, realTokens: 0, paddedTokens: 0 };
  const enricher = await createEnricher(ctx, ctx.batching, counters);
  try {
    const all = requests(ctx);
    // As `finsentry infer` and the pipeline feed it: chunks of documents, a few enrich calls in flight.
    const chunkSize = Math.max(ctx.batching.maxBatchSize, 32);
    const concurrency = ctx.batching.maxInFlightBatches + 2;
    const chunks = chunk(all, chunkSize);
    await enricher.enrich(all.slice(0, Math.min(64, all.length))); // warm-up, not timed
    let textTokens = 0;
    const runs: number[] = [];
    const before = { ...counters };
    for (let i = 0; i < ctx.reps; i++) {
      textTokens = 0;
      runs.push(
        await timed(() =>
          forEachBounded(chunks, concurrency, async (c) => {
            const results = await enricher.enrich(c); // (not `x += await …`: that reads x before awaiting)
            textTokens += coveredTokens(results);
          }),
        ),
      );
    }
    const reps = runs.length;
    const modelTokens = (counters.realTokens - before.realTokens) / reps;
    const padded = (counters.paddedTokens - before.paddedTokens) / reps;
    const paddingRatio = 1 - modelTokens / padded;
    return row(
      'infer',
      'finsentry infer (OnnxEnricher, no I/O)',
      all.length,
      runs,
      median(runs),
      textTokens,
      modelTokens,
      `chunks of ${chunkSize}, ${concurrency} in flight; batcher max ${ctx.batching.maxBatchSize} windows / ${ctx.batching.maxBatchTokens} tokens, ${ctx.batching.maxInFlightBatches} batches in flight per model; ${Math.round(paddingRatio * 100)}% padding`,
      {
        batchesPerPass: (counters.batches - before.batches) / reps,
        paddingRatio: Number(paddingRatio.toFixed(4)),
        providers: enricher.providers,
      },
    );
  } finally {
    await enricher.close();
  }
}

export async function naiveRow(ctx: BenchContext): Promise<BenchRow> {
  const counters: EnricherCounters = { batches: 0, realTokens: 0, paddedTokens: 0 };
  const batching: BatchingConfig = {
    ...ctx.batching,
    maxBatchSize: 1,
    maxBatchTokens: Math.max(ctx.batching.maxBatchTokens, ctx.models.maxLength),
    maxWait: 0,
    maxInFlightBatches: 1,
  };
  const enricher = await createEnricher(ctx, batching, counters);
  try {
    const all = requests(ctx);
    for (const r of all.slice(0, Math.min(8, all.length))) await enricher.enrich([r]); // warm-up
    const before = { ...counters };
    let textTokens = 0;
    // One message at a time, as a per-message handler would call a model: no cross-document batching.
    const seconds = await timed(async () => {
      for (const r of all) {
        const results = await enricher.enrich([r]);
        textTokens += coveredTokens(results);
      }
    });
    return row(
      'naive',
      'naive: one message at a time, batch size 1',
      all.length,
      [seconds],
      seconds,
      textTokens,
      counters.realTokens - before.realTokens,
      'batch 1 window, 1 document at a time (sentiment and NER concurrently)',
      {
        batchesPerPass: counters.batches - before.batches,
      },
    );
  } finally {
    await enricher.close();
  }
}
