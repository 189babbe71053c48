// The per-partition progress watchdog (src/pipeline/progress-watchdog.ts) on positions as the broker
// reports them: stalled only when records wait and the commit has not moved for stallAfter.
import { describe, expect, it } from 'vitest';
import { ProgressWatchdog, type PartitionPosition } from '../../../src/domain/partition-progress.js';

const at = (partition: number, committed: number | null, high: number, low = 0): PartitionPosition => ({
  topic: 'news',
  partition,
  committed: committed === null ? null : BigInt(committed),
  low: BigInt(low),
  high: BigInt(high),
});

describe('progress watchdog', () => {
  it('flags a partition whose commit does not move while records wait, after stallAfter', () => {
    const w = new ProgressWatchdog(10_000);
    expect(w.observe([at(0, 100, 100), at(1, 50, 60)], 0).map((p) => p.lag)).toEqual([0, 10]);
    w.observe([at(0, 100, 120), at(1, 55, 70)], 5_000); // p1 progressed; p0 starts waiting
    const later = w.observe([at(0, 100, 290), at(1, 60, 80)], 15_000);
    expect(later.map((p) => [p.lag, p.stalledSeconds, p.stalled])).toEqual([
      [190, 15, true], // idle at 0 s (lag 0) is the last time it was seen not stalled
      [20, 0, false],
    ]);
    expect(w.stalled().map((p) => p.partition)).toEqual([0]);
  });

  it('is not stalled with nothing waiting, however long the commit stays', () => {
    const w = new ProgressWatchdog(1_000);
    w.observe([at(0, 10, 10)], 0);
    expect(w.observe([at(0, 10, 10)], 60_000)[0]).toMatchObject({
      lag: 0,
      stalled: false,
      stalledSeconds: 0,
    });
  });

  it('counts an uncommitted partition from the log start, and forgets revoked partitions', () => {
    const w = new ProgressWatchdog(1_000);
    w.observe([at(0, null, 30, 10), at(1, 0, 5)], 0);
    const next = w.observe([at(0, null, 30, 10)], 2_000);
    expect(next).toEqual([{ topic: 'news', partition: 0, lag: 20, stalledSeconds: 2, stalled: true }]);
    expect(w.observe([at(1, 0, 5)], 3_000)[0]).toMatchObject({ stalled: false, stalledSeconds: 0 });
  });
});
