import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchingConfig, ModelsConfig } from '../../../src/config/schema.js';
import type { BatchStats } from '../../../src/inference/batcher.js';
import { OnnxEnricher } from '../../../src/inference/enricher.js';
import { LabelSetError } from '../../../src/inference/label-set.js';
import { ModelLoadError, readModelSpec } from '../../../src/inference/model.js';
import { ModelSession } from '../../../src/inference/session.js';
import { buildBertModel } from '../../../src/tools/models/synth/bert.js';
import { synthesizeModel } from '../../../src/tools/models/synth/index.js';
import { decodeModel, encodeModel } from '../../../src/tools/models/synth/onnx-proto.js';

let root: string;
let sentimentDir: string;
let nerDir: string;

const models = (over: Partial<ModelsConfig> = {}): ModelsConfig => ({
  sentiment: { path: sentimentDir },
  ner: { path: nerDir, aggregation: 'simple' },
  executionProvider: 'cpu',
  intraOpThreads: 1,
  interOpThreads: 1,
  intraOpSpinning: 'auto',
  inferenceWorkers: 1,
  graphOptimization: 'all',
  allowCpuFallback: true,
  inferenceThread: 'worker',
  maxLength: 64,
  stride: 16,
  maxWindows: 64,
  languages: [],
  sets: [],
  languagePolicy: 'verify',
  ...over,
});
const batching = (over: Partial<BatchingConfig> = {}): BatchingConfig => ({
  maxBatchSize: 16,
  maxBatchTokens: 1024,
  maxPaddingRatio: 0.2,
  maxWait: 2,
  maxInFlightBatches: 2,
  maxQueuedDocuments: 256,
  ...over,
});

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'finsentry-inference-'));
  sentimentDir = join(root, 'sentiment');
  nerDir = join(root, 'ner');
  synthesizeModel({
    task: 'sentiment',
    layers: 2,
    hidden: 64,
    heads: 4,
    vocabSize: 3000,
    seed: 7,
    out: sentimentDir,
  });
  synthesizeModel({
    task: 'ner',
    layers: 2,
    hidden: 64,
    heads: 4,
    vocabFrom: sentimentDir,
    seed: 11,
    out: nerDir,
  });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('models synth', () => {
  it('is deterministic in its arguments and writes the HF layout', () => {
    const a = synthesizeModel({
      task: 'ner',
      layers: 1,
      hidden: 32,
      heads: 2,
      vocabSize: 500,
      seed: 3,
      out: join(root, 'a'),
    });
    const b = synthesizeModel({
      task: 'ner',
      layers: 1,
      hidden: 32,
      heads: 2,
      vocabSize: 500,
      seed: 3,
      out: join(root, 'b'),
    });
    const c = synthesizeModel({
      task: 'ner',
      layers: 1,
      hidden: 32,
      heads: 2,
      vocabSize: 500,
      seed: 4,
      out: join(root, 'c'),
    });
    expect(a.sha256).toBe(b.sha256);
    expect(a.sha256).not.toBe(c.sha256);
    expect(readFileSync(join(root, 'a', 'tokenizer.json'), 'utf8')).toBe(
      readFileSync(join(root, 'b', 'tokenizer.json'), 'utf8'),
    );
    expect(createHash('sha256').update(readFileSync(a.onnxPath)).digest('hex')).toBe(a.sha256);
    const decoded = decodeModel(readFileSync(a.onnxPath));
    expect(decoded.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(decoded.graph.input.map((i) => i.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(decoded.graph.output.map((o) => o.name)).toEqual(['logits']);
    const config = JSON.parse(readFileSync(join(root, 'a', 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config['architectures']).toEqual(['BertForTokenClassification']);
    expect(Object.values(config['id2label'] as object)).toEqual([
      'O',
      'B-PER',
      'I-PER',
      'B-ORG',
      'I-ORG',
      'B-LOC',
      'I-LOC',
      'B-MISC',
      'I-MISC',
    ]);
  });

  it('produces logits of the declared shapes that ONNX Runtime accepts', async () => {
    const spec = await readModelSpec(nerDir);
    const session = await ModelSession.create(
      spec.onnxPath,
      { executionProvider: 'cpu', intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all' },
      0,
    );
    const window = {
      ids: [2, 10, 11, 3],
      typeIds: [0, 0, 0, 0],
      offsets: [],
      specialMask: [1, 0, 0, 1],
      contentStart: 0,
      realTokens: 2,
    };
    const out = await session.run([window, { ...window, ids: [2, 3], typeIds: [0, 0] }]);
    expect(out.dims).toEqual([2, 4, 9]);
    expect(out.data.every((v) => Number.isFinite(v))).toBe(true);
    await session.release();
  });
});

describe('execution providers', () => {
  it('uses CUDA when available, else falls back to CPU with one warning line', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().trim().split('\n'));
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    const spec = await readModelSpec(sentimentDir);
    const session = await ModelSession.create(
      spec.onnxPath,
      { executionProvider: 'cuda', intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'basic' },
      0,
      logger,
    );
    const warnings = lines.filter((l) => l.includes('falling back to CPU'));
    if (session.provider === 'cpu') expect(warnings).toHaveLength(1);
    else expect(warnings).toHaveLength(0);
    const out = await session.run([
      { ids: [2, 3], typeIds: [0, 0], offsets: [], specialMask: [1, 1], contentStart: 0, realTokens: 0 },
    ]);
    expect(out.dims).toEqual([1, 3]);
    await session.release();
  });
});

describe('model loading errors', () => {
  it('names the missing file or the layout problem', async () => {
    await expect(readModelSpec(join(root, 'nope'))).rejects.toThrow(/does not exist/);
    const dir = join(root, 'broken');
    mkdirSync(dir, { recursive: true });
    await expect(readModelSpec(dir)).rejects.toThrow(/config.json is missing/);
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ architectures: ['BertModel'], id2label: { 0: 'a', 1: 'b' } }),
    );
    await expect(readModelSpec(dir)).rejects.toThrow(/tokenizer.json is missing/);
    copyFileSync(join(sentimentDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    await expect(readModelSpec(dir)).rejects.toThrow(/no ONNX file/);
    copyFileSync(join(sentimentDir, 'model.onnx'), join(dir, 'model_quantized.onnx'));
    await expect(readModelSpec(dir)).rejects.toThrow(/cannot tell the task/);
    await expect(readModelSpec(nerDir, 'sentiment')).rejects.toThrow(ModelLoadError);
  });

  it('rejects an unknown sentiment label set unless a labelMap maps it', async () => {
    const dir = join(root, 'labels');
    synthesizeModel({
      task: 'sentiment',
      layers: 1,
      hidden: 32,
      heads: 2,
      vocabFrom: sentimentDir,
      seed: 5,
      out: dir,
    });
    const configPath = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    config['id2label'] = { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' };
    writeFileSync(configPath, JSON.stringify(config));
    await expect(
      OnnxEnricher.create(models({ sentiment: { path: dir }, ner: null }), batching()),
    ).rejects.toThrow(LabelSetError);
    const enricher = await OnnxEnricher.create(
      models({
        sentiment: { path: dir, labelMap: { LABEL_0: 'negative', LABEL_1: 'neutral', LABEL_2: 'positive' } },
        ner: null,
      }),
      batching(),
    );
    expect(enricher.models.map((m) => m.task)).toEqual(['sentiment']);
    await enricher.close();
  });

  it('rejects a model whose inputs do not match the BERT signature', async () => {
    const dir = join(root, 'signature');
    synthesizeModel({
      task: 'sentiment',
      layers: 1,
      hidden: 32,
      heads: 2,
      vocabFrom: sentimentDir,
      seed: 5,
      out: dir,
    });
    const message = buildBertModel(
      {
        vocabSize: 100,
        hidden: 32,
        layers: 1,
        heads: 2,
        intermediate: 64,
        maxPositions: 64,
        typeVocabSize: 2,
        numLabels: 3,
        task: 'sentiment',
        pooler: false,
      },
      1,
      'test',
    );
    const rename = (name: string) => (name === 'input_ids' ? 'ids' : name);
    message.graph.input = message.graph.input.map((i) => ({ ...i, name: rename(i.name) }));
    message.graph.node = message.graph.node.map((n) => ({ ...n, input: n.input.map(rename) }));
    writeFileSync(join(dir, 'model.onnx'), encodeModel(message));
    await expect(
      OnnxEnricher.create(models({ sentiment: { path: dir }, ner: null }), batching()),
    ).rejects.toThrow(/input signature mismatch.*missing input_ids/);
  });
});

describe('OnnxEnricher', () => {
  let enricher: OnnxEnricher;
  const stats: Array<{ task: string; stats: BatchStats }> = [];

  beforeAll(async () => {
    enricher = await OnnxEnricher.create(models(), batching(), {
      onBatch: (task, s) => stats.push({ task, stats: s }),
    });
  });
  afterAll(async () => {
    await enricher.close();
  });

  it('enriches documents in request order with sentiment, entities and model versions', async () => {
    const texts = [
      'Apple shares rose after the earnings beat 🚀',
      '',
      'Goldman Sachs downgraded Tesla in New York; the stock fell 8%.',
    ];
    const out = await enricher.enrich(texts.map((text, i) => ({ id: String(i), text })));
    expect(out).toHaveLength(3);
    const sha = createHash('sha256')
      .update(readFileSync(join(sentimentDir, 'model.onnx')))
      .digest('hex');
    for (const [i, e] of out.entries()) {
      const p = e.sentiment.probabilities;
      expect(p.negative + p.neutral + p.positive).toBeCloseTo(1, 6);
      expect(e.sentiment.polarity).toBeCloseTo(p.positive - p.negative, 12);
      expect(e.sentiment.confidence).toBe(Math.max(p.negative, p.neutral, p.positive));
      expect(e.sentiment.windows).toBe(1);
      expect(e.models.map((m) => m.task)).toEqual(['sentiment', 'ner']);
      expect(e.models[0]?.sha256).toBe(sha);
      for (const entity of e.entities)
        expect(entity.text).toBe((texts[i] ?? '').slice(entity.start, entity.end));
    }
    expect(out[1]?.sentiment.tokens).toBe(0);
    expect(out[0]?.sentiment.unknownTokens).toBe(1);
    // results do not depend on batch company (padding is masked out)
    const alone = await enricher.enrich([{ id: 'x', text: texts[2] ?? '' }]);
    expect(alone[0]?.sentiment.probabilities.negative).toBeCloseTo(
      out[2]?.sentiment.probabilities.negative ?? NaN,
      5,
    );
    expect(alone[0]?.entities.map((e) => [e.type, e.start, e.end])).toEqual(
      out[2]?.entities.map((e) => [e.type, e.start, e.end]),
    );
  });

  it('tokenizes a document once for both models when their tokenizer.json files are identical; same results', async () => {
    expect(readFileSync(join(nerDir, 'tokenizer.json'))).toEqual(
      readFileSync(join(sentimentDir, 'tokenizer.json')),
    );
    expect(enricher.sharedTokenizer).toBe(true);
    const twice = await OnnxEnricher.create(models(), batching(), { shareTokenizer: false });
    try {
      expect(twice.sharedTokenizer).toBe(false);
      const reqs = ['Tesla cut prices in Berlin.', 'x '.repeat(300), 'Deutsche Bank beat estimates'].map(
        (text, i) => ({ id: String(i), text }),
      );
      const [a, b] = await Promise.all([enricher.enrich(reqs), twice.enrich(reqs)]);
      expect(a.map((e) => e.entities)).toEqual(b.map((e) => e.entities));
      a.forEach((e, i) =>
        expect(e.sentiment.probabilities.negative).toBeCloseTo(b[i]!.sentiment.probabilities.negative, 5),
      );
    } finally {
      await twice.close();
    }
  });

  it('batches windows of concurrent calls together within the token budget', async () => {
    stats.length = 0;
    const texts = Array.from(
      { length: 40 },
      (_, i) => `Report ${i}: ${'bank profit rose '.repeat(1 + (i % 7))}`,
    );
    await Promise.all([
      enricher.enrich(texts.slice(0, 20).map((text, i) => ({ id: `${i}`, text }))),
      enricher.enrich(texts.slice(20).map((text, i) => ({ id: `${i}`, text }))),
    ]);
    const sentimentBatches = stats.filter((s) => s.task === 'sentiment').map((s) => s.stats);
    expect(sentimentBatches.reduce((n, s) => n + s.size, 0)).toBe(40);
    expect(sentimentBatches.length).toBeLessThan(40);
    for (const s of sentimentBatches) {
      expect(s.paddedTokens).toBeLessThanOrEqual(1024);
      expect(s.size).toBeLessThanOrEqual(16);
      expect(s.realTokens).toBeLessThanOrEqual(s.paddedTokens);
    }
  });

  it('covers a text of more than 2,000 tokens with windows and finds an entity planted at its very end', async () => {
    // Find a word this random model tags as an entity regardless of its position among filler text.
    const filler = 'the market said that the bank and the group will trade today . ';
    const candidates = [
      'goldman',
      'nvidia',
      'barclays',
      'microsoft',
      'tokyo',
      'london',
      'tesla',
      'hsbc',
      'citi',
      'amazon',
      'paris',
      'berlin',
      'apple',
      'meta',
      'google',
      'morgan',
      'sachs',
      'jpmorgan',
      'europe',
      'china',
    ];
    let planted: string | undefined;
    for (const word of candidates) {
      const contexts = [word, `${filler}${word}`, `${filler.repeat(3)}${word}`];
      const found = await enricher.ner?.predictRaw(contexts);
      const hit = found?.every((entities, k) => entities.some((e) => e.end === (contexts[k] ?? '').length));
      if (hit) {
        planted = word;
        break;
      }
    }
    expect(planted, 'no candidate word is tagged as an entity by the synthetic NER model').toBeDefined();
    const text = `${filler.repeat(170)}${planted}`;
    const [result] = await enricher.enrich([{ id: 'long', text }]);
    expect(result?.sentiment.tokens).toBeGreaterThan(2000);
    expect(result?.sentiment.windows).toBe(Math.ceil((result!.sentiment.tokens - 16) / (64 - 2 - 16)));
    expect(result?.sentiment.truncated).toBe(false);
    const last = result?.entities.find((e) => e.end === text.length);
    expect(last?.text).toBe(planted);
    // entities from overlapping windows are not duplicated
    const spans = result?.entities.map((e) => `${e.start}:${e.end}`) ?? [];
    expect(new Set(spans).size).toBe(spans.length);
    for (let i = 1; i < (result?.entities.length ?? 0); i++) {
      expect(result!.entities[i]!.start).toBeGreaterThanOrEqual(result!.entities[i - 1]!.end);
    }
  });

  it('reports truncation when the window limit is reached', async () => {
    const limited = await OnnxEnricher.create(models({ maxWindows: 2, ner: null }), batching());
    const [r] = await limited.enrich([{ id: 'x', text: 'bank profit rose '.repeat(200) }]);
    expect(r?.sentiment.windows).toBe(2);
    expect(r?.sentiment.truncated).toBe(true);
    expect(r?.entities).toEqual([]);
    await limited.close();
  });
});
