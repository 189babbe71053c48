import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { Logger } from '../telemetry/logger.js';
import { ModelLoadError } from './model.js';
import {
  openSession,
  runBatch,
  type BatchFeeds,
  type BatchLogits,
  type ExecutionProvider,
  type OpenedSession,
  type SessionOptions,
} from './ort-session.js';
import type { OpenReply, WorkerCall, WorkerReply } from './session-worker.js';
import type { TokenWindow } from './tokenize.js';

export type { BatchLogits, ExecutionProvider, SessionOptions } from './ort-session.js';

/**
 * Where `session.run` executes. `worker` (default): one inference thread per process holds every
 * session and runs their batches in turn, so the event loop keeps serving Kafka heartbeats, Redis,
 * tokenization and metrics while a batch runs (onnxruntime-node's `run` blocks the calling thread).
 * `main`: in the calling thread (no message passing; the event loop waits for each batch).
 */
export type InferenceThread = 'worker' | 'main';

export const DEFAULT_SESSION_OPTIONS: SessionOptions & { thread: InferenceThread } = {
  executionProvider: 'cpu',
  intraOpThreads: 0,
  interOpThreads: 0,
  graphOptimization: 'all',
  thread: 'worker',
};

interface Backend {
  run(feeds: BatchFeeds, transfer: ArrayBuffer[]): Promise<BatchLogits[]>;
  release(): Promise<void>;
}

/** The process's inference thread: started with the first session, stopped with the last. */
class InferenceWorker {
  private static shared: InferenceWorker | null = null;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private sessions = 0;
  /** True once the thread exited or failed: every call is refused, sessions reopen on a new thread. */
  dead = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) p.resolve(reply.value);
      else
        p.reject(
          reply.error.name === 'ModelLoadError'
            ? new ModelLoadError(reply.error.message)
            : new Error(reply.error.message),
        );
    });
    const fail = (err: Error) => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (InferenceWorker.shared === this) InferenceWorker.shared = null;
    };
    // Held only while a call is outstanding: an idle inference thread never keeps the process alive.
    worker.unref();
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inference worker exited (code ${code})`)));
  }

  static acquire(): InferenceWorker {
    if (!InferenceWorker.shared) {
      // From source (tests, `tsx`), the worker is the .ts file, loaded through tsx's API (a worker's
      // execArgv does not carry tsx's loader hooks); from dist/, the compiled .js file.
      const fromSource = import.meta.url.endsWith('.ts');
      const worker = fromSource
        ? new Worker(
            `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(new URL('./session-worker.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`,
            { eval: true },
          )
        : new Worker(fileURLToPath(new URL('./session-worker.js', import.meta.url)));
      InferenceWorker.shared = new InferenceWorker(worker);
    }
    const w = InferenceWorker.shared;
    w.sessions += 1;
    return w;
  }

  async call<T>(request: WorkerCall, transfer: ArrayBuffer[] = []): Promise<T> {
    // A message to an exited thread is dropped silently: without this the call would never settle.
    if (this.dead) throw new Error('inference worker exited');
    const id = this.nextId++;
    const result = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) this.worker.ref();
    this.worker.postMessage({ ...request, id }, transfer);
    return (await result) as T;
  }

  /** The running thread, if any (fault injection: exitInferenceThread). */
  static current(): InferenceWorker | null {
    return InferenceWorker.shared;
  }

  /** Ends the thread once no session uses it any more. */
  async releaseOne(): Promise<void> {
    this.sessions -= 1;
    if (this.sessions > 0) return;
    if (InferenceWorker.shared === this) InferenceWorker.shared = null;
    await this.worker.terminate();
  }
}

/**
 * Ends the process's inference thread from inside, as a crash of the thread would (`process.exit` in
 * a worker ends only that thread). For fault tests: nothing else sends this. False when none runs.
 */
export function exitInferenceThread(code = 70): boolean {
  const worker = InferenceWorker.current();
  if (!worker || worker.dead) return false;
  void worker.call({ op: 'exit', code }).catch(() => undefined);
  return true;
}

/**
 * A session in the inference thread that survives the thread's death: calls in flight when it dies
 * fail (their micro-batches are retried by the pipeline, design §3), and the next call starts a new
 * thread and reopens the session there, so a dead thread costs a retry, not a hung partition.
 */
