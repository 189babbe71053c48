import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelLoadError } from './model.js';

/**
 * The ONNX Runtime calls themselves, shared by the inference worker thread (src/inference/
 * session-worker.ts) and the in-process mode of ModelSession: open a session (with the CUDA fallback
 * and the input-signature check) and run one padded batch. Nothing here touches the event loop's
 * state, so it runs unchanged in either thread.
 */
export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  executionProvider: ExecutionProvider;
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  /** When CUDA was asked for and cannot load: run on CPU with a warning (default), or refuse (false). */
  allowCpuFallback?: boolean;
  /** Spin-wait of the intra- and inter-op thread pools between runs (ORT's default: on). */
  spinning?: boolean;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  inputNames: string[];
  /** The default output: `logits`, else the graph's first. */
  outputName: string;
  outputNames: string[];
  /** One-line warnings for the caller's logger (a CUDA fallback). */
  warnings: Array<{ line: string; fields: Record<string, string> }>;
}

/** A batch's int64 inputs, row-major, as the graph's input names. */
export interface BatchFeeds {
  dims: [number, number];
  inputs: Record<string, BigInt64Array>;
  /** Outputs to fetch, in this order (a joint model's heads); default: the session's default output. */
  outputs?: readonly string[];
}

export interface BatchLogits {
  data: Float32Array;
  /** [batch, classes] for sequence classification, [batch, seq, classes] for token classification. */
  dims: readonly number[];
}

const REQUIRED_INPUTS = ['input_ids', 'attention_mask'] as const;
const OPTIONAL_INPUTS = ['token_type_ids'] as const;

/**
 * onnxruntime-node loads CUDA from libonnxruntime_providers_cuda.so next to its binding (downloaded at
 * install time unless skipped). When it is absent the attempt can only fail — with a multi-line
 * native error — so the fallback is decided up front. Returns the missing file, if any (Linux only).
 */
function cudaLibraryMissing(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const pkgDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const lib = join(pkgDir, 'bin', 'napi-v6', 'linux', process.arch, 'libonnxruntime_providers_cuda.so');
    return existsSync(lib) ? undefined : lib;
  } catch {
    return undefined;
  }
}

/** A GPU deployment that must not silently run on CPU (models.allowCpuFallback: false, k8s gpu overlay). */
function refuseCpuFallback(options: SessionOptions, reason: string, onnxPath: string): void {
  if (options.allowCpuFallback === false)
    throw new ModelLoadError(
      `${onnxPath}: CUDA execution provider unavailable (${reason}) and models.allowCpuFallback is false: refusing to run on CPU`,
    );
}

/**
 * The ORT session options of ours. Spinning is set through session config entries
 * (`session.intra_op.allow_spinning`, `session.inter_op.allow_spinning`), which onnxruntime-node
 * takes as the nested `extra` object; measured to take effect (docs/benchmarks.md, "Threads").
 */
export function ortSessionOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  const spin = options.spinning === undefined ? undefined : options.spinning ? '1' : '0';
  return {
    graphOptimizationLevel: options.graphOptimization,
    ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(options.interOpThreads > 0 ? { interOpNumThreads: options.interOpThreads } : {}),
    ...(spin
      ? { extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } } }
      : {}),
  };
}

export async function openSession(onnxPath: string, options: SessionOptions): Promise<OpenedSession> {
  const base = ortSessionOptions(options);
  const warnings: OpenedSession['warnings'] = [];
  let session: ort.InferenceSession;
  let provider: ExecutionProvider = options.executionProvider;
  const missingCuda = provider === 'cuda' ? cudaLibraryMissing() : undefined;
  if (missingCuda) {
    refuseCpuFallback(options, `${missingCuda} not installed`, onnxPath);
    warnings.push({
      line: `CUDA execution provider unavailable (${missingCuda} not installed; install onnxruntime-node with its CUDA binaries); falling back to CPU for ${onnxPath}`,
      fields: { onnxPath, reason: 'cuda provider library missing' },
    });
    provider = 'cpu';
  }
  try {
    // ORT's own log would add a multi-line native error for a missing CUDA library; the fallback
    // below logs one clear line instead.
    session = await ort.InferenceSession.create(onnxPath, {
      ...base,
      executionProviders: [provider],
      ...(provider === 'cuda' ? { logSeverityLevel: 4 as const } : {}),
    });
  } catch (err) {
    if (provider !== 'cuda')
      throw new ModelLoadError(`${onnxPath}: ONNX Runtime cannot load it: ${(err as Error).message}`);
    const reason = (err as Error).message.split('\n')[0] ?? 'unknown error';
    refuseCpuFallback(options, reason, onnxPath);
    warnings.push({
      line: `CUDA execution provider unavailable (${reason}); falling back to CPU for ${onnxPath}`,
      fields: { onnxPath, reason },
    });
    provider = 'cpu';
    session = await ort.InferenceSession.create(onnxPath, { ...base, executionProviders: ['cpu'] });
  }
  const inputs = [...session.inputNames];
  const missing = REQUIRED_INPUTS.filter((name) => !inputs.includes(name));
  const unknown = inputs.filter(
    (name) =>
      !(REQUIRED_INPUTS as readonly string[]).includes(name) &&
      !(OPTIONAL_INPUTS as readonly string[]).includes(name),
  );
  if (missing.length > 0 || unknown.length > 0) {
    await session.release();
    throw new ModelLoadError(
      `${onnxPath}: input signature mismatch: model inputs are [${inputs.join(', ')}], expected ` +
        `input_ids, attention_mask and optionally token_type_ids` +
        (missing.length ? `; missing ${missing.join(', ')}` : '') +
        (unknown.length ? `; unsupported ${unknown.join(', ')}` : ''),
    );
  }
  const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
  if (!outputName) {
    await session.release();
    throw new ModelLoadError(`${onnxPath}: model has no outputs`);
  }
  return {
    session,
    provider,
    inputNames: inputs,
    outputName,
    outputNames: [...session.outputNames],
    warnings,
  };
}

/**
 * Runs one batch and returns the requested outputs (feeds.outputs, else the default one) in order;
 * the feeds the graph does not take (token_type_ids) are left out. All outputs come from one run.
 */
export async function runBatch(
  opened: Pick<OpenedSession, 'session' | 'inputNames' | 'outputName'>,
  feeds: BatchFeeds,
): Promise<BatchLogits[]> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const name of opened.inputNames) {
    const data = feeds.inputs[name];
    if (!data) throw new Error(`no feed for model input ${name}`);
    tensors[name] = new ort.Tensor('int64', data, feeds.dims);
  }
  const names = feeds.outputs ?? [opened.outputName];
  const out = await opened.session.run(tensors, [...names]);
  return names.map((name) => {
    const logits = out[name];
    if (!logits) throw new Error(`model produced no ${name} output`);
    const data =
      logits.data instanceof Float32Array ? logits.data : Float32Array.from(logits.data as ArrayLike<number>);
    return { data, dims: [...logits.dims] };
  });
}
