// The committed default models (models/finsentry-sentiment, models/finsentry-ner; issue #4; the joint
// multilingual model models/finsentry-multilingual, issue #15): they load through the same engine as
// the pipeline, their files are the ones models/MANIFEST.json (scripts/dev/model-hashes.mjs) and
// their model cards and metrics.json describe (sha256), and a handful of unambiguous sentences in
// English and Chinese get the expected labels. No training here: this runs on the committed files only.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { ModelRunner, NerModel, SentimentModel } from '../../../src/inference/engine.js';
import { engineOptions, OnnxEnricher } from '../../../src/inference/enricher.js';
import { readModelSpec } from '../../../src/inference/model.js';
import { interpolate, logitTransform, readCalibration } from '../../../src/inference/calibration.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const SENTIMENT_DIR = join(ROOT, 'models', 'finsentry-sentiment');
const NER_DIR = join(ROOT, 'models', 'finsentry-ner');
const MULTILINGUAL_DIR = join(ROOT, 'models', 'finsentry-multilingual');
const JOINT_EN_DIR = join(ROOT, 'models', 'finsentry-joint-en');
const MAX_BYTES = 30 * 1024 * 1024;

// The product's default settings (what `finsentry run` uses without a config file), on the CPU.
const defaults = loadConfig(undefined);
const engine = engineOptions({ ...defaults.models, executionProvider: 'cpu' }, defaults.batching);

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The sha256 the model card states for model_quantized.onnx. */
function cardSha(dir: string): string | undefined {
  const card = readFileSync(join(dir, 'MODEL_CARD.md'), 'utf8');
  return /`model_quantized\.onnx`[^\n]*sha256 `([0-9a-f]{64})`/.exec(card)?.[1];
}

describe.each([
  ['sentiment', SENTIMENT_DIR],
  ['ner', NER_DIR],
] as const)('committed %s model files', (task, dir) => {
  it('has the HF/Optimum layout, fits the size limit and matches its model card and metrics.json', async () => {
    for (const f of [
      'model_quantized.onnx',
      'tokenizer.json',
      'config.json',
      'MODEL_CARD.md',
      'metrics.json',
    ]) {
      expect(existsSync(join(dir, f)), `${dir}/${f}`).toBe(true);
    }
    const onnx = join(dir, 'model_quantized.onnx');
    expect(readFileSync(onnx).length).toBeLessThanOrEqual(MAX_BYTES);
    const digest = sha256(onnx);
    expect(cardSha(dir)).toBe(digest);
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as {
      onnx: { model_quantized_onnx_sha256: string };
    };
    expect(metrics.onnx.model_quantized_onnx_sha256).toBe(digest);
    const spec = await readModelSpec(dir);
    expect(spec.task).toBe(task);
    expect(spec.sha256).toBe(digest);
  });
});

