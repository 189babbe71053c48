import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/load.js';
import {
  DEFAULT_NER_AGGREGATION,
  type BatchingConfig,
  type FinsentryConfig,
  type ModelsConfig,
} from '../../config/schema.js';
import { OnnxEnricher, engineOptions } from '../../inference/enricher.js';
import { ModelRunner, NerModel } from '../../inference/engine.js';
import { inferStream, type InferFn } from '../../inference/infer-stream.js';
import { readModelSpec } from '../../inference/model.js';
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from '../../inference/ner.js';
import { createLogger, type Logger } from '../../telemetry/logger.js';
import { aggregationArg, configOption, intArg, requireReadableFile } from '../options.js';

const positiveInt = intArg({ min: 1 });

interface InferOptions {
  task: 'sentiment' | 'ner' | 'both';
  model?: string;
  nerModel?: string;
  input: string;
  batchSize?: number;
  aggregation?: AggregationStrategy;
  maxLength?: number;
  stride?: number;
  maxWindows?: number;
  provider?: 'cpu' | 'cuda';
  threads?: number;
  config?: string;
}

export function registerInferCommand(program: Command): void {
  program
    .command('infer')
    .description(
      'Run sentiment and/or NER on JSONL ({"id","text"}) or plain-text lines; one JSON result per line on stdout',
    )
    .option(
      '--task <task>',
      'sentiment | ner | both',
      (v) => {
        if (v !== 'sentiment' && v !== 'ner' && v !== 'both')
          throw new InvalidArgumentError('expected sentiment, ner or both');
        return v;
      },
      'sentiment',
    )
    .option(
      '--model <dir>',
      'model directory (the sentiment model, or the NER model for --task ner); default from config',
    )
    .option('--ner-model <dir>', 'NER model directory for --task both; default from config')
    .option('-i, --input <file>', 'input file, or - for stdin', '-')
    .option('--batch-size <n>', 'maximum windows per model batch', positiveInt)
    .option(
      '--aggregation <strategy>',
      `NER aggregation: ${AGGREGATION_STRATEGIES.join(' | ')}`,
      aggregationArg,
    )
    .option('--max-length <n>', 'tokens per window including special tokens', positiveInt)
    .option('--stride <n>', 'overlap between windows in tokens', intArg({ min: 0 }))
    .option('--max-windows <n>', 'window limit per document', positiveInt)
    .option('--provider <ep>', 'execution provider: cpu | cuda (falls back to cpu)', (v) => {
      if (v !== 'cpu' && v !== 'cuda') throw new InvalidArgumentError('expected cpu or cuda');
      return v;
    })
    .option(
      '--threads <n>',
      'ONNX Runtime intra-op threads (0 = auto: derived from the cores)',
      intArg({ min: 0, max: 1024 }),
    )
    .addOption(configOption('config file for model, batching and window defaults'))
    .action(inferAction);
}

type Loaded = { infer: InferFn; close: () => Promise<void> };
type Settings = {
  cfg: FinsentryConfig;
  modelsCfg: ModelsConfig;
  batching: BatchingConfig;
  aggregation: AggregationStrategy;
  logger: Logger;
};

