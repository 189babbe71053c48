// Pure parts of the benchmark harness: batch cutting for the ceiling, percentiles, parameter counts
// against published model sizes, ratios and the Markdown section update. (In the integration folder
// because bench-*.test.ts is where the benchmark's tests live; none of these touch the stack.)
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { sortedBatches } from '../../src/tools/bench/ceiling.js';
import { gemmModel, windowOperations } from '../../src/tools/bench/limit.js';
import { bertParameters } from '../../src/tools/bench/machine.js';
import { median, percentile } from '../../src/tools/bench/measure.js';
import { computeRatios, updateDocument } from '../../src/tools/bench/report.js';
import type { TokenWindow } from '../../src/inference/tokenize.js';
import type { BenchRow } from '../../src/tools/bench/types.js';

const win = (length: number): TokenWindow => ({
  ids: new Array<number>(length).fill(5),
  typeIds: [],
  offsets: [],
  specialMask: [],
  contentStart: 0,
  realTokens: length - 2,
});

describe('ceiling batches', () => {
  it('sorts windows by length and bounds every batch by size and padded-token budget', () => {
    const lengths = [128, 12, 40, 128, 7, 90, 33, 128, 15, 64, 22, 128, 9];
    const batches = sortedBatches(lengths.map(win), 4, 300);
    expect(batches.flat().map((w) => w.ids.length)).toEqual([...lengths].sort((a, b) => a - b));
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(4);
      expect(Math.max(...b.map((w) => w.ids.length)) * b.length).toBeLessThanOrEqual(300);
    }
    // With 128-token windows only two fit the 300-token budget.
    for (const b of batches.filter((b) => b.some((w) => w.ids.length === 128)))
      expect(b.length).toBeLessThanOrEqual(2);
    expect(batches.map((b) => b.map((w) => w.ids.length))).toEqual([
      [7, 9, 12, 15],
      [22, 33, 40, 64],
      [90, 128],
      [128, 128],
      [128],
    ]);
  });

  it('sends a window longer than the budget alone', () => {
    expect(sortedBatches([win(10), win(500)], 8, 256).map((b) => b.length)).toEqual([1, 1]);
  });
});

describe('measure', () => {
  it('median and nearest-rank percentiles', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
  });
});

describe('parameter counts from config.json', () => {
  // Published sizes: bert-base-uncased BertModel 109,482,240 parameters (with pooler);
  // sentence-transformers/all-MiniLM-L6-v2 (BertModel, 6 layers, 384 hidden) 22,713,216.
  it('matches bert-base-uncased and MiniLM-L6 plus the classifier head', () => {
    const bertBase = {
      hidden_size: 768,
      num_hidden_layers: 12,
      intermediate_size: 3072,
      vocab_size: 30522,
      max_position_embeddings: 512,
      type_vocab_size: 2,
    };
    expect(bertParameters(bertBase, 3, 'sentiment')).toBe(109_482_240 + 768 * 3 + 3);
    const miniLm = {
      hidden_size: 384,
      num_hidden_layers: 6,
      intermediate_size: 1536,
      vocab_size: 30522,
      max_position_embeddings: 512,
      type_vocab_size: 2,
    };
    expect(bertParameters(miniLm, 3, 'sentiment')).toBe(22_713_216 + 384 * 3 + 3);
    // Token classification has no pooler.
    expect(bertParameters(miniLm, 9, 'ner')).toBe(22_713_216 - (384 * 384 + 384) + 384 * 9 + 9);
    expect(bertParameters({ hidden_size: 384 }, 3, 'sentiment')).toBeNull();
  });
});

const r = (
  id: BenchRow['id'],
  docsPerSecond: number,
  textTokensPerSecond: number | null = null,
): BenchRow => ({
  id,
  title: id,
  documents: 10,
  seconds: 10 / docsPerSecond,
  runs: [],
  docsPerSecond,
  textTokensPerSecond,
  modelTokensPerSecond: null,
  setting: '',
});

describe('limit row', () => {
  it('counts 2 operations per multiply-accumulate of a BERT layer at the window length', () => {
    // MiniLM-L6 (384 hidden, 1536 FFN) at 128 tokens: 22.4 M operations per token per model.
    expect(windowOperations(128, 6, 384, 1536) / 128).toBe(
      2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536 + 2 * 128 * 384),
    );
    expect(Math.round(windowOperations(128, 6, 384, 1536) / 128 / 1e5) / 10).toBe(22.4);
    // Attention grows with the window: a 16-token window costs less per token.
    expect(windowOperations(16, 6, 384, 1536) / 16).toBeLessThan(windowOperations(128, 6, 384, 1536) / 128);
  });

  it('builds an int8 GEMM graph that ONNX Runtime runs to the exact integer product', async () => {
    const [k, n] = [5, 4];
    const session = await ort.InferenceSession.create(gemmModel(k, k, n, 9));
    try {
      const run = async (a: Uint8Array) =>
        (await session.run({ A: new ort.Tensor('uint8', a, [k, k]) }))['Y']!.data as Int32Array;
      // The identity as A reads the weights back: signed int8 values.
      const weights = await run(Uint8Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0)));
      expect(weights.every((w) => w >= -128 && w <= 127)).toBe(true);
      expect(weights.some((w) => w < 0) && weights.some((w) => w > 0)).toBe(true);
      const a = Uint8Array.from({ length: k * k }, (_, i) => (i * 53) % 256);
      const y = await run(a);
      for (let r = 0; r < k; r++)
        for (let c = 0; c < n; c++) {
          let sum = 0;
          for (let j = 0; j < k; j++) sum += a[r * k + j]! * weights[j * n + c]!;
          expect(y[r * n + c]).toBe(sum);
        }
    } finally {
      await session.release();
    }
  });
});

describe('ratios', () => {
  it('divides docs/s of the rows and judges the targets', () => {
    const ratios = computeRatios([
      r('ceiling', 100),
      r('infer', 80, 4000),
      r('pipeline', 90),
      r('naive', 10),
      r('peer', 50, 1000),
    ]);
    expect(ratios.pipelineOverCeiling).toEqual({ value: 0.9, target: 0.9, met: true });
    expect(ratios.inferOverCeiling).toEqual({ value: 0.8, target: null, met: null });
    expect(ratios.inferOverNaive).toEqual({ value: 8, target: 4, met: true });
    expect(ratios.inferOverPeer).toEqual({ value: 1.6, target: 2, met: false });
    expect(ratios.inferOverPeerTokens.value).toBe(4);
  });

  it('leaves a ratio empty when a row is missing or failed', () => {
    const ratios = computeRatios([r('infer', 80), { ...r('naive', 10), error: 'boom' }]);
    expect(ratios.inferOverNaive.value).toBeNull();
    expect(ratios.pipelineOverCeiling.met).toBeNull();
  });
});

describe('Markdown section', () => {
  const section = (label: string, body: string) =>
    `<!-- bench:begin ${label} -->\n${body}\n<!-- bench:end ${label} -->`;
  it('appends a new label and replaces an existing one, keeping everything else', () => {
    const base = '# Benchmarks\n\nIntro.\n';
    const one = updateDocument(base, section('a', 'first'), 'a');
    const two = updateDocument(one, section('b', 'other'), 'b');
    const three = updateDocument(two, section('a', 'second'), 'a');
    expect(three).toBe(`# Benchmarks\n\nIntro.\n\n${section('a', 'second')}\n\n${section('b', 'other')}\n`);
  });
});
