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
 * Where `session.run` executes. `worker` (default): the process's inference threads
 * (models.inferenceWorkers, one by default on ≤ 2 cores) each hold every session and run their batches
 * in turn, a batch going to the least-loaded thread, so the event loop keeps serving Kafka heartbeats, Redis,
 * tokenization and metrics while a batch runs (onnxruntime-node's `run` blocks the calling thread).
 * `main`: in the calling thread (no message passing; the event loop waits for each batch).
 */
export type InferenceThread = 'worker' | 'main';

export const DEFAULT_SESSION_OPTIONS: SessionOptions & { thread: InferenceThread; workers: number } = {
  executionProvider: 'cpu',
  intraOpThreads: 0,
  interOpThreads: 0,
  graphOptimization: 'all',
  thread: 'worker',
  workers: 1,
};

interface Backend {
  run(feeds: BatchFeeds, transfer: ArrayBuffer[]): Promise<BatchLogits>;
  release(): Promise<void>;
}

/**
 * One of the process's inference threads. The pool grows to the largest worker count a session asks
 * for (models.inferenceWorkers); a thread ends once no session uses it any more.
 */
class InferenceWorker {
  private static pool: InferenceWorker[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private sessions = 0;

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
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.leavePool();
    };
    // Held only while a call is outstanding: an idle inference thread never keeps the process alive.
    worker.unref();
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inference worker exited (code ${code})`)));
  }

  private static start(): InferenceWorker {
    // From source (tests, `tsx`), the worker is the .ts file, loaded through tsx's API (a worker's
    // execArgv does not carry tsx's loader hooks); from dist/, the compiled .js file.
    const fromSource = import.meta.url.endsWith('.ts');
    const worker = fromSource
      ? new Worker(
          `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(new URL('./session-worker.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`,
          { eval: true },
        )
      : new Worker(fileURLToPath(new URL('./session-worker.js', import.meta.url)));
    return new InferenceWorker(worker);
  }

  /** The first `count` threads of the pool (started as needed), each holding one more session. */
  static acquire(count: number): InferenceWorker[] {
    while (InferenceWorker.pool.length < count) InferenceWorker.pool.push(InferenceWorker.start());
    const workers = InferenceWorker.pool.slice(0, count);
    for (const w of workers) w.sessions += 1;
    return workers;
  }

  /** Calls not answered yet: the load that least-loaded dispatch compares. */
  get load(): number {
    return this.pending.size;
  }

  async call<T>(request: WorkerCall, transfer: ArrayBuffer[] = []): Promise<T> {
    const id = this.nextId++;
    const result = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) this.worker.ref();
    this.worker.postMessage({ ...request, id }, transfer);
    return (await result) as T;
  }

  private leavePool(): void {
    InferenceWorker.pool = InferenceWorker.pool.filter((w) => w !== this);
  }

  /** Ends the thread once no session uses it any more. */
  async releaseOne(): Promise<void> {
    this.sessions -= 1;
    if (this.sessions > 0) return;
    this.leavePool();
    await this.worker.terminate();
  }
}

/** The session opened in each of `workers`; a batch goes to the one with the fewest calls outstanding. */
async function openInWorkers(
  workers: InferenceWorker[],
  onnxPath: string,
  options: SessionOptions,
): Promise<{ reply: OpenReply; backend: Backend }> {
  const opened = await Promise.allSettled(
    workers.map((w) => w.call<OpenReply>({ op: 'open', onnxPath, options })),
  );
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  const replies = opened.map((o) => (o.status === 'fulfilled' ? o.value : undefined));
  const release = () =>
    Promise.all(
      workers.map(async (w, i) => {
        const reply = replies[i];
        try {
          if (reply) await w.call({ op: 'release', session: reply.session });
        } finally {
          await w.releaseOne();
        }
      }),
    ).then(() => undefined);
  if (failed) {
    await release();
    throw failed.reason;
  }
  const lanes = workers.map((w, i) => ({ worker: w, session: (replies[i] as OpenReply).session }));
  const backend: Backend = {
    run: (feeds, transfer) => {
      const lane = lanes.reduce((a, b) => (b.worker.load < a.worker.load ? b : a));
      return lane.worker.call<BatchLogits>({ op: 'run', session: lane.session, feeds }, transfer);
    },
    release,
  };
  return { reply: replies[0] as OpenReply, backend };
}

/** An ONNX Runtime session for a BERT-style classifier (in the inference thread or in-process). */
export class ModelSession {
  private constructor(
    private readonly backend: Backend,
    readonly provider: ExecutionProvider,
    readonly inputNames: readonly string[],
    readonly outputName: string,
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    private readonly padTokenId: number,
  ) {}

  static async create(
    onnxPath: string,
    options: SessionOptions & { thread?: InferenceThread; workers?: number },
    padTokenId: number,
    logger?: Logger,
  ): Promise<ModelSession> {
    const sessionOptions: SessionOptions = {
      executionProvider: options.executionProvider,
      intraOpThreads: options.intraOpThreads,
      interOpThreads: options.interOpThreads,
      graphOptimization: options.graphOptimization,
      ...(options.spinning !== undefined ? { spinning: options.spinning } : {}),
    };
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
        inputMetadata,
        outputMetadata,
        padTokenId,
      );
    }
    const { reply, backend } = await openInWorkers(
      InferenceWorker.acquire(Math.max(1, options.workers ?? 1)),
      onnxPath,
      sessionOptions,
    );
    warn(reply.warnings);
    return new ModelSession(
      backend,
      reply.provider,
      reply.inputNames,
      reply.outputName,
      reply.inputMetadata as ort.InferenceSession.ValueMetadata[],
      reply.outputMetadata as ort.InferenceSession.ValueMetadata[],
      padTokenId,
    );
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
    const inputs: Record<string, BigInt64Array> = { input_ids: ids, attention_mask: mask };
    if (this.inputNames.includes('token_type_ids')) inputs['token_type_ids'] = types;
    // The input buffers move to the inference thread (no copy); they are not used here afterwards.
    return this.backend.run(
      { dims: [batch, seq], inputs },
      Object.values(inputs).map((a) => a.buffer as ArrayBuffer),
    );
  }

  release(): Promise<void> {
    return this.backend.release();
  }
}
