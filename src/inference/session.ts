import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Logger } from '../telemetry/logger.js';
import { ModelLoadError } from './model.js';
import type { TokenWindow } from './tokenize.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  executionProvider: ExecutionProvider;
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  executionProvider: 'cpu',
  intraOpThreads: 0,
  interOpThreads: 0,
  graphOptimization: 'all',
};

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

const REQUIRED_INPUTS = ['input_ids', 'attention_mask'] as const;
const OPTIONAL_INPUTS = ['token_type_ids'] as const;

/** Output of one batch: logits flattened row-major with their dims. */
export interface BatchLogits {
  data: Float32Array;
  /** [batch, classes] for sequence classification, [batch, seq, classes] for token classification. */
  dims: readonly number[];
}

/**
 * An ONNX Runtime session for a BERT-style classifier. onnxruntime-node runs inference on its own
 * threads, so several `run` calls may be in flight while the event loop tokenizes the next batch.
 */
export class ModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: ExecutionProvider,
    readonly inputNames: readonly string[],
    readonly outputName: string,
    private readonly padTokenId: number,
  ) {}

  static async create(
    onnxPath: string,
    options: SessionOptions,
    padTokenId: number,
    logger?: Logger,
  ): Promise<ModelSession> {
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: options.graphOptimization,
      ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
      ...(options.interOpThreads > 0 ? { interOpNumThreads: options.interOpThreads } : {}),
    };
    let session: ort.InferenceSession;
    let provider: ExecutionProvider = options.executionProvider;
    const missingCuda = provider === 'cuda' ? cudaLibraryMissing() : undefined;
    if (missingCuda) {
      const line = `CUDA execution provider unavailable (${missingCuda} not installed; install onnxruntime-node with its CUDA binaries); falling back to CPU for ${onnxPath}`;
      if (logger) logger.warn({ onnxPath, reason: 'cuda provider library missing' }, line);
      else process.stderr.write(`${line}\n`);
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
      if (provider !== 'cuda') throw new ModelLoadError(`${onnxPath}: ONNX Runtime cannot load it: ${(err as Error).message}`);
      const reason = (err as Error).message.split('\n')[0];
      const line = `CUDA execution provider unavailable (${reason}); falling back to CPU for ${onnxPath}`;
      if (logger) logger.warn({ onnxPath, reason }, line);
      else process.stderr.write(`${line}\n`);
      provider = 'cpu';
      session = await ort.InferenceSession.create(onnxPath, { ...base, executionProviders: ['cpu'] });
    }
    const inputs = session.inputNames;
    const missing = REQUIRED_INPUTS.filter((name) => !inputs.includes(name));
    const unknown = inputs.filter(
      (name) => !(REQUIRED_INPUTS as readonly string[]).includes(name) && !(OPTIONAL_INPUTS as readonly string[]).includes(name),
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
    if (!outputName) throw new ModelLoadError(`${onnxPath}: model has no outputs`);
    return new ModelSession(session, provider, inputs, outputName, padTokenId);
  }

  get inputMetadata(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.session.inputMetadata;
  }

  get outputMetadata(): readonly ort.InferenceSession.ValueMetadata[] {
    return this.session.outputMetadata;
  }

  /** Pads the windows to the longest one and runs the model once. */
  async run(windows: readonly TokenWindow[]): Promise<BatchLogits> {
    const batch = windows.length;
    let seq = 0;
    for (const w of windows) seq = Math.max(seq, w.ids.length);
    const ids = new BigInt64Array(batch * seq).fill(BigInt(this.padTokenId));
    const mask = new BigInt64Array(batch * seq);
    const types = new BigInt64Array(batch * seq);
    windows.forEach((w, b) => {
      const row = b * seq;
      for (let t = 0; t < w.ids.length; t++) {
        ids[row + t] = BigInt(w.ids[t] ?? 0);
        mask[row + t] = 1n;
        types[row + t] = BigInt(w.typeIds[t] ?? 0);
      }
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, seq]),
      attention_mask: new ort.Tensor('int64', mask, [batch, seq]),
    };
    if (this.inputNames.includes('token_type_ids')) feeds['token_type_ids'] = new ort.Tensor('int64', types, [batch, seq]);
    const out = await this.session.run(feeds);
    const logits = out[this.outputName];
    if (!logits) throw new Error(`model produced no ${this.outputName} output`);
    const data = logits.data instanceof Float32Array ? logits.data : Float32Array.from(logits.data as ArrayLike<number>);
    return { data, dims: logits.dims };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
