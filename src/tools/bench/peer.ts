import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { basename, join } from 'node:path';
import type { ModelSpec } from '../../inference/model.js';
import { ortSessionOptions } from '../../inference/ort-session.js';
import { engineThreading, threadingLabel } from './infer.js';
import { chunk, median, timed, timedCpu } from './measure.js';
import { row, type BenchContext, type BenchRow } from './types.js';

/**
 * Row 5, the peer: what a TypeScript user would otherwise write — the `@huggingface/transformers`
 * (transformers.js) `text-classification` and `token-classification` pipelines (aggregation "simple",
 * finsentry's default) over the same ONNX files and tokenizer, on the same texts, with the library's
 * own batching (an array of texts per call, padded to the longest) at the best batch size of a few
 * tried. transformers.js runs on the same onnxruntime-node build with the same session options.
 * It truncates each text to the model's maximum length where finsentry windows long texts, so its
 * tokens/s counts only the tokens it actually read.
 */

export const PEER_BATCH_SIZES = [1, 4, 8, 16, 32] as const;

type PipelineFn = (texts: string[], options?: Record<string, unknown>) => Promise<unknown>;
interface PeerPipeline {
  (texts: string[], options?: Record<string, unknown>): Promise<unknown>;
  tokenizer?: { model_max_length?: number };
  dispose?: () => Promise<void>;
}

/** A transformers.js-style local model directory (config, tokenizer, onnx/model[_quantized].onnx) pointing at the finsentry model's files. */
export function peerModelDir(
  root: string,
  spec: ModelSpec,
  /** Truncation length of the peer: finsentry's window length, so that both read the same heads. */
  maxLengthCap = Infinity,
): { name: string; dtype: 'fp32' | 'q8'; maxLength: number } {
  const name = `${spec.task}-${basename(spec.dir)}`;
  const dir = join(root, name);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const quantized = /quantized/.test(basename(spec.onnxPath));
  symlinkSync(spec.onnxPath, join(dir, 'onnx', quantized ? 'model_quantized.onnx' : 'model.onnx'));
  symlinkSync(spec.tokenizerPath, join(dir, 'tokenizer.json'));
  const config = { model_type: 'bert', ...spec.config };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const maxPositions = spec.maxPositions ?? 512;
  const tokenizerConfigPath = join(spec.dir, 'tokenizer_config.json');
  const tokenizerConfig: Record<string, unknown> = existsSync(tokenizerConfigPath)
    ? (JSON.parse(readFileSync(tokenizerConfigPath, 'utf8')) as Record<string, unknown>)
    : {};
  const declared =
    typeof tokenizerConfig['model_max_length'] === 'number'
      ? (tokenizerConfig['model_max_length'] as number)
      : maxPositions;
  const maxLength = Math.min(declared, maxPositions, maxLengthCap);
  // transformers.js takes the special tokens (padding!) from tokenizer_config.json; exports made by
  // `models synth` or older tools may leave them out, so fill in BERT's when tokenizer.json has them.
  const added =
    (JSON.parse(readFileSync(spec.tokenizerPath, 'utf8')) as { added_tokens?: Array<{ content: string }> })
      .added_tokens ?? [];
  const has = (t: string): boolean => added.some((a) => a.content === t);
  const bertSpecials = Object.fromEntries(
    (
      [
        ['pad_token', '[PAD]'],
        ['unk_token', '[UNK]'],
        ['cls_token', '[CLS]'],
        ['sep_token', '[SEP]'],
        ['mask_token', '[MASK]'],
      ] as const
    ).filter(([key, token]) => tokenizerConfig[key] === undefined && has(token)),
  );
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'BertTokenizer',
      ...bertSpecials,
      ...tokenizerConfig,
      model_max_length: maxLength,
    }),
  );
  const special = join(spec.dir, 'special_tokens_map.json');
  if (existsSync(special)) copyFileSync(special, join(dir, 'special_tokens_map.json'));
  return { name, dtype: quantized ? 'q8' : 'fp32', maxLength };
}

