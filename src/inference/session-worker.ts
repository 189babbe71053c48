import { parentPort } from 'node:worker_threads';
import {
  openSession,
  runBatch,
  type BatchFeeds,
  type OpenedSession,
  type SessionOptions,
} from './ort-session.js';

/**
 * The inference thread: holds the ONNX Runtime sessions of a process and runs their batches one at a
 * time, off the main thread. onnxruntime-node's `run` is synchronous under its Promise (it only
 * defers to the next tick), so on the main thread a large batch would stop Kafka heartbeats, Redis
 * replies and metric scrapes for its whole duration. Protocol: src/inference/session.ts.
 */
export type WorkerRequest =
  | { id: number; op: 'open'; onnxPath: string; options: SessionOptions }
  | { id: number; op: 'run'; session: number; feeds: BatchFeeds }
  | { id: number; op: 'release'; session: number }
  /** Fault injection (exitInferenceThread in session.ts): the thread exits as if it had crashed. */
  | { id: number; op: 'exit'; code: number };

/** A request before the client numbers it. */
export type WorkerCall = WorkerRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, 'id'>
    : never
  : never;

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string } };

export interface OpenReply {
  session: number;
  provider: OpenedSession['provider'];
  inputNames: string[];
  outputName: string;
  outputNames: string[];
  inputMetadata: readonly unknown[];
  outputMetadata: readonly unknown[];
  warnings: OpenedSession['warnings'];
}

const port = parentPort;
if (port) {
  const sessions = new Map<number, OpenedSession>();
  let nextSession = 1;
  // Requests are served in order: batches of all models share the intra-op threads one at a time,
  // as they did on the main thread.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(async () => {
      try {
        port.postMessage(await serve(request));
      } catch (err) {
        const e = err as Error;
        const reply: WorkerReply = { id: request.id, ok: false, error: { name: e.name, message: e.message } };
        port.postMessage(reply);
      }
    });
  });

  async function serve(request: WorkerRequest): Promise<WorkerReply> {
    switch (request.op) {
      case 'open': {
        const opened = await openSession(request.onnxPath, request.options);
        const id = nextSession++;
        sessions.set(id, opened);
        const value: OpenReply = {
          session: id,
          provider: opened.provider,
          inputNames: opened.inputNames,
          outputName: opened.outputName,
          outputNames: opened.outputNames,
          inputMetadata: structuredClone(opened.session.inputMetadata),
          outputMetadata: structuredClone(opened.session.outputMetadata),
          warnings: opened.warnings,
        };
        return { id: request.id, ok: true, value };
      }
      case 'run': {
        const opened = sessions.get(request.session);
        if (!opened) throw new Error(`inference worker: no session ${request.session}`);
        const logits = await runBatch(opened, request.feeds);
        return { id: request.id, ok: true, value: logits };
      }
      case 'exit':
        return process.exit(request.code);
      case 'release': {
        await sessions.get(request.session)?.session.release();
        sessions.delete(request.session);
        return { id: request.id, ok: true, value: null };
      }
    }
  }
}
