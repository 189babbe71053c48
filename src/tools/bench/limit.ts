import * as ort from 'onnxruntime-node';
import type { ModelSpec } from '../../inference/model.js';
import { usableCores } from '../../inference/threads.js';
import { DocumentTokenizer } from '../../inference/tokenize.js';
import { encodeModel, type ModelMessage } from '../models/synth/onnx-proto.js';
import { SeededRandom } from '../models/synth/random.js';
import { timedCpu } from './measure.js';
import { row, type BenchContext, type BenchRow } from './types.js';

/**
 * Row 0, the limit: what the machine could do at best, from first principles (docs/benchmarks.md).
 * Work: the models' multiply-accumulates at the corpus's real window lengths, counted as 2 operations
 * each — per layer and token 4·h² (Q, K, V, output projections) + 2·h·ffn (FFN up and down), plus
 * 2·n·h per token for QKᵀ and attention × V at window length n. Embeddings, layer norms, softmax,
 * GELU and the heads are left out (they are cheap in operations, not in time), so the limit is high.
 * Rate: an int8 GEMM of the models' FFN shape (u8 activations × s8 weights, MatMulInteger, as the
 * dynamically quantized graphs run it), built here with the synth ONNX writer and timed on one
 * intra-op thread: operations per CPU-second of one core. limit docs per CPU-second = rate / work;
 * limit docs/s = that × the usable cores.
 */

const ONNX_TYPE = { UINT8: 2, INT8: 3, INT32: 6 } as const;

/** A graph Y = MatMulInteger(A, B) with A uint8 [m, k] as input and B int8 [k, n] as initializer. */
export function gemmModel(m: number, k: number, n: number, seed = 1): Uint8Array {
  const rng = new SeededRandom(seed);
  const weights = new Uint8Array(k * n);
  for (let i = 0; i < weights.length; i++) weights[i] = Math.floor(rng.next() * 256);
  const model: ModelMessage = {
    irVersion: 8,
    producerName: 'finsentry-bench',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'gemm',
      node: [{ name: 'mm', opType: 'MatMulInteger', input: ['A', 'B'], output: ['Y'], attribute: [] }],
      initializer: [{ name: 'B', dims: [k, n], dataType: ONNX_TYPE.INT8, rawData: weights }],
      input: [valueInfo('A', ONNX_TYPE.UINT8, [m, k])],
      output: [valueInfo('Y', ONNX_TYPE.INT32, [m, n])],
    },
    metadataProps: [],
  };
  return encodeModel(model);
}

function valueInfo(name: string, elemType: number, dims: number[]): ModelMessage['graph']['input'][number] {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((dimValue) => ({ dimValue })) } } } };
}

/** int8 operations (2 per multiply-accumulate) of one window of `n` tokens through a BERT encoder. */
export function windowOperations(n: number, layers: number, hidden: number, ffn: number): number {
  return 2 * layers * n * (4 * hidden * hidden + 2 * hidden * ffn + 2 * n * hidden);
}

/** Operations per CPU-second of one core for an int8 GEMM of [m, k] × [k, n], repeated ~`seconds`. */
export async function measureGemmRate(
  shape: { m: number; k: number; n: number },
  seconds = 1,
): Promise<{ opsPerCpuSecond: number; opsPerSecond: number }> {
  const session = await ort.InferenceSession.create(gemmModel(shape.m, shape.k, shape.n), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  try {
    const a = new Uint8Array(shape.m * shape.k);
    for (let i = 0; i < a.length; i++) a[i] = (i * 37) % 256;
    const feeds = { A: new ort.Tensor('uint8', a, [shape.m, shape.k]) };
    await session.run(feeds); // warm-up
    const opsPerRun = 2 * shape.m * shape.k * shape.n;
    const probe = await timedCpu(() => session.run(feeds).then(() => undefined));
    const reps = Math.max(3, Math.round(seconds / Math.max(probe.seconds, 1e-4)));
    const t = await timedCpu(async () => {
      for (let i = 0; i < reps; i++) await session.run(feeds);
    });
    return {
      opsPerCpuSecond: (opsPerRun * reps) / t.cpuSeconds,
      opsPerSecond: (opsPerRun * reps) / t.seconds,
    };
  } finally {
    await session.release();
  }
}

function shapeOf(spec: ModelSpec): { layers: number; hidden: number; ffn: number } {
  const num = (key: string, fallback: number) => {
    const v = spec.config[key];
    return typeof v === 'number' ? v : fallback;
  };
  const hidden = num('hidden_size', 384);
  return { layers: num('num_hidden_layers', 6), hidden, ffn: num('intermediate_size', 4 * hidden) };
}

export async function limitRow(ctx: BenchContext): Promise<BenchRow> {
  const specs = [ctx.specs.sentiment, ...(ctx.specs.ner ? [ctx.specs.ner] : [])];
  let operations = 0;
  let modelTokens = 0;
  for (const spec of specs) {
    const tokenizer = DocumentTokenizer.fromFile(spec.tokenizerPath, {
      maxLength: ctx.models.maxLength,
      stride: ctx.models.stride,
      maxWindows: ctx.models.maxWindows,
    });
    const { layers, hidden, ffn } = shapeOf(spec);
    for (const doc of await tokenizer.encode(ctx.texts))
      for (const w of doc.windows) {
        operations += windowOperations(w.ids.length, layers, hidden, ffn);
        modelTokens += w.ids.length;
      }
  }
  // The FFN-up GEMM of the sentiment model for a batch of 8 windows of 64 tokens.
  const { hidden, ffn } = shapeOf(ctx.specs.sentiment);
  const gemm = { m: 512, k: hidden, n: ffn };
  const rate = await measureGemmRate(gemm, ctx.quick ? 0.3 : 1.5);
  const cores = usableCores();
  const cpuSeconds = operations / rate.opsPerCpuSecond;
  const seconds = cpuSeconds / cores;
  const textTokens = ctx.docTokens.reduce((a, b) => a + b, 0);
  return row(
    'limit',
    'limit: int8 operations at the real window lengths ÷ measured int8 GEMM rate',
    ctx.texts.length,
    [seconds],
    seconds,
    textTokens,
    modelTokens,
    `${(operations / ctx.texts.length / 1e9).toFixed(2)} G int8 ops per document (both models); GEMM ${gemm.m}×${gemm.k}×${gemm.n} u8×s8 at ${(rate.opsPerCpuSecond / 1e9).toFixed(0)} GOP per CPU-second on 1 thread, × ${cores} cores`,
    {
      operations,
      operationsPerDocument: Math.round(operations / ctx.texts.length),
      gemm: {
        ...gemm,
        opsPerCpuSecond: Math.round(rate.opsPerCpuSecond),
        opsPerSecond: Math.round(rate.opsPerSecond),
      },
      cores,
    },
    cpuSeconds,
  );
}
