import { describe, expect, it } from 'vitest';
import {
  admitEventTime,
  EMPTY_CLOCK,
  FUTURE_RUN_TO_JUMP,
  judgedWatermark,
  recordNow,
  type EventTimeVerdict,
  type PartitionClock,
} from '../../../src/stats/event-time.js';

const MINUTE = 60_000;
const BOUNDS = { allowedLatenessMs: 5 * MINUTE, maxFutureSkewMs: 5 * MINUTE };
const T = Date.UTC(2026, 0, 5, 9, 0);

/** Verdicts of a sequence of event times at a fixed wall clock, and the clock after it. */
function run(times: number[], nowMs = T): { verdicts: EventTimeVerdict[]; clock: PartitionClock } {
  let clock = EMPTY_CLOCK;
  const verdicts = times.map((t) => {
    const r = admitEventTime(clock, t, nowMs, BOUNDS);
    clock = r.clock;
    return r.verdict;
  });
  return { verdicts, clock };
}

describe('event time (bounded out-of-orderness)', () => {
  it('counts records up to the lateness behind the clock, refuses older ones as late', () => {
    const { verdicts, clock } = run([T, T + 4 * MINUTE, T - MINUTE, T - MINUTE - 1]);
    expect(verdicts).toEqual(['on-time', 'on-time', 'on-time', 'late']);
    expect(clock.maxEventMs).toBe(T + 4 * MINUTE);
  });

  it('does not let one record beyond the skew move the clock', () => {
    const { verdicts, clock } = run([T, T + 30 * MINUTE, T + 1000, T + 2000]);
    expect(verdicts).toEqual(['on-time', 'future', 'on-time', 'on-time']);
    expect(clock.maxEventMs).toBe(T + 2000);
  });

  it(`moves the clock after ${FUTURE_RUN_TO_JUMP} consecutive future records that agree`, () => {
    const gap = Array.from({ length: FUTURE_RUN_TO_JUMP + 1 }, (_, i) => T + 60 * MINUTE + i);
    const { verdicts, clock } = run([T, ...gap]);
    expect(verdicts.filter((v) => v === 'future')).toHaveLength(FUTURE_RUN_TO_JUMP - 1);
    expect(clock.maxEventMs).toBe(T + 60 * MINUTE + FUTURE_RUN_TO_JUMP);
    // Scattered outliers never form a run: an on-time record between them breaks it.
    const scattered = run([T, T + 60 * MINUTE, T + 1, T + 61 * MINUTE, T + 2, T + 62 * MINUTE]);
    expect(scattered.clock.maxEventMs).toBe(T + 2);
  });

  it('lets a quiet partition follow the wall clock, and bounds a fresh one by it', () => {
    let clock = admitEventTime(EMPTY_CLOCK, T, T, BOUNDS).clock;
    expect(admitEventTime(clock, T + 60 * MINUTE, T + 60 * MINUTE, BOUNDS).verdict).toBe('on-time');
    clock = admitEventTime(clock, T + 60 * MINUTE, T + 60 * MINUTE, BOUNDS).clock;
    expect(admitEventTime(clock, T + 90 * MINUTE, T + 60 * MINUTE, BOUNDS).verdict).toBe('future');
    expect(admitEventTime(EMPTY_CLOCK, T + 6 * MINUTE, T, BOUNDS).verdict).toBe('future');
  });

  it("catches up a sparse partition's backlog by the records' own timestamps, not by processing time", () => {
    // Six records 10 minutes apart (each written when it happened), consumed together two hours later.
    const times = Array.from({ length: 6 }, (_, i) => T + i * 10 * MINUTE);
    const processedAt = T + 120 * MINUTE;
    const judge = (nowOf: (t: number) => number) => {
      let clock = EMPTY_CLOCK;
      return times.map((t) => {
        const r = admitEventTime(clock, t, nowOf(t), BOUNDS);
        clock = r.clock;
        return r.verdict;
      });
    };
    // Judged at the processing time, every record after the first is more than the skew ahead.
    expect(judge(() => processedAt)).toEqual(['on-time', 'future', 'future', 'future', 'future', 'future']);
    // Judged at its own Kafka timestamp (a second after its event), every record counts.
    expect(judge((t) => recordNow(t + 1000, processedAt))).toEqual(Array(6).fill('on-time'));
    // A +30 min outlier written now is still refused: its timestamp gives it no quiet time.
    let clock = admitEventTime(EMPTY_CLOCK, T, recordNow(T, T), BOUNDS).clock;
    expect(admitEventTime(clock, T + 30 * MINUTE, recordNow(T + 1000, T + 1000), BOUNDS).verdict).toBe(
      'future',
    );
    // A timestamp from the past on the record that moves the clock does not widen the next one's.
    clock = admitEventTime(clock, T + MINUTE, recordNow(1, T + MINUTE), BOUNDS).clock;
    expect(clock.advancedAtMs).toBe(T);
  });

  it('takes a record time only when there is one, never after now, through the store clock', () => {
    expect(recordNow(undefined, T)).toBe(T);
    expect(recordNow(null, T)).toBe(T);
    expect(recordNow(-1, T)).toBe(T); // Kafka: no timestamp
    expect(recordNow(0, T)).toBe(T);
    expect(recordNow(T - 5000, T)).toBe(T - 5000);
    expect(recordNow(T + 5000, T)).toBe(T); // a producer clock ahead of ours
    // A replay at 60x: 10 s of wall time between two writes is 10 min on the store's clock.
    const start = T;
    const replay = (wallMs: number) => start + (wallMs - start) * 60;
    expect(recordNow(start + 10_000, replay(start + 20_000), replay)).toBe(start + 10 * MINUTE);
  });

  it('judges windows at the event clock less the lateness', () => {
    expect(judgedWatermark(T, 5 * MINUTE)).toBe(T - 5 * MINUTE);
    expect(judgedWatermark(0, 5 * MINUTE)).toBe(0);
  });
});
