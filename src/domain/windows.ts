import type { GroupRef, LabelObservation, StatsObservation } from './observation.js';
import type { SentimentLabel } from './enrichment.js';

/**
 * Contract between the pipeline (writes), the Redis window store (src/io/redis) and its readers
 * (evaluator, `finsentry stats`, report). Implementations live in src/stats and src/io/redis.
 */

/** One atomic, idempotent unit of statistics: everything a batch contributes for one input partition. */
export interface StatsBatch {
  /** Identity of the input partition, e.g. "news.raw:3" — the unit of effectively-once state. */
  partitionKey: string;
  /** Highest input offset covered by this batch (decimal string). Batches at or below the stored offset are skipped. */
  lastOffset: string;
  observations: StatsObservation[];
  labels: LabelObservation[];
  /**
   * Fingerprint of the input record at lastOffset (src/domain/partition-state.ts): stored with the
   * offset so that a later reader can tell a recreated topic from a replay of the same one.
   */
  lastFingerprint?: string;
  /**
   * The pipeline reconciled this partition's state (src/pipeline/state-guard.ts): a missing state
   * then means it was lost (evicted, deleted) and the store answers `stateMissing` instead of counting.
   */
  expectState?: boolean;
}

export interface StatsApplyResult {
  /** False when the store had already applied this partition up to lastOffset (a replay). */
  applied: boolean;
  /** Observations older than watermark − allowed lateness: counted as late, not added to windows. */
  late: number;
  /**
   * Watermark (max event time applied, epoch ms) of the batch's partition after this batch. Lateness is
   * judged per partition (replay-deterministic); the store's watermark is the max over partitions.
   */
  watermarkMs: number;
  /** Observations too far ahead of the partition's event clock: not counted (src/stats/event-time.ts). */
  future?: number;
  /** The observations and labels not counted, with why (for the late-records topic). */
  refused?: RefusedRecord[];
  /**
   * (observation, group) pairs not counted because the observation's story was already counted in
   * that group (story dedup, docs/alerting.md "Surge"); absent when none.
   */
  storyCopies?: number;
  /**
   * Per dimension, the (observation or label, group) pairs counted in the group "~other" because their
   * bucket's cardinality budget was spent (src/stats/windows/group-budget.ts); absent when none.
   */
  folded?: Record<string, number>;
  /** The batch asked for an existing state (expectState) and there was none: nothing was applied. */
  stateMissing?: boolean;
}

/** A record the window store did not count, by its place in the batch. */
export interface RefusedRecord {
  documentId: string;
  /** Input offset, when the observation carried one. */
  offset?: string;
  reason: 'late' | 'future';
}

export interface StatsSink {
  /** Apply batches atomically and idempotently, in one Redis round trip for the whole call. */
  apply(batches: StatsBatch[]): Promise<StatsApplyResult[]>;
}

/** Histogram features kept per group and bucket; bins are fixed (documented in src/stats/histograms.ts). */
export const HISTOGRAM_FEATURES = ['p_neg', 'polarity', 'confidence', 'tokens'] as const;
export type HistogramFeature = (typeof HISTOGRAM_FEATURES)[number];

/** Sums over the buckets of one window for one (dimension, group). */
export interface GroupWindowStats {
  dimension: string;
  group: string;
  count: number;
  labelCounts: Record<SentimentLabel, number>;
  polaritySum: number;
  polaritySumSquares: number;
  histograms: Record<HistogramFeature, number[]>;
  tokens: number;
  unknownTokens: number;
  truncated: number;
  entityTypes: Record<string, number>;
  /** confusion[actual][predicted] over labelled documents, when labels exist. */
  confusion: Record<SentimentLabel, Record<SentimentLabel, number>> | null;
}

export interface WindowQuery {
  dimension: string;
  windowMs: number;
  /** Window end (exclusive), event time; default = current watermark. */
  endMs?: number;
}

export interface WindowReader {
  /** Current watermark (max event time applied), epoch ms; 0 when nothing is stored. */
  watermark(): Promise<number>;
  /**
   * Watermark of each input partition (partition key → max event time applied), when the store keeps
   * them apart; the evaluator uses them to read windows only as far as every active partition got.
   */
  partitionWatermarks?(): Promise<Map<string, number>>;
  /** All groups of a dimension in a window. */
  readWindow(query: WindowQuery): Promise<GroupWindowStats[]>;
  /** Per-bucket series for one group (for reports): [bucketStartMs, stats] ascending. */
  readSeries(query: WindowQuery & { group: string }): Promise<Array<[number, GroupWindowStats]>>;
  /** Count of late (excluded) observations so far. */
  lateCount(): Promise<number>;
}

/** A delayed label joined to its document's prediction (src/pipeline/label-join.ts), ready to count. */
export interface JoinedLabel {
  /** Hash of (kind, document id): src/pipeline/label-join.ts documentKey. */
  documentKey: string;
  documentEventTimeMs: number;
  groups: readonly GroupRef[];
  predicted: SentimentLabel;
  actual: SentimentLabel;
  labelledAtMs: number;
}

export interface LabelApplyCounts {
  /** First label of its document. */
  counted: number;
  /** A different label replaced the previous one's contribution. */
  replaced: number;
  /** The same label again (a replay, a duplicate): nothing changed. */
  unchanged: number;
  /** Older than the label already applied: ignored. */
  stale: number;
}
