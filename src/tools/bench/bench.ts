import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/load.js';
import { DEFAULT_NER_AGGREGATION, type FinsentryConfig, type ModelsConfig } from '../../config/schema.js';
import { readModelSpec, type ModelSpec } from '../../inference/model.js';
import { synthesizeModel } from '../models/synth/index.js';
import { DocumentTokenizer } from '../../inference/tokenize.js';
import { ceilingRow } from './ceiling.js';
import { buildCorpus, summarizeCorpus, type Mix } from './corpus.js';
import { limitRow } from './limit.js';
import { engineThreading, inferRow, jointRow, naiveRow, threadingLabel } from './infer.js';
import { machineInfo, modelSize } from './machine.js';
import { peerRow } from './peer.js';
import { pipelineRow } from './pipeline.js';
import { computeRatios, renderMarkdownSection, updateDocument, type BenchReport } from './report.js';
import { statsRow } from './stats.js';
import { ROW_IDS, type BenchContext, type BenchRow, type LatencyResult, type RowId } from './types.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Model shapes `--synth` writes (seeded random weights, fp32): for smoke tests and production-size figures. */
export const SYNTH_SHAPES = {
  tiny: { layers: 2, hidden: 64, heads: 4, intermediate: 256 },
  minilm: { layers: 6, hidden: 384, heads: 12, intermediate: 1536 },
  'bert-base': { layers: 12, hidden: 768, heads: 12, intermediate: 3072 },
} as const;
export type SynthShape = keyof typeof SYNTH_SHAPES;

export interface BenchOptions {
  model?: string;
  /** NER model directory, or 'none'. */
  nerModel?: string;
  /** Joint model directory for row 2b, or 'none'; default: the first joint model of models.sets that exists. */
  jointModel?: string;
  synth?: SynthShape;
  mix: Mix;
  docs?: number;
  reps?: number;
  /** Times the whole sequence of rows is run; each row reports its median round (default 3; 1 with --quick). */
  rounds?: number;
  seed: number;
  json?: string;
  /** Markdown file whose generated section is updated; false = none. */
  doc: string | false;
  label?: string;
  quick: boolean;
  device?: 'cpu' | 'cuda';
  threads?: number;
  rows: RowId[];
  config?: string;
  latencySeconds?: number;
  /** Overrides of batching.maxBatchSize / maxInFlightBatches (infer and pipeline rows). */
  batchSize?: number;
  inFlight?: number;
  batchTokens?: number;
  command: string;
}

/** Synthesizes (once, cached under tmp/bench-models) a sentiment and an NER model of the given shape with the MiniLM/BERT WordPiece vocabulary. */
export function synthModels(shape: SynthShape, log: (l: string) => void): { sentiment: string; ner: string } {
  const root = join(REPO_ROOT, 'tmp', 'bench-models');
  const vocabDir = join(REPO_ROOT, 'test', 'fixtures', 'inference');
  const hasVocab = existsSync(join(vocabDir, 'tokenizer.json'));
  const out = { sentiment: join(root, `${shape}-sentiment`), ner: join(root, `${shape}-ner`) };
  for (const task of ['sentiment', 'ner'] as const) {
    const dir = out[task];
    if (existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'model.onnx'))) continue;
    mkdirSync(dir, { recursive: true });
    log(`synthesizing a ${shape}-shaped ${task} model in ${dir}`);
    synthesizeModel({
      task,
      ...SYNTH_SHAPES[shape],
      seed: 1,
      out: dir,
      maxPositions: 512,
      name: `synth-${shape}-${task}`,
      ...(hasVocab ? { vocabFrom: vocabDir } : { vocabSize: 30522 }),
    });
  }
  return out;
}

function resolveModels(
  opts: BenchOptions,
  config: FinsentryConfig,
  log: (l: string) => void,
): { sentiment: string; ner: string | null; synthetic: boolean } {
  if (opts.synth) {
    const dirs = synthModels(opts.synth, log);
    return {
      sentiment: opts.model ?? dirs.sentiment,
      ner: opts.nerModel === 'none' ? null : (opts.nerModel ?? dirs.ner),
      synthetic: true,
    };
  }
  let sentiment = opts.model ?? config.models.sentiment.path;
  let synthetic = false;
  if (!opts.model && !existsSync(join(sentiment, 'config.json'))) {
    log(
      `default sentiment model ${sentiment} is missing; using a synthesized MiniLM-shaped model instead (--synth minilm)`,
    );
    const dirs = synthModels('minilm', log);
    sentiment = dirs.sentiment;
    synthetic = true;
    if (opts.nerModel === undefined) return { sentiment, ner: dirs.ner, synthetic };
  }
  if (opts.nerModel === 'none') return { sentiment, ner: null, synthetic };
  if (opts.nerModel) return { sentiment, ner: opts.nerModel, synthetic };
  // With an explicit --model and no --ner-model the run is sentiment-only (do not pair unrelated models).
  if (opts.model) return { sentiment, ner: null, synthetic };
  const nerPath = config.models.ner?.path;
  if (nerPath && existsSync(join(nerPath, 'config.json'))) return { sentiment, ner: nerPath, synthetic };
  log(`default NER model ${nerPath ?? '(none configured)'} is missing; running sentiment only`);
  return { sentiment, ner: null, synthetic };
}

