import { basename } from 'node:path';
import { DEFAULT_NER_AGGREGATION, type BatchingConfig, type ModelsConfig } from '../../config/schema.js';
import { resolveThreading } from '../../inference/threads.js';
import type { EnrichRequest } from '../../domain/enrichment.js';
import { OnnxEnricher } from '../../inference/enricher.js';
import { chunk, forEachBounded, median, timedCpu } from './measure.js';
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

/** How a row loads its enricher: the sentiment/ner pair of `models`, or a joint model directory. */
type EnricherSource = { models: ModelsConfig } | { models: ModelsConfig; joint: string };

async function createEnricher(
  ctx: BenchContext,
  batching: BatchingConfig,
  counters: EnricherCounters,
  source: EnricherSource = { models: ctx.models },
): Promise<OnnxEnricher> {
  const options = {
    maxEntitiesPerDocument: ctx.config.limits.maxEntitiesPerDocument,
    onBatch: (_task: unknown, stats: { realTokens: number; paddedTokens: number }) => {
      counters.batches++;
      counters.realTokens += stats.realTokens;
      counters.paddedTokens += stats.paddedTokens;
    },
  };
  if (!('joint' in source)) return OnnxEnricher.create(source.models, batching, options);
  const aggregation = source.models.ner?.aggregation ?? DEFAULT_NER_AGGREGATION;
  return OnnxEnricher.createFromDirectory(
    { path: source.joint, aggregation, ner: source.models.ner !== null },
    source.models,
    batching,
    options,
  );
}

function requests(ctx: BenchContext): EnrichRequest[] {
  return ctx.corpus.map((d, i) => ({ id: d.id, text: ctx.texts[i] ?? '' }));
}

/** Text tokens the enricher analysed, from its own results (whole documents, windows not double-counted). */
function coveredTokens(results: Array<{ sentiment: { tokens: number } }>): number {
  return results.reduce((s, r) => s + r.sentiment.tokens, 0);
}

/** The engine's thread settings for these models on this machine (what `finsentry run` would use). */
export function engineThreading(models: ModelsConfig): ReturnType<typeof resolveThreading> {
  return resolveThreading({
    executionProvider: models.executionProvider,
    intraOpThreads: models.intraOpThreads,
    interOpThreads: models.interOpThreads,
    spinning: models.intraOpSpinning,
    inferenceWorkers: models.inferenceWorkers,
  });
}

interface InferPass {
  seconds: number;
  cpuSeconds: number;
  runs: number[];
  textTokens: number;
  modelTokens: number;
  padded: number;
  batches: number;
}

/** Warm-up, then `ctx.reps` timed passes of the corpus through one enricher; medians. */
async function inferPasses(
  ctx: BenchContext,
  source: EnricherSource,
): Promise<InferPass & { providers: Record<string, string> }> {
  const counters: EnricherCounters = { batches: 0, realTokens: 0, paddedTokens: 0 };
  const enricher = await createEnricher(ctx, ctx.batching, counters, source);
  try {
    const all = requests(ctx);
    // As `finsentry infer` and the pipeline feed it: chunks of documents, a few enrich calls in flight.
    const chunks = chunk(all, inferChunkSize(ctx));
    await enricher.enrich(all.slice(0, Math.min(64, all.length))); // warm-up, not timed
    let textTokens = 0;
    const passes: Array<{ seconds: number; cpuSeconds: number }> = [];
    const before = { ...counters };
    for (let i = 0; i < ctx.reps; i++) {
      textTokens = 0;
      passes.push(
        await timedCpu(() =>
          forEachBounded(chunks, inferConcurrency(ctx), async (c) => {
            const results = await enricher.enrich(c); // (not `x += await …`: that reads x before awaiting)
            textTokens += coveredTokens(results);
          }),
        ),
      );
    }
    const reps = passes.length;
    return {
      seconds: median(passes.map((p) => p.seconds)),
      cpuSeconds: median(passes.map((p) => p.cpuSeconds)),
      runs: passes.map((p) => p.seconds),
      textTokens,
      modelTokens: (counters.realTokens - before.realTokens) / reps,
      padded: (counters.paddedTokens - before.paddedTokens) / reps,
      batches: (counters.batches - before.batches) / reps,
      providers: enricher.providers,
    };
  } finally {
    await enricher.close();
  }
}

export const threadingLabel = (t: ReturnType<typeof resolveThreading>): string =>
  `${t.workers} worker(s) × ${t.intraOpThreads} intra-op thread(s), spinning ${t.spinning ? 'on' : 'off'}`;

const inferChunkSize = (ctx: BenchContext) => Math.max(ctx.batching.maxBatchSize, 32);
const inferConcurrency = (ctx: BenchContext) => ctx.batching.maxInFlightBatches + 2;

/** Row 2, with the engine's settings. */
export async function inferRow(ctx: BenchContext): Promise<BenchRow> {
  return passRow(
    ctx,
    'infer',
    'finsentry infer (OnnxEnricher, no I/O)',
    await inferPasses(ctx, { models: ctx.models }),
  );
}

/**
 * Row 2b: row 2 with one joint model (a sentence head and a token head on one encoder) in place of
 * the sentiment/ner pair: one tokenization and one ONNX run per window batch (issue #15). Same
 * documents and settings; its tokenizer (SentencePiece) counts its own tokens.
 */
export async function jointRow(ctx: BenchContext): Promise<BenchRow> {
  if (!ctx.jointModel) throw new Error('no joint model: pass --joint-model DIR');
  const pass = await inferPasses(ctx, { models: ctx.models, joint: ctx.jointModel });
  return passRow(
    ctx,
    'joint',
    `finsentry infer, joint model ${basename(ctx.jointModel)} (one pass, both tasks)`,
    pass,
  );
}

function passRow(
  ctx: BenchContext,
  id: 'infer' | 'joint',
  title: string,
  main: InferPass & { providers: Record<string, string> },
): BenchRow {
  const t = engineThreading(ctx.models);
  const paddingRatio = 1 - main.modelTokens / main.padded;
  return row(
    id,
    title,
    ctx.corpus.length,
    main.runs,
    main.seconds,
    main.textTokens,
    main.modelTokens,
    `chunks of ${inferChunkSize(ctx)}, ${inferConcurrency(ctx)} in flight; ${threadingLabel(t)}; batcher max ${ctx.batching.maxBatchSize} windows / ${ctx.batching.maxBatchTokens} tokens, padding cap ${ctx.batching.maxPaddingRatio}, ${ctx.batching.maxInFlightBatches} batches in flight per model; ${Math.round(paddingRatio * 100)}% padding`,
    {
      batchesPerPass: main.batches,
      paddingRatio: Number(paddingRatio.toFixed(4)),
      providers: main.providers,
      threading: t,
    },
    main.cpuSeconds,
  );
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
    const { seconds, cpuSeconds } = await timedCpu(async () => {
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
      `batch 1 window, 1 document at a time (sentiment and NER concurrently), the engine's thread settings (${threadingLabel(engineThreading(ctx.models))})`,
      {
        batchesPerPass: counters.batches - before.batches,
      },
      cpuSeconds,
    );
  } finally {
    await enricher.close();
  }
}