async function restartableWorkerBackend(
  onnxPath: string,
  options: SessionOptions,
  logger: Logger | undefined,
): Promise<{ backend: Backend; reply: OpenReply }> {
  const open = async (): Promise<{ worker: InferenceWorker; reply: OpenReply }> => {
    const worker = InferenceWorker.acquire();
    try {
      return { worker, reply: await worker.call<OpenReply>({ op: 'open', onnxPath, options }) };
    } catch (err) {
      await worker.releaseOne();
      throw err;
    }
  };
  let current = await open();
  let reopening: Promise<typeof current> | null = null;
  const live = async (): Promise<typeof current> => {
    if (!current.worker.dead) return current;
    reopening ??= open()
      .then((next) => {
        logger?.warn({ onnxPath }, 'inference thread had exited; restarted it and reopened the session');
        current = next;
        return next;
      })
      .finally(() => {
        reopening = null;
      });
    return reopening;
  };
  const backend: Backend = {
    run: async (feeds, transfer) => {
      const { worker, reply } = await live();
      return worker.call<BatchLogits[]>({ op: 'run', session: reply.session, feeds }, transfer);
    },
    release: async () => {
      const { worker, reply } = current;
      if (worker.dead) return;
      try {
        await worker.call({ op: 'release', session: reply.session });
      } finally {
        await worker.releaseOne();
      }
    },
  };
  return { backend, reply: current.reply };
}

/** An ONNX Runtime session for a BERT-style classifier (in the inference thread or in-process). */
export class ModelSession {
  private constructor(
    private readonly backend: Backend,
    readonly provider: ExecutionProvider,
    readonly inputNames: readonly string[],
    readonly outputName: string,
    /** Every output of the graph (a joint model has one per head). */
    readonly outputNames: readonly string[],
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    private readonly padTokenId: number,
  ) {}

  static async create(
    onnxPath: string,
    options: SessionOptions & { thread?: InferenceThread },
    padTokenId: number,
    logger?: Logger,
  ): Promise<ModelSession> {
    // Every session option goes through (spinning, allowCpuFallback, …): only the thread choice is ours.
    const { thread: _thread, ...sessionOptions } = options;
    const warn = (warnings: OpenedSession['warnings']) => {
      for (const w of warnings) {
        if (logger) logger.warn(w.fields, w.line);
        else process.stderr.write(`${w.line}\n`);
      }
    };
    if ((options.thread ?? 'worker') === 'main') {
      const opened = await openSession(onnxPath, sessionOptions);
      warn(opened.warnings);
      const backend: Backend = {
        run: (feeds) => runBatch(opened, feeds),
        release: () => opened.session.release(),
      };
      const { inputMetadata, outputMetadata } = opened.session;
      return new ModelSession(
        backend,
        opened.provider,
        opened.inputNames,
        opened.outputName,
        opened.outputNames,
        inputMetadata,
        outputMetadata,
        padTokenId,
      );
    }
    const { backend, reply } = await restartableWorkerBackend(onnxPath, sessionOptions, logger);
    warn(reply.warnings);
    return new ModelSession(
      backend,
      reply.provider,
      reply.inputNames,
      reply.outputName,
      reply.outputNames,
      reply.inputMetadata as ort.InferenceSession.ValueMetadata[],
      reply.outputMetadata as ort.InferenceSession.ValueMetadata[],
      padTokenId,
    );
  }

  /** Pads the windows to the longest one and runs the model once; the default output. */
  async run(windows: readonly TokenWindow[]): Promise<BatchLogits> {
    const [logits] = await this.runOutputs(windows, [this.outputName]);
    return logits!;
  }

  /** One run of the padded windows returning the named outputs in order (a joint model's heads). */
  async runOutputs(windows: readonly TokenWindow[], outputs: readonly string[]): Promise<BatchLogits[]> {
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
    const inputs: Record<string, BigInt64Array> = { input_ids: ids, attention_mask: mask };
    if (this.inputNames.includes('token_type_ids')) inputs['token_type_ids'] = types;
    // The input buffers move to the inference thread (no copy); they are not used here afterwards.
    return this.backend.run(
      { dims: [batch, seq], inputs, outputs },
      Object.values(inputs).map((a) => a.buffer as ArrayBuffer),
    );
  }

  release(): Promise<void> {
    return this.backend.release();
  }
}