describe('committed sentiment calibration (issue #15 item 5, issue #19 item 3)', () => {
  const calibration = JSON.parse(readFileSync(join(SENTIMENT_DIR, 'calibration.json'), 'utf8')) as {
    method: string;
    temperature: number;
    topLabel: { confidence: number[]; calibrated: number[] };
    eceBefore: number;
    eceAfter: number;
    eceCrossFitted: number;
    bins: number;
  };

  it('is a temperature and top-label map with cross-fitted dev ECE ≤ 0.03, and the model card states the same figures', () => {
    expect(calibration.method).toBe('temperature_top_label');
    expect(calibration.temperature).toBeGreaterThan(0);
    expect(calibration.bins).toBe(15);
    // Issue #19 target, measured 2-fold cross-fitted by training/calibrate_sentiment.py.
    expect(calibration.eceCrossFitted).toBeLessThanOrEqual(0.03);
    expect(calibration.eceAfter).toBeLessThan(calibration.eceBefore);
    const card = readFileSync(join(SENTIMENT_DIR, 'MODEL_CARD.md'), 'utf8');
    expect(card).toContain(`| T | ${calibration.temperature.toFixed(4)} |`);
    expect(card).toContain(`${calibration.eceBefore.toFixed(4)} → ${calibration.eceAfter.toFixed(4)}`);
    expect(card).toContain(`cross-fitted ECE | **${calibration.eceCrossFitted.toFixed(4)}**`);
  });

  it('is applied by the engine: softmax(logits / T) per window, then the top-label map; the label is kept', async () => {
    const runner = await ModelRunner.load(SENTIMENT_DIR, 'sentiment', engine);
    try {
      const model = new SentimentModel(runner);
      expect(model.temperature).toBe(calibration.temperature);
      const text = 'Operating profit rose 25% and the company raised its guidance.';
      const [output] = await runner.infer([text]);
      const calibrated = (await model.predict([text]))[0]!;
      const plain = model.fromLogits(output!, 1);
      const scaled = model.fromLogits(output!, calibration.temperature);
      expect(calibrated.label).toBe(plain.label);
      expect(calibrated.confidence).toBeLessThan(plain.confidence);
      const { confidence: x, calibrated: y } = calibration.topLabel;
      expect(calibrated.confidence).toBeCloseTo(interpolate(x, y, scaled.confidence), 12);
    } finally {
      await runner.close();
    }
  });
  it('refuses a vector calibration fitted for other labels', () => {
    // Vector scaling (training/calibrate_sentiment.py) is read by the engine but not shipped: it
    // changes arg-max labels, and two scenario templates read with it lost their label (docs/inference.md).
    const vector = {
      method: 'vector',
      labels: ['negative', 'neutral', 'positive'],
      scale: [1.1, 0.9, 1],
      bias: [0.1, 0, -0.1],
      temperature: 1,
      bins: 15,
      eceBefore: 0.09,
      eceAfter: 0.03,
    };
    const dir = mkdtempSync(join(tmpdir(), 'finsentry-cal-'));
    writeFileSync(
      join(dir, 'calibration.json'),
      JSON.stringify({ ...vector, labels: ['positive', 'neutral', 'negative'] }),
    );
    const read = readCalibration(dir);
    expect(() => logitTransform(read, ['negative', 'neutral', 'positive'], dir)).toThrow(/do not match/);
    writeFileSync(join(dir, 'calibration.json'), JSON.stringify({ ...vector, bias: [0, 0] }));
    expect(() => readCalibration(dir)).toThrow(/one entry per label/);
  });
});

describe('committed default models give the expected answers', () => {
  let sentimentRunner: ModelRunner;
  let nerRunner: ModelRunner;

  beforeAll(async () => {
    sentimentRunner = await ModelRunner.load(SENTIMENT_DIR, 'sentiment', engine);
    nerRunner = await ModelRunner.load(NER_DIR, 'ner', engine);
  });
  afterAll(async () => {
    await sentimentRunner?.close();
    await nerRunner?.close();
  });

  // docs/inference.md "Batch invariance": activations are quantized per token (training/per_token_quant.py),
  // so a document's logits do not depend on the documents and the padding of its ORT run.
  it('give a document the same logits alone as among batch companions of other lengths (both models)', async () => {
    const texts = [
      'Shares of Apple fell 8% after weak iPhone sales.',
      'The annual general meeting will be held in Helsinki on 5 April.',
      'Net sales increased to EUR 120 million from EUR 95 million a year earlier, and operating profit more than doubled as the company cut costs across its European plants.',
      'Tim Cook met Angela Merkel in Berlin.',
      'Loss.',
      'The board said it would review strategic options, including a sale of the unit, after two quarters of falling orders and a rating downgrade.',
    ];
    for (const runner of [sentimentRunner, nerRunner]) {
      const alone: Awaited<ReturnType<ModelRunner['infer']>> = [];
      for (const text of texts) alone.push(...(await runner.infer([text])));
      const together = await runner.infer(texts);
      // Per window, per graph output: a token model's logits run on over its batch's padding, so
      // compare the window's own positions (the length of the same output scored alone).
      const ownPositions = (d: (typeof together)[number], i: number) =>
        d.logits.map((w, j) => w.map((out, k) => Array.from(out).slice(0, alone[i]!.logits[j]![k]!.length)));
      expect(together.map(ownPositions)).toEqual(
        alone.map((d) => d.logits.map((w) => w.map((out) => Array.from(out)))),
      );
    }
  });

  it('labels obvious financial sentences negative / neutral / positive', async () => {
    const model = new SentimentModel(sentimentRunner);
    const cases: Array<[string, string]> = [
      ['Shares of Apple fell 8% after weak iPhone sales.', 'negative'],
      ['The company reported a net loss and cut its dividend as revenue collapsed.', 'negative'],
      ['Operating profit rose 25% and the company raised its full-year guidance.', 'positive'],
      ['Net sales increased to EUR 120 million from EUR 95 million a year earlier.', 'positive'],
      ['The annual general meeting will be held in Helsinki on 5 April.', 'neutral'],
    ];
    const results = await model.predict(cases.map(([text]) => text));
    results.forEach((r, i) => {
      expect(r.label, cases[i]![0]).toBe(cases[i]![1]);
      const p = r.probabilities;
      expect(p.negative + p.neutral + p.positive).toBeCloseTo(1, 5);
    });
  });

  it('finds PER, PER, LOC in "Tim Cook met Angela Merkel in Berlin." with char offsets', async () => {
    const model = new NerModel(nerRunner, 'simple');
    const text = 'Tim Cook met Angela Merkel in Berlin.';
    const [entities] = await model.predict([text]);
    expect(entities!.map((e) => [e.type, e.text])).toEqual([
      ['PER', 'Tim Cook'],
      ['PER', 'Angela Merkel'],
      ['LOC', 'Berlin'],
    ]);
    for (const e of entities!) expect(text.slice(e.start, e.end)).toBe(e.text);
  });

  it('finds organisations and places in a news sentence', async () => {
    const model = new NerModel(nerRunner, 'simple');
    const text = 'Goldman Sachs upgraded Microsoft after a meeting in London.';
    const [entities] = await model.predict([text]);
    const byText = new Map(entities!.map((e) => [e.text, e.type]));
    expect(byText.get('Goldman Sachs')).toBe('ORG');
    expect(byText.get('London')).toBe('LOC');
  });
});

