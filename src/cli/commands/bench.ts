import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { MIXES, type Mix } from '../../tools/bench/corpus.js';
import { ROW_IDS, type RowId } from '../../tools/bench/types.js';
import { configOption, intArg } from '../options.js';

const positiveInt = intArg({ min: 1 });

interface BenchCliOptions {
  model?: string;
  nerModel?: string;
  jointModel?: string;
  synth?: string;
  mix: string;
  docs?: number;
  reps?: number;
  rounds?: number;
  seed: number;
  json?: string;
  doc?: string | boolean;
  label?: string;
  quick?: boolean;
  device?: 'cpu' | 'cuda';
  threads?: number;
  rows?: string;
  config?: string;
  latencySeconds?: number;
  batchSize?: number;
  inFlight?: number;
  batchTokens?: number;
}

/** The models the rows read and the corpus they read (size, mix, rounds, repetitions). */
function withModelAndCorpusOptions(command: Command): Command {
  return command
    .option('--model <dir>', 'sentiment model directory (default: config models.sentiment.path)')
    .option(
      '--ner-model <dir>',
      "NER model directory, or 'none' (default: config models.ner.path; none when --model is given alone)",
    )
    .option(
      '--synth <shape>',
      'use synthesized models of this shape: tiny | minilm | bert-base (cached under tmp/bench-models)',
      (v) => {
        if (!['tiny', 'minilm', 'bert-base'].includes(v))
          throw new InvalidArgumentError('expected tiny, minilm or bert-base');
        return v;
      },
    )
    .option(
      '--mix <mix>',
      'text length mix: short | long | mixed',
      (v) => {
        if (!(MIXES as readonly string[]).includes(v))
          throw new InvalidArgumentError(`expected ${MIXES.join(', ')}`);
        return v;
      },
      'mixed',
    )
    .option('--docs <n>', 'documents in the corpus (default 500; 120 with --quick)', positiveInt)
    .option(
      '--rounds <n>',
      'run the whole sequence of rows this many times; each row reports its median round (default 3; 1 with --quick)',
      positiveInt,
    )
    .option(
      '--reps <n>',
      'timed repetitions inside a round for ceiling, infer, peer and stats (default 1)',
      positiveInt,
    )
    .option('--seed <n>', 'scenario generator seed', intArg(), 42);
}

/** Where the report goes: JSON, the benchmarks document, its section title; --quick. */
function withOutputOptions(command: Command): Command {
  return command
    .option('--json <file>', 'write the full report as JSON')
    .option(
      '--doc [file]',
      'update the generated section of this Markdown file (default docs/benchmarks.md; off with --quick unless given)',
    )
    .option('--no-doc', 'do not touch docs/benchmarks.md')
    .option('--label <text>', 'section title in the Markdown file (a rerun with the same label replaces it)')
    .option('--quick', 'smoke-test size (~1 minute with a small model): fewer documents, one repetition');
}

/** Execution provider, threads, joint model, rows, latency traffic, batching overrides, config. */
function withEngineOptions(command: Command): Command {
  return command
    .option(
      '--device <ep>',
      'execution provider: cpu | cuda (finsentry falls back to cpu when CUDA is unavailable)',
      (v) => {
        if (v !== 'cpu' && v !== 'cuda') throw new InvalidArgumentError('expected cpu or cuda');
        return v;
      },
    )
    .option(
      '--threads <n>',
      'ONNX Runtime intra-op threads for every session (0 = ORT default)',
      intArg({ min: 0, max: 1024 }),
    )
    .option(
      '--joint-model <dir>',
      'joint model for row 2b (one encoder pass for sentiment and NER), or none; default: the first installed joint model of models.sets',
    )
    .option('--rows <list>', `comma-separated rows to run (default all: ${ROW_IDS.join(',')})`)
    .option(
      '--latency-seconds <n>',
      'seconds of paced traffic for the latency measurement (default 30; 5 with --quick)',
      positiveInt,
    )
    .option(
      '--batch-size <n>',
      'override batching.maxBatchSize (windows per model batch) for the infer and pipeline rows',
      positiveInt,
    )
    .option(
      '--batch-tokens <n>',
      'override batching.maxBatchTokens (padded tokens per batch) for every row',
      positiveInt,
    )
    .option(
      '--in-flight <n>',
      'override batching.maxInFlightBatches for the infer and pipeline rows',
      positiveInt,
    )
    .addOption(
      configOption('finsentry config (Kafka brokers, Redis, batching, windowing); defaults = local stack'),
    );
}

