import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../../inference/model.js';
import { DocumentTokenizer, type TokenWindow } from '../../inference/tokenize.js';
import { median, timed } from './measure.js';
import { row, type BenchContext, type BenchRow } from './types.js';

/**
 * Row 1, the ceiling: ONNX Runtime alone. The texts are tokenized and windowed exactly as finsentry
 * does (same tokenizer, maxLength, stride), the windows sorted by length and cut into batches bounded
 * by a size and the token budget; the input tensors are built before the clock starts, so only
 * `session.run` is timed, one batch after another on a session with the same options as the product's.
 * The best batch size is searched on a sample, then full passes are repeated at that size.
 */

export const CEILING_BATCH_SIZES = [8, 16, 32, 64] as const;

interface Feeds {
  feeds: Record<string, ort.Tensor>;
  realTokens: number;
  paddedTokens: number;
}

export function sortedBatches(
  windows: readonly TokenWindow[],
  batchSize: number,
  maxBatchTokens: number,
): TokenWindow[][] {
  const sorted = [...windows].sort((a, b) => a.ids.length - b.ids.length);
  const batches: TokenWindow[][] = [];
  let current: TokenWindow[] = [];
  for (const w of sorted) {
    // Sorted ascending: this window is the longest of the batch if added.
    if (
      current.length > 0 &&
      (current.length >= batchSize || w.ids.length * (current.length + 1) > maxBatchTokens)
    ) {
      batches.push(current);
      current = [];
    }
    current.push(w);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function buildFeeds(batch: readonly TokenWindow[], padTokenId: number, inputNames: readonly string[]): Feeds {
  const seq = Math.max(...batch.map((w) => w.ids.length));
  const n = batch.length;
  const ids = new BigInt64Array(n * seq).fill(BigInt(padTokenId));
  const mask = new BigInt64Array(n * seq);
  const types = new BigInt64Array(n * seq);
  let real = 0;
  batch.forEach((w, b) => {
    for (let t = 0; t < w.ids.length; t++) {
      ids[b * seq + t] = BigInt(w.ids[t] ?? 0);
      mask[b * seq + t] = 1n;
      types[b * seq + t] = BigInt(w.typeIds[t] ?? 0);
    }
    real += w.ids.length;
  });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [n, seq]),
    attention_mask: new ort.Tensor('int64', mask, [n, seq]),
  };
  if (inputNames.includes('token_type_ids'))
    feeds['token_type_ids'] = new ort.Tensor('int64', types, [n, seq]);
  return { feeds, realTokens: real, paddedTokens: n * seq };
}

export function sessionOptions(ctx: BenchContext): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: ctx.models.graphOptimization,
    executionProviders: [ctx.models.executionProvider],
    ...(ctx.models.intraOpThreads > 0 ? { intraOpNumThreads: ctx.models.intraOpThreads } : {}),
    ...(ctx.models.interOpThreads > 0 ? { interOpNumThreads: ctx.models.interOpThreads } : {}),
  };
}

async function createSession(
  ctx: BenchContext,
  spec: ModelSpec,
): Promise<{ session: ort.InferenceSession; provider: string }> {
  try {
    return {
      session: await ort.InferenceSession.create(spec.onnxPath, sessionOptions(ctx)),
      provider: ctx.models.executionProvider,
    };
  } catch (err) {
    if (ctx.models.executionProvider !== 'cuda') throw err;
    ctx.log(
      `ceiling: CUDA unavailable (${(err as Error).message.split('\n')[0]}), using cpu as finsentry falls back`,
    );
    return {
      session: await ort.InferenceSession.create(spec.onnxPath, {
        ...sessionOptions(ctx),
        executionProviders: ['cpu'],
      }),
      provider: 'cpu',
    };
  }
}

async function runAll(session: ort.InferenceSession, feeds: readonly Feeds[]): Promise<void> {
  for (const f of feeds) await session.run(f.feeds);
}

interface ModelCeiling {
  task: string;
  provider: string;
  batchSize: number;
  search: Array<{ batchSize: number; windowsPerSecond: number; tokensPerSecond: number }>;
  windows: number;
  realTokens: number;
  paddedTokens: number;
  seconds: number;
  runs: number[];
}

