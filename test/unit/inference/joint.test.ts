// Joint models (issue #15 item 3): one encoder, a sentence head and a token head in one ONNX graph.
// The engine tokenizes once and runs once per window batch for both tasks, applies the model's
// calibration to the sentiment head and says which model answered for which task; language routing
// hands each language to the model set that reads it (docs/inference.md "Joint models", "Model
// sets"). Runs on models/finsentry-multilingual (its predictions are not judged here: that is
// test/unit/inference/model-defaults.test.ts) and on the committed English pair.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { ModelsConfig } from '../../../src/config/schema.js';
import type { BatchStats } from '../../../src/inference/batcher.js';
import { ModelRunner, NerModel } from '../../../src/inference/engine.js';
import { engineOptions, OnnxEnricher } from '../../../src/inference/enricher.js';
import { loadRoutedEnricher } from '../../../src/inference/model-sets.js';
import { readModelSpec, type ModelKind } from '../../../src/inference/model.js';
import { decodeEntities } from '../../../src/inference/ner.js';
import { DocumentTokenizer } from '../../../src/inference/tokenize.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const DIR = join(ROOT, 'models', 'finsentry-multilingual');
const NER_LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC'];

const defaults = parseConfig({ models: { executionProvider: 'cpu', intraOpThreads: 1 } }, {});
const models: ModelsConfig = {
  ...defaults.models,
  sentiment: { path: join(ROOT, 'models', 'finsentry-sentiment') },
  ner: { path: join(ROOT, 'models', 'finsentry-ner'), aggregation: 'simple' },
  sets: [{ name: 'multilingual', path: DIR, languages: ['zh'], aggregation: 'simple', optional: false }],
};
const batching = { ...defaults.batching, maxBatchSize: 16, maxBatchTokens: 4096 };

const TEXTS = [
  '贵州茅台2024年净利润同比大增15%，宣布特别分红',
  'Shares of Apple Inc. rose 5% after record iPhone sales.',
  '宁德时代股价暴跌，市值一日蒸发千亿元',
];

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'finsentry-joint-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The model directory with config.json edited and extra files (the large files linked, not copied). */
function variant(
  name: string,
  edit: (c: Record<string, unknown>) => void,
  extra: Record<string, string> = {},
): string {
  const out = join(root, name);
  mkdirSync(out);
  for (const f of ['model_quantized.onnx', 'tokenizer.json']) symlinkSync(join(DIR, f), join(out, f));
  const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(join(out, 'config.json'), JSON.stringify(config));
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(out, f), text);
  return out;
}

/** Counts the windows each kind of model ran (a window run twice would count twice). */
function windowCounter(): {
  windows: Map<ModelKind, number>;
  onBatch: (task: ModelKind, s: BatchStats) => void;
} {
  const windows = new Map<ModelKind, number>();
  return { windows, onBatch: (task, s) => windows.set(task, (windows.get(task) ?? 0) + s.size) };
}

describe('a joint model directory', () => {
  it('is read as two heads on one graph, with the languages it was trained on', async () => {
    const spec = await readModelSpec(DIR);
    expect(spec.task).toBe('joint');
    expect(spec.heads.map((h) => [h.task, h.output, h.id2label.length])).toEqual([
      ['sentiment', 'sentiment_logits', 3],
      ['ner', 'ner_logits', 9],
    ]);
    expect(spec.heads[1]!.id2label).toEqual(NER_LABELS);
    expect(spec.languages).toEqual(expect.arrayContaining(['zh', 'en']));
    expect(spec.padTokenId).toBe(1);
  });

  it("is refused, naming the field, when config.json lacks an output name or a head's labels", async () => {
    const noOutputs = variant('no-outputs', (c) => {
      delete c['finsentry_outputs'];
    });
    await expect(readModelSpec(noOutputs)).rejects.toThrow(
      /needs finsentry_outputs.sentiment \(the ONNX output name\)/,
    );
    const noLabels = variant('no-ner-labels', (c) => {
      delete c['ner_id2label'];
    });
    await expect(readModelSpec(noLabels)).rejects.toThrow(/config.json: no ner_id2label object/);
    const badLanguages = variant('bad-languages', (c) => {
      c['finsentry_languages'] = 'zh';
    });
    await expect(readModelSpec(badLanguages)).rejects.toThrow(/finsentry_languages must be a list/);
  });

  it('is refused when config.json names an output the graph does not have', async () => {
    const dir = variant('bad-output', (c) => {
      c['finsentry_outputs'] = { sentiment: 'sentiment_logits', ner: 'token_logits' };
    });
    await expect(ModelRunner.load(dir, 'joint', engineOptions(models, batching))).rejects.toThrow(
      /names output\(s\) token_logits the graph does not have \(outputs: sentiment_logits, ner_logits\)/,
    );
  });
});

