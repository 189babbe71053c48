import { DEFAULT_ALERT_RULES_RAW, withTrailingDriftReference } from '../../alerts/default-rules.js';
import { formatDuration } from '../../config/duration.js';
import { parseConfig } from '../../config/load.js';
import type { AlertRuleConfig, FinsentryConfig } from '../../config/schema.js';

/**
 * The config the demo runs `finsentry run` with: the user's base config (or the defaults) with the
 * demo's own names and clocks on top.
 *
 * Isolation. Every run gets its own input/output topics (`finsentry-demo-<run>.news.raw`, …), its
 * own consumer group and its own Redis key prefix, so a second run never reads the first one's
 * records, windows, alert states or leader lease, and two demos (or a demo and the tests) can run
 * side by side on one local stack. The default topics (news.raw, …) are left to real producers.
 *
 * Clocks. Windows are event time, so a replay at speedup X fills a 1 h window in 1 h / X of wall
 * time. The evaluator runs on the event clock (`evaluator.clock: event`): a rule's `for` and the alert
 * states' times are the statistics' watermark, so "held for 5 minutes" means 5 minutes of traffic at
 * any replay speed and however far the pipeline lags, and the alert events carry event times that
 * compare directly with the ground truth. It evaluates every second (instead of every 5 s) so that one
 * round stays a small slice of event time at high speedups.
 */

export interface DemoConfigOptions {
  runId: string;
  /** The user's config file contents (YAML/JSON parsed), or {} for the defaults. */
  base: Record<string, unknown>;
  sentimentModel: string;
  nerModel: string;
  /** models.languages (default: the base config's, else English). */
  languages?: readonly string[];
  /** The multilingual model that scores `zh` (a models.sets entry), when the Chinese phase has one. */
  zhModelDir?: string;
  metricsPort: number;
  executionProvider?: 'cpu' | 'cuda';
  brokers?: string[];
  redisUrl?: string;
  env?: NodeJS.ProcessEnv;
}

export interface DemoConfig {
  /** What is written to the run directory and given to `finsentry run --config`. */
  raw: Record<string, unknown>;
  /** The same, parsed and validated. */
  config: FinsentryConfig;
  /** The alert rules in force (what the ground truth's expected alerts are derived from). */
  rules: AlertRuleConfig[];
}

export const DEMO_EVALUATOR_INTERVAL_MS = 1_000;

export const DEMO_SCHEMA_IDS: Readonly<Record<string, string>> = {
  '101': 'io.finsentry.NewsArticle',
  '102': 'io.finsentry.ChatMessage',
};

/** Names of one run's topics, consumer group and key prefix. */
export function demoNames(runId: string): {
  topics: { news: string; chat: string; enriched: string; alerts: string; dlq: string; late: string };
  groupId: string;
  keyPrefix: string;
} {
  const base = `finsentry-demo-${runId}`;
  return {
    topics: {
      news: `${base}.news.raw`,
      chat: `${base}.chat.raw`,
      enriched: `${base}.enriched`,
      alerts: `${base}.alerts`,
      dlq: `${base}.dlq`,
      late: `${base}.late`,
    },
    groupId: base,
    keyPrefix: `fsdemo:${runId}`,
  };
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

export function buildDemoConfig(o: DemoConfigOptions): DemoConfig {
  const names = demoNames(o.runId);
  const base = o.base;
  const kafka = record(base.kafka);
  const redis = record(base.redis);
  const models = record(base.models);
  const stats = record(base.stats);
  const evaluator = record(base.evaluator);
  const metrics = record(base.metrics);
  const codec = record(base.codec);
  const limits = record(base.limits);
  const batching = record(base.batching);
  const baseRules = record(base.alerts).rules;
  // A demo starts from an empty store: no baseline to pin, so its drift rules use the trailing window.
  const rulesRaw = withTrailingDriftReference(
    (Array.isArray(baseRules) ? baseRules : DEFAULT_ALERT_RULES_RAW).map((r) => record(r)),
  );
  const raw: Record<string, unknown> = {
    ...base,
    kafka: {
      ...kafka,
      ...(o.brokers ? { brokers: o.brokers } : {}),
      clientId: 'finsentry-demo',
      groupId: names.groupId,
      // Labels (delayed human feedback) are not part of the demo's scenario.
      topics: { ...names.topics, labels: null },
      fromBeginning: true,
    },
    redis: { ...redis, ...(o.redisUrl ? { url: o.redisUrl } : {}), keyPrefix: names.keyPrefix },
    models: {
      ...models,
      sentiment: { ...record(models.sentiment), path: o.sentimentModel },
      ner: { aggregation: 'simple', ...record(models.ner), path: o.nerModel },
      ...(o.languages ? { languages: o.languages } : {}),
      ...(o.zhModelDir ? { sets: [{ name: 'multilingual', path: o.zhModelDir, languages: ['zh'] }] } : {}),
      ...(o.executionProvider ? { executionProvider: o.executionProvider } : {}),
    },
    // Schema ids for the Confluent framing, so that the replay sends both wire formats (design §2) and
    // the unknown-schema-id poison kind can be planted.
    codec: { ...codec, schemaIds: codec.schemaIds ?? DEMO_SCHEMA_IDS },
    // 512 KiB leaves room under the broker's 1 MB message limit for the oversize poison message, so
    // every poison kind reaches finsentry and is rejected there (the 1 MiB default is above the broker's).
    limits: { maxMessageBytes: 524_288, ...limits },
    // Smaller micro-batches than the product default (8192 padded tokens): on a small CPU they keep
    // the latency of the live view low and pad less (docs/benchmarks.md). (They were first chosen
    // because each batch ran on the event loop and a large one stalled Redis; ONNX Runtime now runs
    // in its own thread, models.inferenceThread.) A base config's batching settings win.
    batching: { maxBatchTokens: 1024, ...batching },
    // Every issuer of the demo's universe gets its own series in Prometheus, not only the top 10.
    stats: { topK: 30, ...stats },
    evaluator: {
      ...evaluator,
      enabled: true,
      interval: formatDuration(DEMO_EVALUATOR_INTERVAL_MS),
      clock: 'event',
    },
    alerts: { rules: rulesRaw },
    metrics: { host: '127.0.0.1', ...metrics, port: o.metricsPort },
  };
  const env = o.env ?? {};
  const config = parseConfig(raw, env);
  return { raw, config, rules: config.alerts!.rules };
}
