import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/load.js';
import { engineOptions } from '../../inference/enricher.js';
import { ModelRunner, NerModel, SentimentModel, type EngineOptions } from '../../inference/engine.js';
import {
  isHashDev,
  parseConll,
  parseZhNerDev,
  parseSentimentData,
  parseZhSentimentDev,
  readFile,
} from '../../tools/models/eval/datasets.js';
import { evaluateNer, evaluateSentiment, evaluateSpans } from '../../tools/models/eval/evaluate.js';
import { pullModel } from '../../tools/models/hub.js';
import { calibrate, collectLogits, dumpedLogits, evaluateCalibration } from '../../tools/models/calibrate.js';
import { CALIBRATION_FILE } from '../../inference/calibration.js';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelSpec, type ModelKind, type ModelTask } from '../../inference/model.js';
import { AGGREGATION_STRATEGIES, type AggregationStrategy } from '../../inference/ner.js';
import { synthesizeModel } from '../../tools/models/synth/index.js';
import { createLogger } from '../../telemetry/logger.js';
import { aggregationArg } from '../options.js';

const int =
  (min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
    return n;
  };
const fmt = (x: number): string => x.toFixed(4);

const SMOKE_TEXT = 'Apple Inc. shares rose 3% after Goldman Sachs upgraded the stock in New York.';

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('Model management: verify, synth, pull, eval');
  registerVerify(models);
  registerSynth(models);
  registerPull(models);
  registerEval(models);
  registerCalibrate(models);
}

interface CalibrateOptions {
  model: string;
  phrasebank: string;
  twitter: string;
  zh?: string;
  chunk: number;
  dumpLogits?: string;
  evaluate?: boolean;
}

function registerCalibrate(models: Command): void {
  models
    .command('calibrate')
    .description(
      `Fit temperature scaling of a sentiment model on the dev splits and write ${CALIBRATION_FILE} into its directory`,
    )
    .requiredOption('--model <dir>', 'sentiment model directory')
    .requiredOption('--phrasebank <file>', 'PhraseBank dev TSV (financial_phrasebank/dev.tsv)')
    .requiredOption('--twitter <file>', 'Twitter Financial News train.csv (its hash-split dev part is used)')
    .option(
      '--zh <dir>',
      'zh_translated directory: its Chinese sentiment rows in the dev split join the sets (multilingual models)',
    )
    .option('--chunk <n>', 'chunk size for the estimator error on the Twitter dev part', int(20), 200)
    .option(
      '--dump-logits <file>',
      'write the window logits of the dev sets to <file> for training/calibrate_sentiment.py (vector scaling, top-label map) instead of fitting a temperature',
    )
    .option(
      '--evaluate',
      `measure the model's own ${CALIBRATION_FILE} as the engine applies it (ECE, NLL, accuracy per dev set) instead of fitting`,
    )
    .action(async (opts: CalibrateOptions) => {
      const cfg = loadConfig(undefined);
      const engine = engineOptions(cfg.models, cfg.batching, { logger: createLogger('warn') });
      const runner = await ModelRunner.load(opts.model, await taskOrJoint(opts.model, 'sentiment'), engine);
      try {
        const model = new SentimentModel(runner, cfg.models.sentiment.labelMap);
        const phrasebank = parseSentimentData(readFile(opts.phrasebank), opts.phrasebank);
        const twitter = parseSentimentData(readFile(opts.twitter), opts.twitter).filter((e) =>
          isHashDev(e.text),
        );
        const sets = [
          { name: 'financial_phrasebank/dev.tsv', data: await collectLogits(model, phrasebank) },
          { name: 'twitter_financial_news/train.csv --split dev', data: await collectLogits(model, twitter) },
          ...(opts.zh ? await zhSets(model, opts.zh) : []),
        ];
        if (opts.dumpLogits) {
          writeFileSync(opts.dumpLogits, JSON.stringify(dumpedLogits(runner, sets)));
          return;
        }
        if (opts.evaluate) {
          const all = { name: 'both', data: sets.flatMap((s) => s.data) };
          const checks = [...sets, all].map((s) => ({ data: s.name, ...evaluateCalibration(model, s.data) }));
          process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
          return;
        }
        const report = calibrate(model, { sets, chunkSize: opts.chunk });
        writeFileSync(join(opts.model, CALIBRATION_FILE), `${JSON.stringify(report, null, 2)}\n`);
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } finally {
        await runner.close();
      }
    });
}

