import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRunner, NerModel } from '../../../src/inference/engine.js';
import type { AggregationStrategy } from '../../../src/inference/ner.js';
import { synthesizeModel } from '../../../src/tools/models/synth/index.js';

/**
 * NER aggregation parity with the Hugging Face transformers TokenClassificationPipeline: the fixture
 * holds the pipeline's entities (tools/python/ner_pipeline_reference.py: onnxruntime logits fed to
 * the pipeline's own postprocess) for a synthesized NER model with the MiniLM WordPiece tokenizer.
 */
const FIXTURE = 'test/fixtures/inference/ner-parity.json';
const TEXTS = 'test/fixtures/inference/ner-parity-texts.json';
const PYTHON = '.venv-py/bin/python';
const STRATEGIES: AggregationStrategy[] = ['simple', 'first', 'max', 'average'];

interface RefEntity {
  type: string;
  score: number;
  word: string;
  start: number;
  end: number;
}
interface Fixture {
  model_sha256: string;
  texts: string[];
  results: Record<AggregationStrategy, RefEntity[][]>;
}

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;
let root: string;
let modelDir: string;
let runner: ModelRunner;

function pythonHasTransformers(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import transformers, onnxruntime'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'finsentry-ner-parity-'));
  modelDir = join(root, 'ner');
  synthesizeModel({
    task: 'ner',
    layers: 2,
    hidden: 64,
    heads: 4,
    vocabFrom: 'test/fixtures/inference',
    seed: 42,
    out: modelDir,
  });
  runner = await ModelRunner.load(modelDir, 'ner', {
    session: { executionProvider: 'cpu', intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all' },
    windowing: { maxLength: 512, stride: 64, maxWindows: 1 },
    batching: {
      maxBatchSize: 32,
      maxBatchTokens: 16384,
      maxWaitMs: 1,
      maxInFlightBatches: 2,
      maxQueued: 1024,
    },
  });
});

afterAll(async () => {
  await runner.close();
  rmSync(root, { recursive: true, force: true });
});

describe('NER parity with the transformers token-classification pipeline', () => {
  it('the fixture was made from the model synthesized with the same arguments', () => {
    expect(runner.spec.sha256).toBe(fixture.model_sha256);
    expect(fixture.texts).toEqual(JSON.parse(readFileSync(TEXTS, 'utf8')));
    expect(fixture.texts.length).toBeGreaterThanOrEqual(50);
  });

  for (const strategy of STRATEGIES) {
    it(`gives the same entities, words, offsets and scores for aggregation_strategy=${strategy}`, async () => {
      const ner = new NerModel(runner, strategy);
      const got = await ner.predictRaw(fixture.texts);
      const expected = fixture.results[strategy];
      let entities = 0;
      fixture.texts.forEach((text, i) => {
        const mine = got[i] ?? [];
        const ref = expected[i] ?? [];
        const label = `${strategy} text ${i}: ${JSON.stringify(text.slice(0, 50))}`;
        expect(
          mine.map((e) => [e.type, e.start, e.end, runner.tokenizer.decodeTokens(e.tokens)]),
          label,
        ).toEqual(ref.map((e) => [e.type, e.start, e.end, e.word]));
        mine.forEach((e, k) => expect(Math.abs(e.score - (ref[k]?.score ?? NaN)), label).toBeLessThan(1e-5));
        entities += ref.length;
      });
      expect(entities).toBeGreaterThan(100);
    });
  }

  it('strategies actually differ on this model (the comparison is not vacuous)', () => {
    const flat = (s: AggregationStrategy) =>
      JSON.stringify(fixture.results[s].map((r) => r.map((e) => [e.type, e.start, e.end])));
    expect(new Set(STRATEGIES.map(flat)).size).toBe(4);
  });

  it.runIf(pythonHasTransformers())(
    'the fixture is what tools/python/ner_pipeline_reference.py produces now',
    () => {
      const out = join(root, 'ref.json');
      execFileSync(PYTHON, ['tools/python/ner_pipeline_reference.py', modelDir, TEXTS, out], {
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      const fresh = JSON.parse(readFileSync(out, 'utf8')) as Fixture;
      expect(fresh.model_sha256).toBe(fixture.model_sha256);
      for (const s of STRATEGIES) {
        expect(fresh.results[s].map((r) => r.map((e) => [e.type, e.start, e.end, e.word]))).toEqual(
          fixture.results[s].map((r) => r.map((e) => [e.type, e.start, e.end, e.word])),
        );
      }
    },
    120_000,
  );
});