async function modelCeiling(ctx: BenchContext, spec: ModelSpec): Promise<ModelCeiling> {
  const tokenizer = DocumentTokenizer.fromFile(spec.tokenizerPath, {
    maxLength: ctx.models.maxLength,
    stride: ctx.models.stride,
    maxWindows: ctx.models.maxWindows,
  });
  const docs = await tokenizer.encode(ctx.texts);
  const windows = docs.flatMap((d) => d.windows);
  const sampleWindows = docs.slice(0, ctx.searchDocuments).flatMap((d) => d.windows);
  const { session, provider } = await createSession(ctx, spec);
  try {
    const names = session.inputNames;
    const budget = ctx.batching.maxBatchTokens;
    const search: ModelCeiling['search'] = [];
    for (const size of CEILING_BATCH_SIZES) {
      const feeds = sortedBatches(sampleWindows, size, budget).map((b) =>
        buildFeeds(b, spec.padTokenId, names),
      );
      // Warm-up at this size: the longest batch allocates the largest buffers.
      const longest = feeds[feeds.length - 1];
      if (longest) await session.run(longest.feeds);
      const seconds = await timed(() => runAll(session, feeds));
      const tokens = feeds.reduce((s, f) => s + f.realTokens, 0);
      search.push({
        batchSize: size,
        windowsPerSecond: sampleWindows.length / seconds,
        tokensPerSecond: tokens / seconds,
      });
    }
    const best = search.reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a));
    const feeds = sortedBatches(windows, best.batchSize, budget).map((b) =>
      buildFeeds(b, spec.padTokenId, names),
    );
    const runs: number[] = [];
    for (let i = 0; i < ctx.reps; i++) runs.push(await timed(() => runAll(session, feeds)));
    return {
      task: spec.task,
      provider,
      batchSize: best.batchSize,
      search,
      windows: windows.length,
      realTokens: feeds.reduce((s, f) => s + f.realTokens, 0),
      paddedTokens: feeds.reduce((s, f) => s + f.paddedTokens, 0),
      seconds: median(runs),
      runs,
    };
  } finally {
    await session.release();
  }
}

export async function ceilingRow(ctx: BenchContext): Promise<BenchRow> {
  const specs = [ctx.specs.sentiment, ...(ctx.specs.ner ? [ctx.specs.ner] : [])];
  const perModel: ModelCeiling[] = [];
  for (const spec of specs) {
    ctx.log(
      `ceiling: ${spec.task} model, searching batch sizes ${CEILING_BATCH_SIZES.join('/')} on ${Math.min(ctx.searchDocuments, ctx.texts.length)} documents`,
    );
    perModel.push(await modelCeiling(ctx, spec));
  }
  // The models run one after another, each with every intra-op thread: the ceiling is the sum of their times.
  const seconds = perModel.reduce((s, m) => s + m.seconds, 0);
  const runs = perModel[0]!.runs.map((_, i) => perModel.reduce((s, m) => s + (m.runs[i] ?? m.seconds), 0));
  const textTokens = ctx.docTokens.reduce((a, b) => a + b, 0);
  const modelTokens = perModel.reduce((s, m) => s + m.realTokens, 0);
  return row(
    'ceiling',
    'ONNX Runtime alone (pre-tokenized, length-sorted)',
    ctx.texts.length,
    runs,
    seconds,
    textTokens,
    modelTokens,
    perModel
      .map(
        (m) =>
          `${m.task} batch ${m.batchSize} (${Math.round((1 - m.realTokens / m.paddedTokens) * 100)}% padding)`,
      )
      .join(', '),
    {
      models: perModel.map((m) => ({
        task: m.task,
        provider: m.provider,
        batchSize: m.batchSize,
        windows: m.windows,
        realTokens: m.realTokens,
        paddedTokens: m.paddedTokens,
        paddingRatio: Number((1 - m.realTokens / m.paddedTokens).toFixed(4)),
        seconds: m.seconds,
        runs: m.runs,
        search: m.search.map((s) => ({
          batchSize: s.batchSize,
          windowsPerSecond: Number(s.windowsPerSecond.toFixed(1)),
          tokensPerSecond: Math.round(s.tokensPerSecond),
        })),
      })),
    },
  );
}
