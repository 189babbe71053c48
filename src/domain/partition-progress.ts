/**
 * Per-partition progress watchdog (docs/guarantees.md "Liveness per partition"): a partition is
 * stalled when records wait (lag > 0) and its committed offset has not moved for `stallAfterMs`.
 * Fed with positions read from the broker (not from the pipeline's own bookkeeping), so a pipeline
 * that is stuck — a hung dependency, a paused Redis — is seen as stuck. Pure: the caller supplies the
 * clock and the positions.
 */
export interface PartitionPosition {
  topic: string;
  partition: number;
  /** Committed offset of the group (next offset to read); null when the group never committed. */
  committed: bigint | null;
  /** First offset still in the log (where an uncommitted group starts). */
  low: bigint;
  high: bigint;
}

export interface PartitionProgress {
  topic: string;
  partition: number;
  /** Records between the committed offset (or the log start) and the high watermark. */
  lag: number;
  /** Seconds since the committed offset last moved while lag > 0; 0 when nothing waits. */
  stalledSeconds: number;
  stalled: boolean;
}

export class ProgressWatchdog {
  private readonly since = new Map<string, { committed: bigint | null; sinceMs: number }>();
  private latest: PartitionProgress[] = [];

  constructor(private readonly stallAfterMs: number) {}

  /** Takes the partitions' current positions (the assigned ones: others are forgotten). */
  observe(positions: readonly PartitionPosition[], nowMs: number): PartitionProgress[] {
    const seen = new Set<string>();
    this.latest = positions.map((p) => {
      const key = `${p.topic}\u0000${p.partition}`;
      seen.add(key);
      const start = p.committed ?? p.low;
      const lag = Number(p.high > start ? p.high - start : 0n);
      const previous = this.since.get(key);
      // Progress, nothing waiting or a partition seen for the first time: the clock restarts.
      if (!previous || previous.committed !== p.committed || lag === 0)
        this.since.set(key, { committed: p.committed, sinceMs: nowMs });
      const stalledMs = lag > 0 ? nowMs - this.since.get(key)!.sinceMs : 0;
      return {
        topic: p.topic,
        partition: p.partition,
        lag,
        stalledSeconds: stalledMs / 1000,
        stalled: lag > 0 && stalledMs >= this.stallAfterMs,
      };
    });
    for (const key of this.since.keys()) if (!seen.has(key)) this.since.delete(key);
    return this.latest;
  }

  /** Partitions stalled at the last observation. */
  stalled(): PartitionProgress[] {
    return this.latest.filter((p) => p.stalled);
  }
}
