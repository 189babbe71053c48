import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../../inference/model.js';
import { DocumentTokenizer, type TokenWindow } from '../../inference/tokenize.js';
import { ortSessionOptions } from '../../inference/ort-session.js';
import { median, timedCpu } from './measure.js';
import { row, type BenchContext, type BenchRow } from './types.js';

/**
 * Row 1, the ceiling: ONNX Runtime alone. The texts are tokenized and windowed exactly as finsentry
 * does (same tokenizer, maxLength, stride), the windows sorted by length and cut into batches bounded
 * by a size and the token budget; the input tensors are built before the clock starts, so only
 * `session.run` is timed, one batch after another. The ORT settings are swept on a sample — intra-op
 * threads 1 and 2, spinning on and off, batches of 1 to 64 windows — and the fastest is kept; full
 * passes are then repeated with it. (One session at a time: two sessions side by side are the infer
 * row's 2-worker figure.)
 */

export const CEILING_BATCH_SIZES = [1, 4, 8, 16, 32, 64] as const;
export const CEILING_THREADS = [1, 2] as const;
export const CEILING_SPINNING = [false, true] as const;

interface OrtSetting {
  threads: number;
  spinning: boolean;
}

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

export function sessionOptions(ctx: BenchContext, setting: OrtSetting): ort.InferenceSession.SessionOptions {
  return {
    ...ortSessionOptions({
      executionProvider: ctx.models.executionProvider,
      intraOpThreads: setting.threads,
      interOpThreads: 1,
      graphOptimization: ctx.models.graphOptimization,
      spinning: setting.spinning,
    }),
    executionProviders: [ctx.models.executionProvider],
  };
}

async function createSession(
  ctx: BenchContext,
  spec: ModelSpec,
  setting: OrtSetting,
): Promise<{ session: ort.InferenceSession; provider: string }> {
  try {
    return {
      session: await ort.InferenceSession.create(spec.onnxPath, sessionOptions(ctx, setting)),
      provider: ctx.models.executionProvider,
    };
  } catch (err) {
    if (ctx.models.executionProvider !== 'cuda') throw err;
    ctx.log(
      `ceiling: CUDA unavailable (${(err as Error).message.split('\n')[0]}), using cpu as finsentry falls back`,
    );
    return {
      session: await ort.InferenceSession.create(spec.onnxPath, {
        ...sessionOptions(ctx, setting),
        executionProviders: ['cpu'],
      }),
      provider: 'cpu',
    };
  }
}

async function runAll(session: ort.InferenceSession, feeds: readonly Feeds[]): Promise<void> {
  for (const f of feeds) await session.run(f.feeds);
}

interface SearchPoint extends OrtSetting {
  batchSize: number;
  windowsPerSecond: number;
  tokensPerSecond: number;
  windowsPerCpuSecond: number;
}

interface ModelCeiling {
  task: string;
  provider: string;
  best: SearchPoint;
  search: SearchPoint[];
  windows: number;
  realTokens: number;
  paddedTokens: number;
  seconds: number;
  cpuSeconds: number;
  runs: number[];
}

/** Every batch size on the sample windows with one session of this setting. */
async function sweepSetting(
  ctx: BenchContext,
  spec: ModelSpec,
  setting: OrtSetting,
  sampleWindows: readonly TokenWindow[],
): Promise<SearchPoint[]> {
  const { session } = await createSession(ctx, spec, setting);
  try {
    const points: SearchPoint[] = [];
    for (const size of CEILING_BATCH_SIZES) {
      const feeds = sortedBatches(sampleWindows, size, ctx.batching.maxBatchTokens).map((b) =>
        buildFeeds(b, spec.padTokenId, session.inputNames),
      );
      // Warm-up at this size: the longest batch allocates the largest buffers.
      const longest = feeds[feeds.length - 1];
      if (longest) await session.run(longest.feeds);
      const { seconds, cpuSeconds } = await timedCpu(() => runAll(session, feeds));
      const tokens = feeds.reduce((s, f) => s + f.realTokens, 0);
      points.push({
        ...setting,
        batchSize: size,
        windowsPerSecond: sampleWindows.length / seconds,
        tokensPerSecond: tokens / seconds,
        windowsPerCpuSecond: sampleWindows.length / cpuSeconds,
      });
    }
    return points;
  } finally {
    await session.release();
  }
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
  const search: SearchPoint[] = [];
  for (const threads of CEILING_THREADS)
    for (const spinning of CEILING_SPINNING)
      search.push(...(await sweepSetting(ctx, spec, { threads, spinning }, sampleWindows)));
  const best = search.reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a));
  const { session, provider } = await createSession(ctx, spec, best);
  try {
    const feeds = sortedBatches(windows, best.batchSize, ctx.batching.maxBatchTokens).map((b) =>
      buildFeeds(b, spec.padTokenId, session.inputNames),
    );
    const last = feeds[feeds.length - 1];
    if (last) await session.run(last.feeds);
    const passes: Array<{ seconds: number; cpuSeconds: number }> = [];
    for (let i = 0; i < ctx.reps; i++) passes.push(await timedCpu(() => runAll(session, feeds)));
    return {
      task: spec.task,
      provider,
      best,
      search,
      windows: windows.length,
      realTokens: feeds.reduce((s, f) => s + f.realTokens, 0),
      paddedTokens: feeds.reduce((s, f) => s + f.paddedTokens, 0),
      seconds: median(passes.map((p) => p.seconds)),
      cpuSeconds: median(passes.map((p) => p.cpuSeconds)),
      runs: passes.map((p) => p.seconds),
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
      `ceiling: ${spec.task} model, sweeping threads ${CEILING_THREADS.join('/')} × spinning off/on × batch ${CEILING_BATCH_SIZES.join('/')} on ${Math.min(ctx.searchDocuments, ctx.texts.length)} documents`,
    );
    perModel.push(await modelCeiling(ctx, spec));
  }
  // The models run one after another, each with every intra-op thread: the ceiling is the sum of their times.
  const seconds = perModel.reduce((s, m) => s + m.seconds, 0);
  const cpuSeconds = perModel.reduce((s, m) => s + m.cpuSeconds, 0);
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
          `${m.task} batch ${m.best.batchSize}, ${m.best.threads} thread(s), spinning ${m.best.spinning ? 'on' : 'off'} (${Math.round((1 - m.realTokens / m.paddedTokens) * 100)}% padding)`,
      )
      .join(', '),
    {
      models: perModel.map((m) => ({
        task: m.task,
        provider: m.provider,
        batchSize: m.best.batchSize,
        threads: m.best.threads,
        spinning: m.best.spinning,
        windows: m.windows,
        realTokens: m.realTokens,
        paddedTokens: m.paddedTokens,
        paddingRatio: Number((1 - m.realTokens / m.paddedTokens).toFixed(4)),
        seconds: m.seconds,
        cpuSeconds: m.cpuSeconds,
        runs: m.runs,
        search: m.search.map((s) => ({
          threads: s.threads,
          spinning: s.spinning,
          batchSize: s.batchSize,
          windowsPerSecond: Number(s.windowsPerSecond.toFixed(1)),
          windowsPerCpuSecond: Number(s.windowsPerCpuSecond.toFixed(1)),
          tokensPerSecond: Math.round(s.tokensPerSecond),
        })),
      })),
    },
    cpuSeconds,
  );
}
