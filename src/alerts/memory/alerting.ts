import type { FinsentryConfig } from '../../config/schema.js';
import type { StatsApplyResult, StatsBatch } from '../../domain/windows.js';
import { ALERT_STORY_LIMIT, MemoryStoryExemplars, withStoryExemplars } from '../../stats/story-exemplars.js';
import { MemoryWindowStore } from '../../stats/windows/memory-store.js';
import { windowStoreOptions } from '../../stats/windows/rules.js';
import type { Logger } from '../../telemetry/logger.js';
import type { AlertEvent } from '../events.js';
import { evaluatorSettings, referenceFromConfig, type EvaluatorSettings } from '../evaluator-config.js';
import { Evaluator, type EvaluationResult, type EvaluatorMetrics } from '../evaluator.js';
import type { AlertPublisher } from '../ports.js';
import { MemoryAlertStateStore } from './alert-state-store.js';
import { LeaseAuthority, MemoryLeaderLease } from './leader-lease.js';

/**
 * The rules, the state machine and the evaluator on in-memory windows — no Redis, no Kafka — for
 * unit tests and backtests (`finsentry backtest`). Feed statistics batches in event-time order with
 * apply(), call evaluate() as often as you like (each call steps every bucket end the watermark
 * passed, on the event clock), and read `events`, every alert state change in order.
 *
 *   const run = createMemoryAlerting(config);
 *   for (const batch of batches) { await run.apply([batch]); await run.evaluate(); }
 *   run.events  // AlertEvent[]: pending, firing, resolved, with event-time timestamps
 *
 * Clocks: alert states run on the event clock (a backtest's `for: 5m` is 5 minutes of traffic);
 * partition idleness (EvaluatorOptions.idlePartitionMs) and counter TTLs are measured in event time
 * too, so the result does not depend on how fast the backtest runs.
 */
export interface MemoryAlerting {
  readonly windows: MemoryWindowStore;
  readonly evaluator: Evaluator;
  /** Every published alert event, in publication order. */
  readonly events: AlertEvent[];
  apply(batches: StatsBatch[]): Promise<StatsApplyResult[]>;
  /** One evaluation round (at most 30 bucket ends; call again until `transitions` are empty to catch up). */
  evaluate(): Promise<EvaluationResult>;
  /** Evaluates until every complete bucket up to the watermark has been stepped. */
  drain(): Promise<AlertEvent[]>;
}

export interface MemoryAlertingOptions {
  /** Overrides of the settings read from config (rules, minSamples, …). */
  settings?: Partial<EvaluatorSettings>;
  /** More publishers besides the `events` list (e.g. a writer of a backtest report). */
  publishers?: readonly AlertPublisher[];
  metrics?: EvaluatorMetrics;
  logger?: Logger;
}

export function createMemoryAlerting(
  config: FinsentryConfig,
  options: MemoryAlertingOptions = {},
): MemoryAlerting {
  const storeOptions = windowStoreOptions(config);
  const windows = new MemoryWindowStore({ ...storeOptions, expiry: 'event' });
  // The stories a surge alert names (docs/alerting.md "Surge"), beside the counts as in the service.
  const stories = new MemoryStoryExemplars({
    bucketMs: storeOptions.bucketMs,
    dimensions: config.stats.stories.dedupDimensions,
    perBucket: ALERT_STORY_LIMIT,
    retentionMs: storeOptions.ttlSeconds * 1000,
  });
  const sink = withStoryExemplars(windows, stories);
  const authority = new LeaseAuthority(() => windows.currentWatermark());
  const lease = new MemoryLeaderLease({ authority });
  const events: AlertEvent[] = [];
  const evaluator = new Evaluator({
    ...evaluatorSettings(config),
    clock: 'event',
    ...options.settings,
    store: new MemoryAlertStateStore(authority),
    lease,
    windows,
    stories,
    reference: referenceFromConfig(config, windows),
    publishers: [
      {
        publish: (published) => {
          events.push(...published);
          return Promise.resolve();
        },
      },
      ...(options.publishers ?? []),
    ],
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    now: () => windows.currentWatermark(),
  });
  void lease.tick(); // synchronous for the memory lease: leader from the start
  const evaluate = () => evaluator.evaluateOnce();
  return {
    windows,
    evaluator,
    events,
    apply: (batches) => sink.apply(batches),
    evaluate,
    async drain() {
      const before = events.length;
      let last = -1;
      // Each round steps up to 30 bucket ends; stop once a round no longer moves the event clock.
      for (;;) {
        await evaluate();
        const at = evaluator.eventTimeMs;
        if (at === last) break;
        last = at;
      }
      return events.slice(before);
    },
  };
}