describe('the joint engine', () => {
  // docs/inference.md "Batch invariance": the joint graphs quantize activations per token and attend
  // in fp32 (training/per_token_quant.py turns each fused QAttention, whose input scale is one per
  // run, into an int8 QKV projection and MultiHeadAttention). Alone vs among companions of other
  // lengths, a document gets the same labels and logits within float rounding (the old graphs: up
  // to 1.95 apart in a logit, 7 of 120 PhraseBank sentences labelled differently).
  it.each([
    ['finsentry-multilingual', DIR],
    ['finsentry-joint-en', join(ROOT, 'models', 'finsentry-joint-en')],
  ])('%s scores a document the same alone as in a batch', async (_name, dir) => {
    const texts = [
      ...TEXTS,
      'Loss.',
      'The board said it would review strategic options, including a sale of the unit, after two quarters of falling orders.',
      'Tim Cook met Angela Merkel in Berlin.',
    ];
    const runner = await ModelRunner.load(dir, 'joint', engineOptions(models, batching));
    try {
      const alone: Awaited<ReturnType<ModelRunner['infer']>> = [];
      for (const text of texts) alone.push(...(await runner.infer([text])));
      const together = await runner.infer(texts);
      together.forEach((doc, i) =>
        doc.logits.forEach((window, j) =>
          window.forEach((out, k) => {
            const own = Array.from(alone[i]!.logits[j]![k]!);
            const batched = Array.from(out).slice(0, own.length);
            const width = k === 0 ? 3 : NER_LABELS.length;
            expect(argmaxes(batched, width)).toEqual(argmaxes(own, width));
            expect(Math.max(...batched.map((v, n) => Math.abs(v - own[n]!)))).toBeLessThan(1e-4);
          }),
        ),
      );
    } finally {
      await runner.close();
    }
  });

  it('tokenizes once and runs each window once for both tasks, as the two decoders would separately', async () => {
    const counter = windowCounter();
    const enricher = await OnnxEnricher.createFromDirectory(
      { path: DIR, aggregation: 'simple', ner: true },
      models,
      batching,
      { onBatch: counter.onBatch },
    );
    try {
      expect(enricher.joint).toBe(true);
      const spec = enricher.sentiment.runner.spec;
      // which model answered for what: the same file for both tasks
      expect(enricher.models).toEqual([
        { task: 'sentiment', name: 'finsentry-multilingual', version: spec.version, sha256: spec.sha256 },
        { task: 'ner', name: 'finsentry-multilingual', version: spec.version, sha256: spec.sha256 },
      ]);
      const results = await enricher.enrich(TEXTS.map((text, i) => ({ id: `d${i}`, text })));
      const windows = results.reduce((n, r) => n + r.sentiment.windows, 0);
      expect(windows).toBe(TEXTS.length);
      expect(counter.windows.get('joint')).toBe(windows); // one run per window for both heads

      // the same answers as running each head's decoder on its own pass
      const alone = await enricher.sentiment.predict(TEXTS);
      const entities = await new NerModel(enricher.sentiment.runner, 'simple').predict(TEXTS);
      expect(counter.windows.get('joint')).toBe(3 * windows);
      results.forEach((r, i) => {
        expect(r.sentiment.label).toBe(alone[i]!.label);
        expect(r.sentiment.probabilities.positive).toBeCloseTo(alone[i]!.probabilities.positive, 5);
        expect(r.entities).toEqual(entities[i]);
        for (const e of r.entities) expect(TEXTS[i]!.slice(e.start, e.end)).toBe(e.text);
      });
    } finally {
      await enricher.close();
    }
  });

  it("applies the model's calibration temperature to the sentiment head", async () => {
    const temperature = 2.5;
    const calibration = {
      method: 'temperature',
      temperature,
      fittedOn: ['test'],
      eceBefore: 0.1,
      eceAfter: 0.02,
      bins: 15,
    };
    const dir = variant('calibrated', () => undefined, { 'calibration.json': JSON.stringify(calibration) });
    const enricher = await OnnxEnricher.createFromDirectory(
      { path: dir, aggregation: 'simple', ner: true },
      models,
      batching,
    );
    try {
      expect(enricher.sentiment.temperature).toBe(temperature);
      const [scored] = await enricher.enrich([{ id: 'a', text: TEXTS[0]! }]);
      const [output] = await enricher.sentiment.runner.infer([TEXTS[0]!]);
      const calibrated = enricher.sentiment.fromLogits(output!, temperature);
      const plain = enricher.sentiment.fromLogits(output!, 1);
      expect(scored!.sentiment.probabilities.negative).toBeCloseTo(calibrated.probabilities.negative, 6);
      expect(scored!.sentiment.probabilities.positive).toBeCloseTo(calibrated.probabilities.positive, 6);
      expect(calibrated.confidence).toBeLessThan(plain.confidence);
    } finally {
      await enricher.close();
    }
  });
});