/** Row 2b's model: --joint-model, else the first installed joint model of models.sets. */
async function resolveJointModel(opts: BenchOptions, config: FinsentryConfig): Promise<string | null> {
  if (opts.jointModel === 'none') return null;
  if (opts.jointModel) {
    await readModelSpec(opts.jointModel, 'joint');
    return opts.jointModel;
  }
  for (const set of config.models.sets) {
    if (!existsSync(join(set.path, 'config.json'))) continue;
    if ((await readModelSpec(set.path)).task === 'joint') return set.path;
  }
  return null;
}

/** The round with the median time (the lower middle for an even count); `runs` lists every round. */
export function medianRound(results: readonly BenchRow[]): { row: BenchRow; index: number } {
  const order = results.map((r, i) => ({ seconds: r.seconds, i })).sort((a, b) => a.seconds - b.seconds);
  const index = order[Math.floor((order.length - 1) / 2)]!.i;
  const chosen = results[index]!;
  return {
    index,
    row: {
      ...chosen,
      runs: results.flatMap((r) => r.runs),
      details: {
        ...chosen.details,
        roundsDocsPerSecond: results.map((r) => Number(r.docsPerSecond.toFixed(2))),
      },
    },
  };
}

/** What a bench run measures with: the context the rows read, and what the report says about it. */
interface PreparedBench {
  ctx: BenchContext;
  paths: ReturnType<typeof resolveModels>;
  specs: { sentiment: ModelSpec; ner: ModelSpec | null };
  selectedRows: readonly RowId[];
  corpusSummary: ReturnType<typeof summarizeCorpus>;
}

/** The engine's model settings of a run: the config's, with the resolved model paths and CLI overrides. */
function benchModels(
  opts: BenchOptions,
  config: FinsentryConfig,
  paths: { sentiment: string; ner: string | null },
) {
  const models: ModelsConfig = {
    ...config.models,
    sentiment: { ...config.models.sentiment, path: paths.sentiment },
    ner: paths.ner
      ? { path: paths.ner, aggregation: config.models.ner?.aggregation ?? DEFAULT_NER_AGGREGATION }
      : null,
    ...(opts.device ? { executionProvider: opts.device } : {}),
    ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}),
  };
  return models;
}

/** Config, models, corpus and its tokens: everything the rows share, read once before any row runs. */
async function prepareBench(opts: BenchOptions, log: (line: string) => void): Promise<PreparedBench> {
  // --device picks the provider before the config is resolved, so batching gets that provider's defaults.
  const config = loadConfig(
    opts.config,
    opts.device ? { ...process.env, FINSENTRY_MODELS__EXECUTION_PROVIDER: opts.device } : process.env,
  );
  const paths = resolveModels(opts, config, log);
  const models = benchModels(opts, config, paths);
  const sentiment: ModelSpec = await readModelSpec(paths.sentiment, 'sentiment');
  const ner: ModelSpec | null = paths.ner ? await readModelSpec(paths.ner, 'ner') : null;
  const jointModel = await resolveJointModel(opts, config);
  const selectedRows = jointModel ? opts.rows : opts.rows.filter((id) => id !== 'joint');
  if (!jointModel && opts.rows.includes('joint'))
    log('row joint skipped: no joint model (--joint-model DIR, or a joint model in models.sets)');
  const quick = opts.quick;
  const documents = opts.docs ?? (quick ? 120 : 500);
  const corpusOptions = { mix: opts.mix, documents, seed: opts.seed };
  const corpus = buildCorpus(corpusOptions);
  const texts = corpus.map((d) => d.text);
  const tokenizer = DocumentTokenizer.fromFile(sentiment.tokenizerPath, {
    maxLength: models.maxLength,
    stride: models.stride,
    maxWindows: models.maxWindows,
  });
  const docTokens = (await tokenizer.encode(texts)).map((d) => d.tokens);
  const ctx: BenchContext = {
    config,
    models,
    batching: {
      ...config.batching,
      ...(opts.batchSize ? { maxBatchSize: opts.batchSize } : {}),
      ...(opts.inFlight ? { maxInFlightBatches: opts.inFlight } : {}),
      ...(opts.batchTokens ? { maxBatchTokens: opts.batchTokens } : {}),
    },
    specs: { sentiment, ner },
    jointModel,
    corpus,
    texts,
    docTokens,
    quick,
    reps: opts.reps ?? 1,
    searchDocuments: Math.min(documents, quick ? 40 : Math.max(50, Math.round(documents / 5))),
    latencySeconds: opts.latencySeconds ?? (quick ? 5 : 30),
    statsDocuments: quick ? 3000 : 50_000,
    log,
  };
  const corpusSummary = summarizeCorpus(corpusOptions, corpus, docTokens);
  log(
    `corpus: ${documents} documents (${opts.mix}), ${corpusSummary.tokens} tokens; models: ${sentiment.name}${ner ? ` + ${ner.name}` : ''}${jointModel ? `; joint row: ${jointModel}` : ''}; provider ${models.executionProvider}; ${threadingLabel(engineThreading(models))}`,
  );
  return { ctx, paths, specs: { sentiment, ner }, selectedRows, corpusSummary };
}