async function inferAction(opts: InferOptions): Promise<void> {
  const logger = createLogger(process.env.FINSENTRY_LOG_LEVEL ?? 'warn');
  // --provider picks the provider before the config is resolved, so batching gets its defaults.
  const cfg = loadConfig(
    opts.config,
    opts.provider ? { ...process.env, FINSENTRY_MODELS__EXECUTION_PROVIDER: opts.provider } : process.env,
  );
  if (opts.input !== '-') requireReadableFile(opts.input, '--input');
  const modelsCfg: ModelsConfig = {
    ...cfg.models,
    ...(opts.provider ? { executionProvider: opts.provider } : {}),
    ...(opts.threads !== undefined ? { intraOpThreads: opts.threads } : {}),
    ...(opts.maxLength ? { maxLength: opts.maxLength } : {}),
    ...(opts.stride !== undefined ? { stride: opts.stride } : {}),
    ...(opts.maxWindows ? { maxWindows: opts.maxWindows } : {}),
  };
  const batching = { ...cfg.batching, ...(opts.batchSize ? { maxBatchSize: opts.batchSize } : {}) };
  const aggregation = opts.aggregation ?? cfg.models.ner?.aggregation ?? DEFAULT_NER_AGGREGATION;
  const settings: Settings = { cfg, modelsCfg, batching, aggregation, logger };
  const { infer, close } =
    opts.task === 'ner' ? await loadNer(opts, settings) : await loadEnricher(opts, settings);
  const input = opts.input === '-' ? process.stdin : createReadStream(opts.input);
  const started = performance.now();
  try {
    const summary = await inferStream(input, process.stdout, infer, {
      chunkSize: Math.max(batching.maxBatchSize, 32),
      maxPendingChunks: batching.maxInFlightBatches + 2,
    });
    const seconds = (performance.now() - started) / 1000;
    logger.info({ ...summary, seconds, docsPerSecond: summary.documents / seconds }, 'infer finished');
    if (process.env.FINSENTRY_INFER_STATS) {
      process.stderr.write(
        `${JSON.stringify({ documents: summary.documents, seconds, docsPerSecond: summary.documents / seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
      );
    }
  } finally {
    await close();
  }
}

/** --task ner: the NER model alone. */
async function loadNer(opts: InferOptions, s: Settings): Promise<Loaded> {
  const dir = opts.model ?? s.cfg.models.ner?.path ?? 'models/finsentry-ner';
  // a joint model's token head serves as the NER model
  const kind = (await readModelSpec(dir)).task === 'joint' ? 'joint' : 'ner';
  const runner = await ModelRunner.load(
    dir,
    kind,
    engineOptions(s.modelsCfg, s.batching, { logger: s.logger }),
  );
  const ner = new NerModel(runner, s.aggregation);
  const infer: InferFn = async (requests) => {
    const entities = await ner.predict(
      requests.map((r) => r.text),
      s.cfg.limits.maxEntitiesPerDocument,
    );
    return requests.map((r, i) => ({ id: r.id, entities: entities[i] ?? [], models: [ner.info] }));
  };
  return { infer, close: () => runner.close() };
}

/** --task sentiment | both: the product enricher (with NER for both). */
async function loadEnricher(opts: InferOptions, s: Settings): Promise<Loaded> {
  const { loadRoutedEnricher } = await import('../../inference/model-sets.js');
  const options = { logger: s.logger, maxEntitiesPerDocument: s.cfg.limits.maxEntitiesPerDocument };
  const models = await OnnxEnricher.create(
    {
      ...s.modelsCfg,
      sentiment: { ...s.modelsCfg.sentiment, ...(opts.model ? { path: opts.model } : {}) },
      ner:
        opts.task === 'both'
          ? {
              // a joint --model answers for NER itself unless --ner-model says otherwise
              path:
                opts.nerModel ??
                (opts.model && (await readModelSpec(opts.model)).task === 'joint' ? opts.model : undefined) ??
                s.cfg.models.ner?.path ??
                'models/finsentry-ner',
              aggregation: s.aggregation,
            }
          : null,
    },
    s.batching,
    options,
  );
  // Each language to the model set that reads it (models.sets: Chinese to the joint multilingual
  // model when installed); a text in a language no set reads gets its language and the reason.
  const enricher = await loadRoutedEnricher(models, s.modelsCfg, s.batching, options);
  const infer: InferFn = async (requests) => {
    const results = await enricher.enrich(requests);
    return requests.map((r, i) => {
      const e = results[i];
      if (!e) throw new Error(`no result for ${r.id}`);
      const routing = {
        ...(e.language ? { language: e.language } : {}),
        ...(e.unscored ? { unscored: e.unscored } : {}),
      };
      return opts.task === 'both'
        ? { id: r.id, sentiment: e.sentiment, entities: e.entities, models: e.models, ...routing }
        : { id: r.id, sentiment: e.sentiment, models: e.models, ...routing };
    });
  };
  return { infer, close: () => enricher.close() };
}