describe('a joint model in the place of the sentiment/ner pair', () => {
  it('answers for both tasks when models.ner names the same directory, and refuses another NER model beside it', async () => {
    const joint = { ...models, sentiment: { path: DIR }, ner: { path: DIR, aggregation: 'simple' as const } };
    const enricher = await OnnxEnricher.create(joint, batching);
    try {
      expect(enricher.joint).toBe(true);
      expect(enricher.models.map((m) => `${m.task}:${m.name}`)).toEqual([
        'sentiment:finsentry-multilingual',
        'ner:finsentry-multilingual',
      ]);
    } finally {
      await enricher.close();
    }
    await expect(OnnxEnricher.create({ ...joint, ner: models.ner }, batching)).rejects.toThrow(
      /is a joint model \(sentiment and NER\): set models.ner.path to the same directory/,
    );
  });
});

describe('NER decoding of SentencePiece tokens (Chinese without spaces, UTF-16 offsets)', () => {
  const tokenizer = DocumentTokenizer.fromFile(join(DIR, 'tokenizer.json'), {
    maxLength: 128,
    stride: 32,
    maxWindows: 4,
  });

  /** Logits that label the tokens inside `span` B-ORG/I-ORG, a bare "▁" B-PER, everything else O. */
  async function decode(text: string, span: [number, number], strategy: 'simple' | 'first' | 'average') {
    const [doc] = await tokenizer.encode([text]);
    const window = doc!.windows[0]!;
    const logits = new Float32Array(window.ids.length * NER_LABELS.length);
    let inside = 0;
    window.ids.forEach((id, t) => {
      const [start, end] = window.offsets[t]!;
      const token = tokenizer.idToToken(id);
      let label = 0;
      if (token === '\u2581') label = 1;
      else if (window.specialMask[t] === 0 && start >= span[0] - 1 && end <= span[1] && end > span[0])
        label = inside++ === 0 ? 3 : 4;
      logits[t * NER_LABELS.length + label] = 8;
    });
    return decodeEntities(text, [{ window, data: logits, offset: 0 }], NER_LABELS, tokenizer, strategy);
  }

  it.each(['simple', 'first', 'average'] as const)(
    '%s: skips the bare "▁", keeps CJK tokens apart and reports UTF-16 offsets',
    async (strategy) => {
      // a bare "▁" opens text that has no leading space; its offset overlaps 贵州
      const first = '贵州茅台净利润同比大增80%';
      expect(
        (await decode(first, [0, 4], strategy)).map((e) => [e.type, first.slice(e.start, e.end)]),
      ).toEqual([['ORG', '贵州茅台']]);
      // the emoji is 2 UTF-16 code units but 1 code point: 贵州茅台 is at [9, 13) in JavaScript
      const second = '据新华社报道，🚀贵州茅台净利润同比大增';
      const found = await decode(second, [9, 13], strategy);
      expect(found.map((e) => [e.type, e.start, e.end, second.slice(e.start, e.end)])).toEqual([
        ['ORG', 9, 13, '贵州茅台'],
      ]);
    },
  );

  it('starts an entity at its word, not at the space a Metaspace offset includes', async () => {
    const text = 'Shares of Apple Inc. rose';
    const simple = await decode(text, [10, 19], 'simple');
    expect(simple.map((e) => [e.type, e.start, text.slice(e.start, e.end)])).toEqual([
      ['ORG', 10, 'Apple Inc'],
    ]);
    // word-based: "." follows "Inc" without a space, so it belongs to that word (as in the HF pipeline)
    const first = await decode(text, [10, 19], 'first');
    expect(first.map((e) => [e.type, e.start, text.slice(e.start, e.end)])).toEqual([
      ['ORG', 10, 'Apple Inc.'],
    ]);
  });
});