describe('committed model files match models/MANIFEST.json (node scripts/dev/model-hashes.mjs rewrites it)', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'models', 'MANIFEST.json'), 'utf8')) as {
    models: Record<string, Record<string, { sha256: string; bytes: number }>>;
  };
  /** Files of a model directory but its documentation (*.md), as the script lists them. */
  const files = (dir: string, prefix = ''): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name), `${prefix}${e.name}/`)
        : e.isFile() && !e.name.endsWith('.md')
          ? [`${prefix}${e.name}`]
          : [],
    );

  it.each(['finsentry-sentiment', 'finsentry-ner', 'finsentry-multilingual', 'finsentry-joint-en'])(
    '%s',
    (name) => {
      const expected = manifest.models[name];
      expect(expected, `models/MANIFEST.json has no ${name}`).toBeDefined();
      const dir = join(ROOT, 'models', name);
      expect(files(dir).sort()).toEqual(Object.keys(expected!).sort());
      for (const [file, { sha256: digest, bytes }] of Object.entries(expected!)) {
        expect(statSync(join(dir, file)).size, file).toBe(bytes);
        expect(sha256(join(dir, file)), file).toBe(digest);
      }
    },
  );
});

describe('committed multilingual joint model (Chinese and English, issue #15)', () => {
  let enricher: OnnxEnricher;
  beforeAll(async () => {
    enricher = await OnnxEnricher.createFromDirectory(
      { path: MULTILINGUAL_DIR, aggregation: 'simple', ner: true },
      { ...defaults.models, executionProvider: 'cpu' },
      defaults.batching,
    );
  });
  afterAll(async () => {
    await enricher?.close();
  });

  it('is one graph for both tasks, reads zh and en, and carries a fitted calibration that the engine applies', async () => {
    const spec = enricher.sentiment.runner.spec;
    expect(spec.task).toBe('joint');
    expect(spec.languages).toEqual(expect.arrayContaining(['zh', 'en']));
    const calibration = JSON.parse(readFileSync(join(MULTILINGUAL_DIR, 'calibration.json'), 'utf8')) as {
      method: string;
      temperature: number;
      eceCrossFitted: number;
      fittedOn: string[];
    };
    // Fitted on the engine's logits of the English and Chinese dev splits (training/calibrate_sentiment.py,
    // models calibrate --zh); issue #19's ECE target, cross-fitted.
    expect(calibration.method).toBe('temperature_top_label');
    expect(calibration.fittedOn).toEqual(
      expect.arrayContaining(['zh_translated --split dev (phrasebank rows)']),
    );
    expect(calibration.eceCrossFitted).toBeLessThanOrEqual(0.03);
    expect(enricher.sentiment.temperature).toBe(calibration.temperature);
  });

  it('labels obvious financial sentences in Chinese and English', async () => {
    const cases: Array<[string, string]> = [
      ['公司净利润同比下降60%，股价大跌', 'negative'],
      ['该公司因财务造假被证监会立案调查，股价跌停', 'negative'],
      ['公司净利润同比增长50%，股价大涨', 'positive'],
      ['公司将于4月5日在上海召开年度股东大会', 'neutral'],
      ['Shares of Apple fell 8% after weak iPhone sales.', 'negative'],
      ['Operating profit rose 25% and the company raised its full-year guidance.', 'positive'],
      ['The annual general meeting will be held in Helsinki on 5 April.', 'neutral'],
    ];
    const results = await enricher.enrich(cases.map(([text], i) => ({ id: `s${i}`, text })));
    results.forEach((r, i) => {
      expect(r.sentiment.label, cases[i]![0]).toBe(cases[i]![1]);
      const p = r.sentiment.probabilities;
      expect(p.negative + p.neutral + p.positive).toBeCloseTo(1, 5);
    });
  });

  it('finds organisations and places in Chinese and English, offsets into the text', async () => {
    const texts = [
      // (zh NER is the weakest figure of the card, span F1 0.65 on dev: 杭州 in the same frame is missed)
      '腾讯控股在深圳发布季度财报。',
      'Goldman Sachs upgraded Microsoft after a meeting in London.',
    ];
    const results = await enricher.enrich(texts.map((text, i) => ({ id: `n${i}`, text })));
    const found = results.map((r, i) => {
      for (const e of r.entities) expect(texts[i]!.slice(e.start, e.end)).toBe(e.text);
      return r.entities.map((e) => `${e.type}:${e.text}`);
    });
    expect(found[0]).toEqual(expect.arrayContaining(['ORG:腾讯控股', 'LOC:深圳']));
    expect(found[1]).toEqual(expect.arrayContaining(['ORG:Goldman Sachs', 'LOC:London']));
  });
});

