// How ONNX Runtime is run on this machine (src/inference/threads.ts, src/config/provider-defaults.ts):
// threads and workers derived from the usable cores, spinning off unless asked for, batching defaults
// per execution provider, explicit settings always winning.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { BATCHING_DEFAULTS } from '../../../src/config/provider-defaults.js';
import { ortSessionOptions } from '../../../src/inference/ort-session.js';
import { resolveThreading, type ThreadingConfig } from '../../../src/inference/threads.js';

const auto: ThreadingConfig = {
  executionProvider: 'cpu',
  intraOpThreads: 0,
  interOpThreads: 0,
  spinning: 'auto',
  inferenceWorkers: 0,
};

describe('resolveThreading', () => {
  it('gives one worker with every core on a 2-core CPU, spinning off', () => {
    expect(resolveThreading(auto, 2)).toEqual({
      workers: 1,
      intraOpThreads: 2,
      interOpThreads: 1,
      spinning: false,
    });
    expect(resolveThreading(auto, 1)).toEqual({
      workers: 1,
      intraOpThreads: 1,
      interOpThreads: 1,
      spinning: false,
    });
  });

  it('gives the one inference thread the usable cores as intra-op threads', () => {
    expect(resolveThreading(auto, 8)).toMatchObject({ workers: 1, intraOpThreads: 8 });
    expect(resolveThreading(auto, 16)).toMatchObject({ workers: 1, intraOpThreads: 16 });
  });

  it('feeds a GPU from one worker whose CPU threads only run the ops CUDA lacks', () => {
    expect(resolveThreading({ ...auto, executionProvider: 'cuda' }, 16)).toMatchObject({
      workers: 1,
      intraOpThreads: 1,
    });
  });

  it('keeps explicit settings', () => {
    const t = resolveThreading(
      { ...auto, intraOpThreads: 3, interOpThreads: 2, spinning: 'on', inferenceWorkers: 2 },
      2,
    );
    // one restartable inference thread per process, whatever inferenceWorkers asks
    expect(t).toEqual({ workers: 1, intraOpThreads: 3, interOpThreads: 2, spinning: true });
  });
});

describe('ortSessionOptions', () => {
  it('sets spinning through the session config entries, and leaves ORT its default when unset', () => {
    const base = {
      executionProvider: 'cpu' as const,
      intraOpThreads: 1,
      interOpThreads: 1,
      graphOptimization: 'all' as const,
    };
    expect(ortSessionOptions({ ...base, spinning: false }).extra).toEqual({
      session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } },
    });
    expect(ortSessionOptions({ ...base, spinning: true }).extra).toMatchObject({
      session: { intra_op: { allow_spinning: '1' } },
    });
    expect(ortSessionOptions(base).extra).toBeUndefined();
  });
});

describe('batching defaults per provider', () => {
  it('small batches with a tight padding cap on the CPU, large ones with more in flight on CUDA', () => {
    expect(parseConfig({}, {}).batching).toMatchObject(BATCHING_DEFAULTS.cpu);
    expect(BATCHING_DEFAULTS.cpu.maxBatchSize).toBeLessThanOrEqual(8);
    const cuda = parseConfig({ models: { executionProvider: 'cuda' } }, {});
    expect(cuda.models.executionProvider).toBe('cuda');
    expect(cuda.batching).toMatchObject(BATCHING_DEFAULTS.cuda);
    expect(BATCHING_DEFAULTS.cuda.maxBatchSize).toBeGreaterThan(BATCHING_DEFAULTS.cpu.maxBatchSize * 8);
  });

  it('keeps the batching fields a config sets', () => {
    const cfg = parseConfig({ models: { executionProvider: 'cuda' }, batching: { maxBatchSize: 12 } }, {});
    expect(cfg.batching).toMatchObject({
      maxBatchSize: 12,
      maxInFlightBatches: BATCHING_DEFAULTS.cuda.maxInFlightBatches,
    });
  });
});