/** `--doc FILE` / `--doc` → that file or docs/benchmarks.md; `--no-doc` → none; neither → docs/benchmarks.md unless --quick. */
function benchDocument(opts: BenchCliOptions): string | false {
  if (typeof opts.doc === 'string') return opts.doc;
  if (opts.doc === true) return 'docs/benchmarks.md';
  return opts.doc === false || opts.quick ? false : 'docs/benchmarks.md';
}

async function runBenchCommand(opts: BenchCliOptions): Promise<void> {
  const rows = (opts.rows ?? ROW_IDS.join(','))
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const r of rows)
    if (!(ROW_IDS as readonly string[]).includes(r))
      throw new InvalidArgumentError(`unknown row ${r}; rows are ${ROW_IDS.join(', ')}`);
  const doc = benchDocument(opts);
  const { runBench } = await import('../../tools/bench/bench.js');
  const { formatTable } = await import('../../tools/bench/report.js');
  const log = (line: string): void => {
    process.stderr.write(`bench: ${line}\n`);
  };
  const report = await runBench(
    {
      ...(opts.model ? { model: opts.model } : {}),
      ...(opts.nerModel ? { nerModel: opts.nerModel } : {}),
      ...(opts.jointModel ? { jointModel: opts.jointModel } : {}),
      ...(opts.synth ? { synth: opts.synth as 'tiny' | 'minilm' | 'bert-base' } : {}),
      mix: opts.mix as Mix,
      ...(opts.docs ? { docs: opts.docs } : {}),
      ...(opts.reps ? { reps: opts.reps } : {}),
      ...(opts.rounds ? { rounds: opts.rounds } : {}),
      seed: opts.seed,
      ...(opts.json ? { json: opts.json } : {}),
      doc,
      ...(opts.label ? { label: opts.label } : {}),
      quick: Boolean(opts.quick),
      ...(opts.device ? { device: opts.device } : {}),
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      rows: rows as RowId[],
      ...(opts.config ? { config: opts.config } : {}),
      ...(opts.latencySeconds ? { latencySeconds: opts.latencySeconds } : {}),
      ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
      ...(opts.inFlight ? { inFlight: opts.inFlight } : {}),
      ...(opts.batchTokens ? { batchTokens: opts.batchTokens } : {}),
      command: `finsentry bench ${process.argv.slice(3).join(' ')}`.trim(),
    },
    log,
  );
  process.stdout.write(`${report.label}\n${formatTable(report)}\n`);
  if (report.rows.some((r) => r.error)) process.exitCode = 1;
}

/**
 * `finsentry bench`: throughput and latency of the ONNX Runtime ceiling, the finsentry inference path,
 * the full Kafka→Redis→Kafka pipeline, a naive batch-size-1 baseline, the transformers.js peer and the
 * stats stage, one after another on the same texts and models (docs/benchmarks.md explains the method).
 * Progress goes to stderr, the table to stdout.
 */
export function registerBenchCommand(program: Command): void {
  const command = program
    .command('bench')
    .description(
      'Benchmark: ORT ceiling, finsentry infer, full pipeline (+ latency), naive baseline, transformers.js peer, stats stage',
    );
  withEngineOptions(withOutputOptions(withModelAndCorpusOptions(command))).action(runBenchCommand);
}
