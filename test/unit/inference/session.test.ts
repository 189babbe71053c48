// Where ONNX Runtime runs (models.inferenceThread): onnxruntime-node's `session.run` is synchronous
// under its Promise, so in the main thread a batch stops the event loop — Kafka heartbeats, Redis
// replies, metric scrapes — for the batch's whole duration. In the inference worker thread (the
// default) the event loop keeps turning while the batch runs, and the logits are the same.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelSpec } from '../../../src/inference/model.js';
import {
  DEFAULT_SESSION_OPTIONS,
  exitInferenceThread,
  ModelSession,
  type InferenceThread,
} from '../../../src/inference/session.js';
import { synthesizeModel } from '../../../src/tools/models/synth/index.js';
import type { TokenWindow } from '../../../src/inference/tokenize.js';

const root = mkdtempSync(join(tmpdir(), 'fs-thread-'));
let onnxPath = '';

beforeAll(async () => {
  const dir = join(root, 'ner');
  synthesizeModel({ task: 'ner', layers: 4, hidden: 256, heads: 4, vocabSize: 3000, seed: 5, out: dir });
  onnxPath = (await readModelSpec(dir, 'ner')).onnxPath;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** 64 windows of 128 tokens: a batch that takes ONNX Runtime a noticeable time on any CPU. */
function windows(): TokenWindow[] {
  return Array.from({ length: 64 }, (_, b) => {
    const ids = Array.from({ length: 128 }, (_, t) =>
      t === 0 ? 101 : t === 127 ? 102 : 1000 + ((b * 131 + t * 17) % 1500),
    );
    return {
      ids,
      typeIds: ids.map(() => 0),
      offsets: ids.map(() => [0, 0] as [number, number]),
      specialMask: ids.map((_, t) => (t === 0 || t === 127 ? 1 : 0)),
      contentStart: 0,
    } as TokenWindow;
  });
}

/** Runs one batch and counts the event-loop turns (setImmediate callbacks) that happen meanwhile. */
async function runCountingTurns(thread: InferenceThread): Promise<{ turns: number; logits: Float32Array }> {
  const session = await ModelSession.create(onnxPath, { ...DEFAULT_SESSION_OPTIONS, thread }, 0);
  try {
    await session.run(windows()); // warm-up
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    const started = turns;
    setImmediate(spin);
    const { data } = await session.run(windows());
    running = false;
    return { turns: turns - started, logits: data };
  } finally {
    await session.release();
  }
}

describe('inference thread', () => {
  it('keeps the event loop turning during a batch in the worker thread, not in the main thread; same logits', async () => {
    const worker = await runCountingTurns('worker');
    const main = await runCountingTurns('main');
    console.log(
      `event-loop turns during one batch: worker thread ${worker.turns}, main thread ${main.turns}`,
    );
    // Main thread: the run is one synchronous call after ORT's own setImmediate; at most a turn or two.
    expect(main.turns).toBeLessThanOrEqual(3);
    expect(worker.turns).toBeGreaterThan(20);
    expect(worker.logits.length).toBe(main.logits.length);
    let maxDiff = 0;
    for (let i = 0; i < main.logits.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(main.logits[i]! - worker.logits[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
  }, 120_000);

  it('reports a model that ONNX Runtime cannot load from the worker as a ModelLoadError', async () => {
    await expect(
      ModelSession.create(join(root, 'missing.onnx'), DEFAULT_SESSION_OPTIONS, 0),
    ).rejects.toMatchObject({
      name: 'ModelLoadError',
    });
  });

  it('fails the calls in flight when the inference thread dies and runs the next call on a new thread', async () => {
    const session = await ModelSession.create(onnxPath, DEFAULT_SESSION_OPTIONS, 0);
    try {
      const before = await session.run(windows());
      const died = performance.now();
      // The exit request is served before the run queued behind it: that run is in flight when the
      // thread ends (before the fix it never settled; the test would time out).
      expect(exitInferenceThread()).toBe(true);
      await expect(session.run(windows())).rejects.toThrow(/inference worker exited \(code 70\)/);
      const failedMs = performance.now() - died;
      const after = await session.run(windows());
      const recoveredMs = performance.now() - died;
      console.log(
        `inference thread exit: call in flight failed after ${failedMs.toFixed(0)} ms, next call answered on a new thread after ${recoveredMs.toFixed(0)} ms`,
      );
      expect(Array.from(after.data)).toEqual(Array.from(before.data));
    } finally {
      await session.release();
    }
  }, 120_000);
});
