import type { SchemaLookupOutcome } from '../codec/registry.js';
/**
 * What the pipeline reports while it runs. `PipelineMetrics` (src/telemetry/metrics.ts) implements it
 * structurally, so `run` passes the metrics object straight in; tests pass an observer that records.
 * Keeping this an interface leaves metric creation in one module (telemetry) and the pipeline free of
 * prom-client.
 */
export type ObservedStage = 'decode' | 'infer' | 'stats' | 'produce' | 'commit' | 'batch';

export interface PipelineObserver {
  documentsConsumed(topic: string, kind: string, n?: number): void;
  documentsProcessed(kind: string, n?: number): void;
  /** One call per dead-lettered record, by reason code (src/codec/reasons.ts). */
  dlq(reason: string, n?: number): void;
  produced(topic: string, n?: number): void;
  observeStage(stage: ObservedStage, seconds: number): void;
  eventTimeLag(seconds: number): void;
  consumerLag(topic: string, partition: number, lag: number): void;
  redisLatency(operation: string, seconds: number): void;
  /** Observations the window store refused: `late` (behind the watermark) or `future` (src/stats/event-time.ts). */
  lateEvents(n: number, reason?: 'late' | 'future'): void;
  watermark(ms: number): void;
  /** Items the cardinality budget folded into a dimension's "~other" group (src/stats/windows/group-budget.ts). */
  groupsFolded?(dimension: string, n: number): void;
  queuedDocuments(n: number): void;
  pausedPartitions(n: number): void;
  batchCompleted(nowMs?: number): void;
  /** A partition's window-store state was reconciled (src/pipeline/state-guard.ts), by reason. */
  partitionStateEvent?(topic: string, partition: number, reason: string): void;
  /** One schema registry look-up by id and how long it took (src/app/schema-registry.ts). */
  schemaRegistryLookup?(outcome: SchemaLookupOutcome, seconds: number): void;
}

const noop = (): void => {};

export const NOOP_OBSERVER: PipelineObserver = {
  documentsConsumed: noop,
  documentsProcessed: noop,
  dlq: noop,
  produced: noop,
  observeStage: noop,
  eventTimeLag: noop,
  consumerLag: noop,
  redisLatency: noop,
  lateEvents: noop,
  watermark: noop,
  queuedDocuments: noop,
  pausedPartitions: noop,
  batchCompleted: noop,
};
