/**
 * Maps wall-clock times to event time. The evaluator stamps alert state changes with its wall clock,
 * but a replay runs event time many times faster than wall time, and the ground truth (and so the
 * detection allowances of scoreScenario) is in event time. The demo samples the service's event-time
 * watermark (finsentry_watermark_timestamp_seconds) about once a second; the event time of a wall
 * instant is the watermark at that instant, linearly interpolated between samples. That is the clock
 * the evaluator's windows ran on when it decided, whatever the pipeline's lag.
 */
export class EventClock {
  private readonly samples: Array<{ wallMs: number; eventMs: number }> = [];

  /** Adds a sample; samples must come in wall order; a watermark never goes back (a lower one is ignored). */
  add(wallMs: number, eventMs: number): void {
    if (!Number.isFinite(eventMs) || eventMs <= 0) return;
    const last = this.samples[this.samples.length - 1];
    if (last && wallMs < last.wallMs) return;
    if (last && eventMs < last.eventMs) eventMs = last.eventMs;
    if (last && last.wallMs === wallMs) {
      last.eventMs = eventMs;
      return;
    }
    this.samples.push({ wallMs, eventMs });
  }

  get size(): number {
    return this.samples.length;
  }

  /** Event time at a wall instant; null before the first sample (nothing was processed yet). */
  toEventTime(wallMs: number): number | null {
    const s = this.samples;
    if (s.length === 0 || wallMs < s[0]!.wallMs) return null;
    const last = s[s.length - 1]!;
    if (wallMs >= last.wallMs) return last.eventMs;
    // Binary search for the last sample at or before wallMs.
    let lo = 0;
    let hi = s.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (s[mid]!.wallMs <= wallMs) lo = mid;
      else hi = mid;
    }
    const a = s[lo]!;
    const b = s[hi]!;
    if (b.wallMs === a.wallMs) return b.eventMs;
    return Math.round(a.eventMs + ((b.eventMs - a.eventMs) * (wallMs - a.wallMs)) / (b.wallMs - a.wallMs));
  }
}
