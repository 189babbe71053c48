/**
 * Event time per input partition (design §4, docs/guarantees.md#event-time): the pure rules the window
 * store applies to every observation, in offset order. The Redis store runs the same arithmetic in its
 * Lua script (src/io/redis/window-store.ts, block "event time"); an in-memory store calls these.
 *
 * Bounded out-of-orderness, as Flink's watermark strategy of that name: a partition's event clock is
 * the largest event time it has counted, and its watermark = clock − allowed lateness. A record older
 * than the watermark is `late`: not counted. Unlike Flink, one record cannot jump the clock: a record
 * more than maxFutureSkew ahead of the clock (plus the wall time since the clock last moved, so that a
 * partition that was quiet catches up with live traffic) is `future`: not counted, and the clock stays.
 * Only a run of FUTURE_RUN_TO_JUMP consecutive future records within maxFutureSkew of each other moves
 * the clock there — a gap in the data (a replay of a quiet night faster than real time), not an
 * outlier. Late and future records go to the late topic with their reason; none is silently lost.
 */

export type EventTimeVerdict = 'on-time' | 'late' | 'future';

export interface EventTimeBounds {
  allowedLatenessMs: number;
  /** Never above allowedLatenessMs (config check): else one record could make on-time ones late. */
  maxFutureSkewMs: number;
}

export interface PartitionClock {
  /** Largest event time counted; null before the first record. */
  maxEventMs: number | null;
  /** Wall time (ms) at which maxEventMs last moved. */
  advancedAtMs: number;
  /** Consecutive future records so far, and the event time of the first of them. */
  futureRun: number;
  futureRunStartMs: number;
}

/** Consecutive, mutually consistent future records that are taken as a gap in the data, not an outlier. */
export const FUTURE_RUN_TO_JUMP = 3;

export const EMPTY_CLOCK: PartitionClock = {
  maxEventMs: null,
  advancedAtMs: 0,
  futureRun: 0,
  futureRunStartMs: 0,
};

/** The partition's watermark: records older than this are late. */
export function partitionWatermark(maxEventMs: number, allowedLatenessMs: number): number {
  return maxEventMs - allowedLatenessMs;
}

/** Latest event time a record may have and still count (see the module comment). */
export function futureCeiling(clock: PartitionClock, nowMs: number, bounds: EventTimeBounds): number {
  if (clock.maxEventMs === null) return nowMs + bounds.maxFutureSkewMs;
  return clock.maxEventMs + bounds.maxFutureSkewMs + Math.max(0, nowMs - clock.advancedAtMs);
}

/** Decides one record, in offset order, and returns the partition's clock after it. */
export function admitEventTime(
  clock: PartitionClock,
  eventTimeMs: number,
  nowMs: number,
  bounds: EventTimeBounds,
): { verdict: EventTimeVerdict; clock: PartitionClock } {
  if (eventTimeMs > futureCeiling(clock, nowMs, bounds)) {
    const continues =
      clock.futureRun > 0 && Math.abs(eventTimeMs - clock.futureRunStartMs) <= bounds.maxFutureSkewMs;
    const run = continues ? clock.futureRun + 1 : 1;
    const start = continues ? clock.futureRunStartMs : eventTimeMs;
    if (run < FUTURE_RUN_TO_JUMP)
      return { verdict: 'future', clock: { ...clock, futureRun: run, futureRunStartMs: start } };
    // A sustained run: the data moved on. Counted, and the clock follows it.
    return {
      verdict: 'on-time',
      clock: {
        maxEventMs: eventTimeMs,
        advancedAtMs: Math.max(clock.advancedAtMs, nowMs),
        futureRun: 0,
        futureRunStartMs: 0,
      },
    };
  }
  const reset = { ...clock, futureRun: 0, futureRunStartMs: 0 };
  if (
    clock.maxEventMs !== null &&
    eventTimeMs < partitionWatermark(clock.maxEventMs, bounds.allowedLatenessMs)
  )
    return { verdict: 'late', clock: reset };
  if (clock.maxEventMs === null || eventTimeMs > clock.maxEventMs)
    return {
      verdict: 'on-time',
      clock: { ...reset, maxEventMs: eventTimeMs, advancedAtMs: Math.max(clock.advancedAtMs, nowMs) },
    };
  return { verdict: 'on-time', clock: reset };
}

/**
 * The "now" one record is judged at: its own Kafka timestamp (through the store's clock, e.g. a
 * replay's), never later than now; without a usable timestamp (Kafka's -1, a test's 0), now. The quiet
 * allowance of futureCeiling then measures the time between the records' own writes, which a consumer
 * catching up on a backlog does not compress: processing a sparse partition's backlog in one batch
 * used to refuse every record more than maxFutureSkew after the previous one as `future`. A clock that
 * only moves forward (advancedAtMs is a maximum) keeps a timestamp from the past from widening the
 * next record's allowance. docs/guarantees.md#event-time.
 */
export function recordNow(
  recordTimeMs: number | null | undefined,
  nowMs: number,
  clock: (wallMs: number) => number = (wallMs) => wallMs,
): number {
  if (recordTimeMs === null || recordTimeMs === undefined || !(recordTimeMs > 0)) return nowMs;
  return Math.min(nowMs, Math.floor(clock(recordTimeMs)));
}

/**
 * The watermark windows are judged at: the partitions' event clocks less the allowed lateness, so that
 * a window is judged only once records up to the lateness after its end had their chance to count
 * (design §4: "a window is judged once its grace period has passed").
 */
export function judgedWatermark(eventClockMs: number, allowedLatenessMs: number): number {
  return eventClockMs > 0 ? Math.max(0, eventClockMs - allowedLatenessMs) : 0;
}

/** Start of the bucket an event time falls in. */
export function windowBucketStart(eventTimeMs: number, bucketMs: number): number {
  return Math.floor(eventTimeMs / bucketMs) * bucketMs;
}

/**
 * A delayed label (design §5) joins its document while it comes within the grace period of the
 * document's event time, judged on the label's own labelled_at (so a replay decides the same).
 */
export function labelWithinGrace(
  documentEventTimeMs: number,
  labelledAtMs: number,
  graceMs: number,
): boolean {
  return labelledAtMs - documentEventTimeMs <= graceMs;
}