describe('committed English joint model, configured as the primary pair (models/finsentry-joint-en, issues #15/#16)', () => {
  let enricher: OnnxEnricher;
  beforeAll(async () => {
    // The configuration its model card documents: both primary slots name the one directory.
    const config = parseConfig(
      { models: { sentiment: { path: JOINT_EN_DIR }, ner: { path: JOINT_EN_DIR } } },
      {},
    );
    enricher = await OnnxEnricher.create({ ...config.models, executionProvider: 'cpu' }, config.batching);
  });
  afterAll(async () => {
    await enricher?.close();
  });

  it("is one graph and one pass for both tasks, with the pair's tokenizer and its own calibration", () => {
    expect(enricher.joint).toBe(true);
    expect(enricher.sentiment.runner.spec.task).toBe('joint');
    expect(sha256(join(JOINT_EN_DIR, 'tokenizer.json'))).toBe(sha256(join(SENTIMENT_DIR, 'tokenizer.json')));
    expect(cardSha(JOINT_EN_DIR)).toBe(sha256(join(JOINT_EN_DIR, 'model_quantized.onnx')));
    const calibration = JSON.parse(readFileSync(join(JOINT_EN_DIR, 'calibration.json'), 'utf8')) as {
      method: string;
      temperature: number;
      eceCrossFitted: number;
    };
    expect(calibration.method).toBe('temperature_top_label');
    expect(calibration.eceCrossFitted).toBeLessThanOrEqual(0.03);
    expect(enricher.sentiment.temperature).toBe(calibration.temperature);
    expect(statSync(join(JOINT_EN_DIR, 'model_quantized.onnx')).size).toBeLessThan(MAX_BYTES);
  });

  it('labels obvious financial sentences and finds their organisations and places', async () => {
    const cases: Array<[string, string]> = [
      ['Shares of Apple fell 8% after weak iPhone sales.', 'negative'],
      ['Operating profit rose 25% and the company raised its full-year guidance.', 'positive'],
      ['The annual general meeting will be held in Helsinki on 5 April.', 'neutral'],
    ];
    const results = await enricher.enrich(cases.map(([text], i) => ({ id: `s${i}`, text })));
    results.forEach((r, i) => expect(r.sentiment.label, cases[i]![0]).toBe(cases[i]![1]));
    const text = 'Goldman Sachs upgraded Microsoft after a meeting in London.';
    const [ner] = await enricher.enrich([{ id: 'n', text }]);
    for (const e of ner!.entities) expect(text.slice(e.start, e.end)).toBe(e.text);
    expect(ner!.entities.map((e) => `${e.type}:${e.text}`)).toEqual(
      expect.arrayContaining(['ORG:Goldman Sachs', 'LOC:London']),
    );
  });
});
