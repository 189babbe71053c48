import type { FinsentryConfig } from '../config/schema.js';
import type { GroupWindowStats, WindowReader } from '../domain/windows.js';
import { effectiveAlertRules } from './default-rules.js';
import {
  baselineReference,
  trailingReference,
  type EvaluatorOptions,
  type ReferenceSource,
} from './evaluator.js';

/**
 * The evaluator's settings from config, apart from its ports: the service (src/app/evaluator.ts)
 * and the in-memory alerting of tests and backtests (./memory/alerting.ts) read config the same way.
 */

/** Gauge windows: the configured windows up to 1 h (24 h windows are for reports, too costly per interval). */
export function gaugeWindows(config: FinsentryConfig): number[] {
  const short = config.stats.windows.filter((w) => w <= 3_600_000);
  return short.length > 0 ? short : [Math.min(...config.stats.windows)];
}

/** A window store that also keeps captured baselines. */
export interface ReferenceStore extends WindowReader {
  readBaseline(name: string): Promise<{ dimensions: Record<string, GroupWindowStats[]> } | null>;
}

/** The reference of every window (design §6): a captured baseline or the trailing window. */
export function referenceFromConfig(config: FinsentryConfig, store: ReferenceStore): ReferenceSource {
  return config.evaluator.reference.kind === 'baseline'
    ? baselineReference(() => store.readBaseline(config.evaluator.reference.name))
    : trailingReference(store, config.evaluator.reference.window);
}

export type EvaluatorSettings = Pick<
  EvaluatorOptions,
  | 'rules'
  | 'intervalMs'
  | 'clock'
  | 'idlePartitionMs'
  | 'minSamples'
  | 'bucketMs'
  | 'gaugeDimensions'
  | 'gaugeWindows'
>;

export function evaluatorSettings(config: FinsentryConfig): EvaluatorSettings {
  return {
    rules: effectiveAlertRules(config),
    intervalMs: config.evaluator.interval,
    clock: config.evaluator.clock,
    idlePartitionMs: config.evaluator.idlePartitionTimeout,
    minSamples: config.stats.minSamples,
    bucketMs: config.stats.bucket,
    gaugeDimensions: config.stats.dimensions,
    gaugeWindows: gaugeWindows(config),
  };
}