describe('language → model set routing', () => {
  const primary = () => OnnxEnricher.create(models, batching);
  const requests = [
    { id: 'zh', text: TEXTS[0]!, language: 'zh-CN' },
    { id: 'en', text: TEXTS[1]!, language: 'en' },
    { id: 'fr', text: 'La BCE maintient ses taux directeurs inchangés', language: 'fr' },
  ];

  it('scores Chinese with the joint model, English with the pair, French not at all', async () => {
    const unscored: string[] = [];
    const enricher = await loadRoutedEnricher(await primary(), models, batching, {
      onUnscored: (l) => unscored.push(l),
    });
    try {
      const [zh, en, fr] = await enricher.enrich(requests);
      expect(zh!.sentiment).toBeDefined();
      expect(zh!.models.map((m) => `${m.task}:${m.name}`)).toEqual([
        'sentiment:finsentry-multilingual',
        'ner:finsentry-multilingual',
      ]);
      expect(en!.models.map((m) => `${m.task}:${m.name}`)).toEqual([
        'sentiment:finsentry-sentiment',
        'ner:finsentry-ner',
      ]);
      expect(fr!.sentiment).toBeUndefined();
      expect(fr!.unscored).toBe('unsupported-language');
      expect(unscored).toEqual(['fr']);
    } finally {
      await enricher.close();
    }
  });

  it('leaves a language unscored while its optional set is not installed', async () => {
    const missing = {
      ...models,
      sets: [{ ...models.sets[0]!, path: join(root, 'not-installed'), optional: true }],
    };
    const enricher = await loadRoutedEnricher(await primary(), missing, batching);
    try {
      const [zh, en] = await enricher.enrich(requests);
      expect(zh!.unscored).toBe('unsupported-language');
      expect(en!.sentiment).toBeDefined();
    } finally {
      await enricher.close();
    }
  });

  it('refuses to route a language to a model that does not read it', async () => {
    const french = { ...models, sets: [{ ...models.sets[0]!, languages: ['zh', 'fr'] }] };
    await expect(loadRoutedEnricher(await primary(), french, batching)).rejects.toThrow(
      /model set multilingual: .* reads zh, en, not fr \(config.json finsentry_languages\)/,
    );
  });

  it('is configured with one set per language; the default routes zh to models/finsentry-multilingual', () => {
    expect(parseConfig({}, {}).models.sets).toEqual([
      {
        name: 'multilingual',
        path: 'models/finsentry-multilingual',
        languages: ['zh'],
        // the best valid BIO sequence: Chinese names are not cut into pieces of different types
        aggregation: 'viterbi',
        optional: true,
      },
    ]);
    expect(() =>
      parseConfig({ models: { sets: [{ name: 'multi', path: DIR, languages: ['en'] }] } }, {}),
    ).toThrow(/language en is already scored by models.languages/);
  });
});

/** The label index of each row of `width` logits. */
function argmaxes(logits: number[], width: number): number[] {
  const out: number[] = [];
  for (let r = 0; r + width <= logits.length; r += width) {
    const row = logits.slice(r, r + width);
    out.push(row.indexOf(Math.max(...row)));
  }
  return out;
}