/** The row of a failed row: its error, no figures. */
function failedRow(id: RowId, error: string): BenchRow {
  return {
    id,
    title: id,
    documents: 0,
    seconds: NaN,
    runs: [],
    docsPerSecond: NaN,
    textTokensPerSecond: null,
    modelTokensPerSecond: null,
    setting: '',
    error,
  };
}

/**
 * Every selected row once per round, rounds one after another, so that a change in the machine's
 * load during the run hits all rows alike instead of whichever row ran at that moment. A row that
 * fails is not run again; each row reports its median round.
 */
async function runRounds(
  ctx: BenchContext,
  selectedRows: readonly RowId[],
  rounds: number,
): Promise<{ rows: BenchRow[]; latency: LatencyResult | null }> {
  const log = ctx.log;
  const latencies: Array<LatencyResult | null> = [];
  const runners: Record<RowId, () => Promise<BenchRow>> = {
    limit: () => limitRow(ctx),
    ceiling: () => ceilingRow(ctx),
    infer: () => inferRow(ctx),
    joint: () => jointRow(ctx),
    pipeline: async () => {
      const result = await pipelineRow(ctx, { latency: true });
      latencies.push(result.latency);
      return result.row;
    },
    naive: () => naiveRow(ctx),
    peer: () => peerRow(ctx),
    stats: () => statsRow(ctx),
  };
  const perRow = new Map<RowId, BenchRow[]>();
  const errors = new Map<RowId, string>();
  for (let round = 1; round <= rounds; round++) {
    for (const id of ROW_IDS) {
      if (!selectedRows.includes(id) || errors.has(id)) continue;
      log(`round ${round}/${rounds}, row ${id}: running`);
      try {
        const r = await runners[id]();
        perRow.set(id, [...(perRow.get(id) ?? []), r]);
        log(`round ${round}/${rounds}, row ${id}: ${r.docsPerSecond.toFixed(1)} docs/s (${r.setting})`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`row ${id}: failed: ${message}`);
        errors.set(id, message.split('\n')[0] ?? message);
      }
    }
  }
  let latency: LatencyResult | null = null;
  const rows: BenchRow[] = [];
  for (const id of ROW_IDS) {
    const error = errors.get(id);
    if (error !== undefined) {
      rows.push(failedRow(id, error));
      continue;
    }
    const results = perRow.get(id);
    if (!results || results.length === 0) continue;
    const merged = medianRound(results);
    rows.push(merged.row);
    if (id === 'pipeline') latency = latencies[merged.index] ?? null;
  }
  return { rows, latency };
}