async function loadTransformers(): Promise<typeof import('@huggingface/transformers')> {
  try {
    return await import('@huggingface/transformers');
  } catch (err) {
    throw new Error(
      `@huggingface/transformers is not installed (a devDependency: run npm ci): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

type Transformers = Awaited<ReturnType<typeof loadTransformers>>;

/** The peer's pipelines, loaded from `root`, and the devices they run on (disposed by the caller). */
interface PeerLoader {
  transformers: Transformers;
  root: string;
  ctx: BenchContext;
  sessionOptions: ReturnType<typeof ortSessionOptions>;
  pipelines: PeerPipeline[];
  devices: string[];
}

/** One transformers.js pipeline on the engine's provider, on CPU when CUDA is not there (as finsentry). */
async function loadPeerPipeline(
  loader: PeerLoader,
  task: 'text-classification' | 'token-classification',
  spec: ModelSpec,
): Promise<{ fn: PeerPipeline; maxLength: number }> {
  const { ctx, transformers, sessionOptions } = loader;
  const local = peerModelDir(loader.root, spec, ctx.models.maxLength);
  const create = (device: string): Promise<PeerPipeline> =>
    transformers.pipeline(task, local.name, {
      dtype: local.dtype,
      device,
      session_options: sessionOptions,
    } as never) as unknown as Promise<PeerPipeline>;
  let fn: PeerPipeline;
  try {
    fn = await create(ctx.models.executionProvider);
    loader.devices.push(ctx.models.executionProvider);
  } catch (err) {
    if (ctx.models.executionProvider !== 'cuda') throw err;
    // finsentry falls back to CPU when CUDA is unavailable; the peer does the same so the rows stay comparable.
    ctx.log(
      `peer: CUDA unavailable for transformers.js (${(err as Error).message.split('\n')[0]}), using cpu`,
    );
    fn = await create('cpu');
    loader.devices.push('cpu');
  }
  loader.pipelines.push(fn);
  return { fn, maxLength: local.maxLength };
}

// Sorted by length, as a fair user of the pipeline API would batch: no chat padded to an article.
function byLength(texts: readonly string[], tokens: readonly number[]): string[] {
  return texts
    .map((text, i) => ({ text, n: tokens[i] ?? 0 }))
    .sort((a, b) => a.n - b.n)
    .map((t) => t.text);
}

/** Throughput of each batch size of PEER_BATCH_SIZES on the sample, each warmed up at its shape. */
async function searchBatchSize(
  call: (texts: string[]) => Promise<unknown>,
  sample: readonly string[],
): Promise<Array<{ batchSize: number; docsPerSecond: number }>> {
  const pass = async (batchSize: number): Promise<void> => {
    for (const batch of chunk(sample, batchSize)) await call(batch);
  };
  await call(sample.slice(0, 8)); // warm-up
  const search: Array<{ batchSize: number; docsPerSecond: number }> = [];
  for (const size of PEER_BATCH_SIZES) {
    await call(sample.slice(0, size)); // warm-up at this shape
    const seconds = await timed(() => pass(size));
    search.push({ batchSize: size, docsPerSecond: sample.length / seconds });
  }
  return search;
}

/** Tokens the peer read: each text truncated to the model maximum (content tokens + [CLS]/[SEP]). */
function peerTokens(
  ctx: BenchContext,
  classifierMax: number,
  nerMax: number | null,
): { textTokens: number; modelTokens: number; truncatedDocs: number } {
  const covered = (maxLength: number): number =>
    ctx.docTokens.reduce((s, t) => s + Math.min(t, maxLength - 2), 0);
  const textTokens = covered(classifierMax);
  const modelTokens =
    covered(classifierMax) +
    ctx.texts.length * 2 +
    (nerMax !== null ? covered(nerMax) + ctx.texts.length * 2 : 0);
  const truncatedDocs = ctx.docTokens.filter((t) => t > classifierMax - 2).length;
  return { textTokens, modelTokens, truncatedDocs };
}

export async function peerRow(ctx: BenchContext): Promise<BenchRow> {
  const transformers = await loadTransformers();
  const root = mkdtempSync(join(os.tmpdir(), 'finsentry-bench-peer-'));
  const pipelines: PeerPipeline[] = [];
  const devices: string[] = [];
  try {
    transformers.env.allowRemoteModels = false;
    transformers.env.allowLocalModels = true;
    transformers.env.localModelPath = `${root}/`;
    // The engine's own thread settings (threads, spinning), so the row compares batching, not threads.
    const threading = engineThreading(ctx.models);
    const sessionOptions = ortSessionOptions({
      executionProvider: ctx.models.executionProvider,
      intraOpThreads: threading.intraOpThreads,
      interOpThreads: threading.interOpThreads,
      graphOptimization: ctx.models.graphOptimization,
      spinning: threading.spinning,
    });
    const loader: PeerLoader = { transformers, root, ctx, sessionOptions, pipelines, devices };
    const classifier = await loadPeerPipeline(loader, 'text-classification', ctx.specs.sentiment);
    const ner = ctx.specs.ner ? await loadPeerPipeline(loader, 'token-classification', ctx.specs.ner) : null;
    const call = (texts: string[]): Promise<unknown> =>
      Promise.all([
        (classifier.fn as PipelineFn)(texts, { top_k: null }),
        ner ? (ner.fn as PipelineFn)(texts, { aggregation_strategy: 'simple' }) : Promise.resolve(null),
      ]);
    const pass = async (texts: readonly string[], batchSize: number): Promise<void> => {
      for (const batch of chunk(texts, batchSize)) await call(batch);
    };
    const texts = byLength(ctx.texts, ctx.docTokens);
    const search = await searchBatchSize(
      call,
      byLength(ctx.texts.slice(0, ctx.searchDocuments), ctx.docTokens),
    );
    const best = search.reduce((a, b) => (b.docsPerSecond > a.docsPerSecond ? b : a));
    const passes: Array<{ seconds: number; cpuSeconds: number }> = [];
    for (let i = 0; i < ctx.reps; i++) passes.push(await timedCpu(() => pass(texts, best.batchSize)));
    const runs = passes.map((p) => p.seconds);
    const tokens = peerTokens(ctx, classifier.maxLength, ner ? ner.maxLength : null);
    return row(
      'peer',
      'peer: @huggingface/transformers pipelines',
      ctx.texts.length,
      runs,
      median(runs),
      tokens.textTokens,
      tokens.modelTokens,
      `batch ${best.batchSize} (best of ${PEER_BATCH_SIZES.join('/')}), texts sorted by length, truncated at ${classifier.maxLength} tokens, ${threadingLabel(threading)}`,
      {
        search: search.map((s) => ({
          batchSize: s.batchSize,
          docsPerSecond: Number(s.docsPerSecond.toFixed(2)),
        })),
        truncation: { maxLength: classifier.maxLength, truncatedDocuments: tokens.truncatedDocs },
        aggregation: 'simple',
        devices,
      },
      median(passes.map((p) => p.cpuSeconds)),
    );
  } finally {
    for (const p of pipelines) await p.dispose?.().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