/** The Chinese dev rows as two sets, PhraseBank and Twitter renderings (news and chat). */
async function zhSets(model: SentimentModel, dir: string) {
  const rows = readdirSync(dir)
    .filter((f) => /^train-\d+\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => parseZhSentimentDev(readFile(join(dir, f))));
  if (rows.length === 0)
    throw new Error(`${dir}: no Chinese sentiment rows in the dev split (train-*.jsonl)`);
  const sets = [];
  // One after the other, so that batches are the same every run: with dynamic int8 quantization a
  // text's logits depend on the texts it shares a batch with (up to 0.85 apart when two sets interleaved).
  for (const origin of ['phrasebank', 'twitter'] as const)
    sets.push({
      name: `zh_translated --split dev (${origin} rows)`,
      data: await collectLogits(
        model,
        rows.filter((r) => r.origin === origin),
      ),
    });
  return sets;
}

function registerVerify(models: Command): void {
  models
    .command('verify')
    .argument('<dir>', 'model directory (HF / Optimum layout)')
    .option('--json', 'print JSON')
    .option('--provider <ep>', 'cpu | cuda', 'cpu')
    .description('Load a model, print task, labels, input/output signature, sha256, and run a smoke input')
    .action(verifyModel);
}

/** `models verify`: load, describe and smoke-test one model directory. */
async function verifyModel(dir: string, opts: { json?: boolean; provider: 'cpu' | 'cuda' }): Promise<void> {
  const cfg = loadConfig(undefined);
  const spec = await readModelSpec(dir);
  const engine = engineOptions({ ...cfg.models, executionProvider: opts.provider }, cfg.batching, {
    logger: createLogger('warn'),
  });
  const runner = await ModelRunner.load(dir, spec.task, engine);
  try {
    const sentiment = async () =>
      (await new SentimentModel(runner, cfg.models.sentiment.labelMap).predict([SMOKE_TEXT]))[0];
    const ner = async () => (await new NerModel(runner, 'simple').predict([SMOKE_TEXT]))[0];
    const smoke =
      spec.task === 'joint'
        ? { sentiment: await sentiment(), entities: await ner() }
        : spec.task === 'sentiment'
          ? await sentiment()
          : await ner();
    const signature = (values: typeof runner.session.inputMetadata) =>
      values.map((v) => (v.isTensor ? { name: v.name, type: v.type, shape: v.shape } : { name: v.name }));
    const report = {
      dir: spec.dir,
      task: spec.task,
      name: spec.name,
      version: spec.version,
      onnx: spec.onnxPath,
      sha256: spec.sha256,
      labels: spec.id2label,
      provider: runner.session.provider,
      inputs: signature(runner.session.inputMetadata),
      outputs: signature(runner.session.outputMetadata),
      smoke: { text: SMOKE_TEXT, result: smoke },
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const lines = [
        `model     ${report.name} ${report.version}`,
        `task      ${report.task}`,
        `onnx      ${report.onnx}`,
        `sha256    ${report.sha256}`,
        `labels    ${report.labels.join(', ')}`,
        `provider  ${report.provider}`,
        ...report.inputs.map((i) => `input     ${JSON.stringify(i)}`),
        ...report.outputs.map((o) => `output    ${JSON.stringify(o)}`),
        `smoke     ${JSON.stringify(report.smoke.result)}`,
        'OK',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  } finally {
    await runner.close();
  }
}

function registerSynth(models: Command): void {
  models
    .command('synth')
    .description(
      'Write a BERT-architecture ONNX classifier with seeded random weights (HF layout), for tests and benchmarks',
    )
    .requiredOption('--task <task>', 'sentiment | ner', (v) => {
      if (v !== 'sentiment' && v !== 'ner') throw new InvalidArgumentError('expected sentiment or ner');
      return v;
    })
    .option('--layers <n>', 'transformer layers', int(0), 2)
    .option('--hidden <n>', 'hidden size', int(1), 64)
    .option('--heads <n>', 'attention heads', int(1), 4)
    .option('--intermediate <n>', 'FFN size (default 4 × hidden)', int(1))
    .option('--vocab-from <dir>', "copy this model's tokenizer.json")
    .option('--vocab-size <n>', 'generate a WordPiece tokenizer of this size', int(300))
    .option('--max-positions <n>', 'position embeddings', int(8), 512)
    .option('--seed <n>', 'PRNG seed', int(0), 1)
    .requiredOption('--out <dir>', 'output directory')
    .action(
      (opts: {
        task: 'sentiment' | 'ner';
        layers: number;
        hidden: number;
        heads: number;
        intermediate?: number;
        vocabFrom?: string;
        vocabSize?: number;
        maxPositions: number;
        seed: number;
        out: string;
      }) => {
        if (opts.vocabFrom && opts.vocabSize)
          throw new InvalidArgumentError('give --vocab-from or --vocab-size, not both');
        const result = synthesizeModel({
          task: opts.task,
          layers: opts.layers,
          hidden: opts.hidden,
          heads: opts.heads,
          seed: opts.seed,
          out: opts.out,
          maxPositions: opts.maxPositions,
          ...(opts.intermediate ? { intermediate: opts.intermediate } : {}),
          ...(opts.vocabFrom ? { vocabFrom: opts.vocabFrom } : {}),
          ...(opts.vocabSize ? { vocabSize: opts.vocabSize } : {}),
        });
        process.stdout.write(
          `${JSON.stringify({ ...result, megabytes: Number((result.bytes / 1e6).toFixed(1)) })}\n`,
        );
      },
    );
}

function registerPull(models: Command): void {
  models
    .command('pull')
    .argument('<repo>', 'Hugging Face repo id, e.g. owner/name')
    .requiredOption('--out <dir>', 'output model directory')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--endpoint <url>', 'Hub endpoint (default HF_ENDPOINT or https://huggingface.co)')
    .option('--cache <dir>', 'blob cache (default FINSENTRY_HUB_CACHE or ~/.cache/finsentry/hub)')
    .description(
      'Download config.json, tokenizer.json and the ONNX export of a Hub model, verifying sha256 / git etags',
    )
    .action(
      async (repo: string, opts: { out: string; revision: string; endpoint?: string; cache?: string }) => {
        const result = await pullModel({
          repo,
          out: opts.out,
          revision: opts.revision,
          ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
          ...(opts.cache ? { cache: opts.cache } : {}),
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      },
    );
}

interface EvalOptions {
  task: string;
  model: string;
  data: string;
  agreement?: number;
  split?: 'dev' | 'train';
  aggregation: AggregationStrategy;
  casePrior: boolean;
  limit?: number;
  json?: boolean;
}

/** The zh_translated JSONL files named by `--data` (the directory or a file in it), else undefined. */
function zhTranslatedFiles(data: string): string[] | undefined {
  if (statSync(data).isDirectory())
    return readdirSync(data)
      .filter((f) => /^train-\d+\.jsonl$/.test(f))
      .sort()
      .map((f) => join(data, f));
  return data.endsWith('.jsonl') ? [data] : undefined;
}

function registerEval(models: Command): void {
  models
    .command('eval')
    .description(
      'Evaluate a model: sentiment accuracy / macro-F1 / confusion (TSV or CSV), NER span P/R/F1 (CoNLL)',
    )
    .requiredOption('--task <task>', 'sentiment | ner')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption(
      '--data <file>',
      'TSV (sentence, label, agreement), CSV (text, label 0/1/2), CoNLL file, or zh_translated (its Chinese NER dev rows)',
    )
    .option(
      '--agreement <pct>',
      'PhraseBank: keep only sentences with at least this annotator agreement',
      (v) => Number(v),
    )
    .option(
      '--split <part>',
      'keep only the hash-split dev or train part (training/common.py: sha256(text) % 100 < 10 is dev)',
      (v) => {
        if (v !== 'dev' && v !== 'train') throw new InvalidArgumentError('--split must be dev or train');
        return v;
      },
    )
    .option(
      '--aggregation <strategy>',
      `NER aggregation: ${AGGREGATION_STRATEGIES.join(' | ')}`,
      aggregationArg,
      'simple',
    )
    .option('--no-case-prior', "NER viterbi: leave out the model's case-prior.json (to measure what it adds)")
    .option('--limit <n>', 'evaluate only the first n examples', int(1))
    .option('--json', 'print JSON')
    .action(async (opts: EvalOptions) => {
      const cfg = loadConfig(undefined);
      const engine = engineOptions(cfg.models, cfg.batching, { logger: createLogger('warn') });
      if (opts.task === 'sentiment') await evalSentiment(opts, engine, cfg.models.sentiment.labelMap);
      else if (opts.task === 'ner') await evalNer(opts, engine);
      else throw new InvalidArgumentError('--task must be sentiment or ner');
    });
}

/** A joint model directory is evaluated on the head of the task asked for. */
async function taskOrJoint(dir: string, task: ModelTask): Promise<ModelKind> {
  return (await readModelSpec(dir)).task === 'joint' ? 'joint' : task;
}

async function evalSentiment(
  opts: EvalOptions,
  engine: EngineOptions,
  labelMap: ConstructorParameters<typeof SentimentModel>[1],
): Promise<void> {
  let examples = parseSentimentData(readFile(opts.data), opts.data);
  if (opts.agreement !== undefined)
    examples = examples.filter((e) => (e.agreement ?? 0) >= (opts.agreement ?? 0));
  if (opts.split !== undefined)
    examples = examples.filter((e) => isHashDev(e.text) === (opts.split === 'dev'));
  if (opts.limit) examples = examples.slice(0, opts.limit);
  const runner = await ModelRunner.load(opts.model, await taskOrJoint(opts.model, 'sentiment'), engine);
  try {
    const model = new SentimentModel(runner, labelMap);
    const report = await evaluateSentiment(model, examples);
    if (opts.json)
      process.stdout.write(`${JSON.stringify({ model: model.info, data: opts.data, ...report }, null, 2)}\n`);
    else {
      const out = [
        `n=${report.n} accuracy=${fmt(report.accuracy)} macroF1=${fmt(report.macroF1)}`,
        'label      precision recall f1     support',
      ];
      for (const l of report.labels) {
        const s = report.perClass[l];
        if (s) out.push(`${l.padEnd(10)} ${fmt(s.precision)}    ${fmt(s.recall)} ${fmt(s.f1)} ${s.support}`);
      }
      out.push(`confusion (rows true, columns predicted: ${report.labels.join(', ')})`);
      for (const [i, row] of report.confusion.entries())
        out.push(`${(report.labels[i] ?? '').padEnd(10)} ${row.join('\t')}`);
      process.stdout.write(`${out.join('\n')}\n`);
    }
  } finally {
    await runner.close();
  }
}

/**
 * CoNLL files are scored on words (seqeval); zh_translated (its directory, or one of its train-*.jsonl)
 * on exact character spans of the Chinese NER rows in the dev split, as training/eval_joint.py does.
 */
async function evalNer(opts: EvalOptions, engine: EngineOptions): Promise<void> {
  const zh = zhTranslatedFiles(opts.data);
  let sentences = zh ? [] : parseConll(readFile(opts.data));
  let spans = zh ? zh.flatMap((f) => parseZhNerDev(readFile(f))) : [];
  if (opts.limit) {
    sentences = sentences.slice(0, opts.limit);
    spans = spans.slice(0, opts.limit);
  }
  const runner = await ModelRunner.load(opts.model, await taskOrJoint(opts.model, 'ner'), engine);
  try {
    const model = new NerModel(runner, opts.aggregation, { casePrior: opts.casePrior });
    const report = zh ? await evaluateSpans(model, spans) : await evaluateNer(model, sentences);
    const count = zh ? spans.length : sentences.length;
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify({ model: model.info, data: opts.data, sentences: count, ...report }, null, 2)}\n`,
      );
    else {
      const out = [
        `sentences=${count} micro P=${fmt(report.micro.precision)} R=${fmt(report.micro.recall)} F1=${fmt(report.micro.f1)} macroF1=${fmt(report.macroF1)}`,
      ];
      for (const [type, s] of Object.entries(report.perType))
        out.push(
          `${type.padEnd(6)} P=${fmt(s.precision)} R=${fmt(s.recall)} F1=${fmt(s.f1)} support=${s.support}`,
        );
      process.stdout.write(`${out.join('\n')}\n`);
    }
  } finally {
    await runner.close();
  }
}