/** The report's notes: how the rows were measured, and what in this run qualifies its figures. */
function benchNotes(
  rows: readonly BenchRow[],
  ctx: BenchContext,
  rounds: number,
  synthetic: boolean,
  machine: ReturnType<typeof machineInfo>,
): string[] {
  const inferRowResult = rows.find((r) => r.id === 'infer' && !r.error);
  const notes = [
    `Every row reads the same documents with the same model files and is warmed up before it is timed. The sequence of rows ran ${rounds} time(s) one after another (rounds); each row reports its median round${ctx.reps > 1 ? ` (and within a round the median of ${ctx.reps} repetitions)` : ''}, so that load changes during the run hit every row alike.`,
    'Text tokens: content tokens of the texts analysed (finsentry reads long texts whole in overlapping windows; the peer truncates each text to the model maximum, so it reads fewer tokens of long articles). Model tokens: non-padding tokens fed to the models, both models, special tokens and window overlaps included.',
    'Ceiling: both models one after another with every intra-op thread, input tensors built before timing. Pipeline: from the first fetched input record to the last offset commit, with decode, Redis window statistics, gzip-compressed enriched output and commits.',
  ];
  const inferPadding = inferRowResult?.details?.['paddingRatio'];
  const ceilingModels = rows.find((r) => r.id === 'ceiling' && !r.error)?.details?.['models'] as
    Array<{ paddingRatio: number }> | undefined;
  if (typeof inferPadding === 'number' && inferPadding > 0.3) {
    const ceilingPadding = ceilingModels ? Math.max(...ceilingModels.map((m) => m.paddingRatio)) : null;
    notes.push(
      `finsentry's micro-batcher padded ${Math.round(inferPadding * 100)}% of the tokens it fed to the models` +
        (ceilingPadding !== null
          ? ` (the ceiling's length-sorted batches: ${Math.round(ceilingPadding * 100)}%)`
          : '') +
        `: batches mixed short and long windows (batching.maxBatchTokens ${ctx.batching.maxBatchTokens}, maxPaddingRatio ${ctx.batching.maxPaddingRatio}). A lower batching.maxPaddingRatio or a smaller token budget (--batch-tokens) keeps short windows apart from long ones.`,
    );
  }
  if (synthetic)
    notes.push(
      'Synthesized models (seeded random weights, fp32): throughput reflects the architecture and size only; predictions are meaningless.',
    );
  if (machine.loadAverage1m > machine.availableParallelism)
    notes.push(
      `The machine was busy (load average ${machine.loadAverage1m} on ${machine.availableParallelism} CPUs at start): absolute figures are low and noisy; the ratios, measured side by side, are the meaningful part.`,
    );
  return notes;
}

/** Writes the report as JSON (--json) and into the benchmarks document (--doc), as asked. */
function writeBenchReport(report: BenchReport, opts: BenchOptions): void {
  if (opts.json) {
    mkdirSync(dirname(resolve(opts.json)), { recursive: true });
    writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  if (opts.doc) {
    const existing = existsSync(opts.doc) ? readFileSync(opts.doc, 'utf8') : '# Benchmarks\n';
    writeFileSync(opts.doc, updateDocument(existing, renderMarkdownSection(report), report.label));
  }
}

export async function runBench(opts: BenchOptions, log: (line: string) => void): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const { ctx, paths, specs, selectedRows, corpusSummary } = await prepareBench(opts, log);
  const { sentiment, ner } = specs;
  const models = ctx.models;
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  const { rows, latency } = await runRounds(ctx, selectedRows, rounds);
  const inferRowResult = rows.find((r) => r.id === 'infer' && !r.error);
  const used = (inferRowResult?.details?.['providers'] as Record<string, string> | undefined) ?? {};
  const label =
    opts.label ??
    `${paths.synthetic ? `synth ${opts.synth ?? 'minilm'}` : 'default models'} (${sentiment.name}${ner ? ` + ${ner.name}` : ''}), mix ${opts.mix}`;
  const threading = engineThreading(models);
  const report: BenchReport = {
    version: 1,
    label,
    command: opts.command,
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: opts.quick,
    machine,
    executionProvider: { requested: models.executionProvider, used },
    threads: {
      intraOp: threading.intraOpThreads,
      interOp: threading.interOpThreads,
      note: `the engine's settings for ${machine.availableParallelism} usable cores: ${threadingLabel(threading)} (models.* auto, src/inference/threads.ts) — infer, pipeline, naive and the peer; the ceiling sweeps 1/2 threads × spinning on/off × batch 1–64 and keeps the fastest`,
    },
    models: [modelSize(sentiment), ...(ner ? [modelSize(ner)] : [])],
    windowing: { maxLength: models.maxLength, stride: models.stride, maxWindows: models.maxWindows },
    batching: ctx.batching,
    corpus: corpusSummary,
    rows,
    latency,
    ratios: computeRatios(rows),
    notes: benchNotes(rows, ctx, rounds, paths.synthetic, machine),
  };
  writeBenchReport(report, opts);
  return report;
}
