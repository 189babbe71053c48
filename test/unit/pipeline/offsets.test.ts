import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionOffsetTracker } from '../../../src/pipeline/offsets.js';
import { PauseRegistry } from '../../../src/pipeline/pause.js';
import { backoffDelay, Semaphore } from '../../../src/pipeline/retry.js';

describe('PartitionOffsetTracker', () => {
  it('releases nothing while the oldest offset is unfinished', () => {
    const t = new PartitionOffsetTracker();
    t.track(['10', '11', '12', '13']);
    t.complete(['12', '13']);
    expect(t.release()).toBeNull();
    t.complete(['10']);
    expect(t.release()).toBe('10');
    t.complete(['11']);
    expect(t.release()).toBe('13');
    expect(t.outstanding).toBe(0);
  });

  it('handles gaps and int64 offsets beyond 2^53', () => {
    const t = new PartitionOffsetTracker();
    t.track(['9007199254740993', '9007199254740995']);
    t.complete(['9007199254740995', '9007199254740993']);
    expect(t.release()).toBe('9007199254740995');
  });

  it('refuses offsets out of order and completions of unknown offsets', () => {
    const t = new PartitionOffsetTracker();
    t.track(['5']);
    expect(() => t.track(['5'])).toThrow(/must increase/);
    expect(() => t.complete(['6'])).toThrow(/not tracked/);
  });

  it('never releases past an unfinished offset, whatever the completion order (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.infiniteStream(fc.nat()), (n, randomness) => {
        const offsets = Array.from({ length: n }, (_, i) => String(100 + i * 2));
        const order = [...offsets];
        const it = randomness[Symbol.iterator]();
        for (let i = order.length - 1; i > 0; i--) {
          const j = it.next().value % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const t = new PartitionOffsetTracker();
        t.track(offsets);
        const done = new Set<string>();
        let committed = -1n;
        for (const o of order) {
          t.complete([o]);
          done.add(o);
          const released = t.release();
          if (released !== null) {
            expect(BigInt(released)).toBeGreaterThan(committed);
            committed = BigInt(released);
          }
          // every offset at or below the committed one is done
          for (const x of offsets) if (BigInt(x) <= committed) expect(done.has(x)).toBe(true);
        }
        expect(committed).toBe(BigInt(offsets[offsets.length - 1]!));
      }),
      { numRuns: 300 },
    );
  });
});

describe('PauseRegistry', () => {
  it('resumes a partition only when no reason remains', () => {
    const calls: string[] = [];
    const pauseFn = () => {
      calls.push('pause');
      return () => calls.push('resume');
    };
    const p = new PauseRegistry();
    p.pause('t:0', 'backpressure', pauseFn);
    p.pause('t:0', 'retry', pauseFn);
    p.resume('t:0', 'retry');
    expect(calls).toEqual(['pause']);
    p.resumeAll('backpressure');
    expect(calls).toEqual(['pause', 'resume']);
    expect(p.size).toBe(0);
  });
});

describe('retry helpers', () => {
  it('backs off exponentially up to the cap, with bounded jitter', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(1, opts, () => 0.5)).toBe(100);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(400);
    expect(backoffDelay(10, opts, () => 0.5)).toBe(1000);
    expect(backoffDelay(10, opts, () => 1)).toBe(1200);
    expect(backoffDelay(1, opts, () => 0)).toBe(80);
  });

  it('a semaphore never runs more tasks than permits', async () => {
    const s = new Semaphore(2);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        s.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
  });
});
