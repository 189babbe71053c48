/**
 * Every Prometheus metric finsentry exports, created on one prom-client Registry (design §9).
 *
 * Naming follows Prometheus conventions: `finsentry_` prefix, base units (seconds, ratios 0..1),
 * `_total` counters, `_seconds` histograms. No label is fed from unbounded data: free-form values
 * (DLQ reasons, topics, kinds) go through a capped label set, group labels of unbounded dimensions
 * (issuers, tickers) are limited to a configured top-K plus `other` (design §4 last bullet).
 *
 * How the rest of the code uses it — create once per process and pass the object around:
 *
 *   const metrics = createMetrics({ stats: config.stats });
 *   // pipeline (src/pipeline, src/io/kafka)
 *   metrics.documentsConsumed(topic, 'news', n);       metrics.documentsProcessed('news', n);
 *   metrics.dlq('decode_error');                       metrics.produced('finsentry.enriched', n);
 *   const end = metrics.startStage('tokenize'); …; end();   // or metrics.observeStage('infer', s)
 *   metrics.batch({ size, paddedTokens, realTokens });
 *   metrics.eventTimeLag(seconds);                     metrics.lateEvents(n);
 *   metrics.consumerLag(topic, partition, lag);        metrics.redisLatency('apply', seconds);
 *   metrics.batchCompleted(Date.now());                metrics.watermark(ms);
 *   metrics.queuedDocuments(n);                        metrics.pausedPartitions(n);
 *   // inference (src/inference)
 *   metrics.inferenceLatency('sentiment', seconds);    metrics.modelInfo(models);
 *   // evaluator (src/alerts)
 *   metrics.groupSentiment(dimension, windowMs, groups, pinned);
 *   metrics.fairness(dimension, windowMs, {...});      metrics.drift(feature, windowMs, {...});
 *   metrics.alertStates(counts);                       metrics.leader(isLeader, token);
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SchemaLookupOutcome } from '../codec/registry.js';
import { formatDuration } from '../config/duration.js';
import type { ModelInfo } from '../domain/enrichment.js';
import { OTHER_GROUP, sanitizeLabelValue } from './label-values.js';

export const PIPELINE_STAGES = [
  'decode',
  'tokenize',
  'infer',
  'stats',
  'produce',
  'commit',
  'batch',
] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** Sentiment classes of the per-class rate gauges (a fixed set: bounded labels). */
const CLASS_LABELS = ['negative', 'neutral', 'positive'] as const;

export const ALERT_STATES = ['inactive', 'pending', 'firing', 'resolved'] as const;
export type AlertStateName = (typeof ALERT_STATES)[number];

/** Per-group figures the evaluator exports for one (dimension, window). */
export interface GroupSentimentSample {
  group: string;
  count: number;
  negative: number;
  /** Mean polarity (p_pos − p_neg). */
  meanPolarity: number;
  /** Two-proportion z of the group's negative share against its reference (NaN when unknown). */
  negativeShareZ?: number;
  /** Realised (joined labels) and estimated (CBPE) model performance; src/stats/performance.ts. */
  performance?: PerformanceSample;
}

export interface PerformanceSample {
  labelled: number;
  accuracy: number | null;
  macroF1: number | null;
  labelCoverage: number | null;
  estimatedAccuracy: number | null;
  /** One-vs-rest TPR and FPR per class from the joined labels; null where the denominator is 0. */
  classRates?: Readonly<Record<string, { tpr: number | null; fpr: number | null }>>;
}

/** Performance of the groups summed into "other": label- and document-weighted means; macro-F1 is not additive. */
function pooledPerformance(groups: readonly GroupSentimentSample[]): PerformanceSample {
  let labelled = 0;
  let correct = 0;
  let count = 0;
  let estimatedSum = 0;
  for (const g of groups) {
    const p = g.performance;
    if (!p) continue;
    labelled += p.labelled;
    correct += (p.accuracy ?? 0) * p.labelled;
    count += g.count;
    estimatedSum += (p.estimatedAccuracy ?? 0) * g.count;
  }
  return {
    labelled,
    accuracy: labelled > 0 ? correct / labelled : null,
    macroF1: null,
    labelCoverage: count > 0 ? labelled / count : null,
    estimatedAccuracy: count > 0 ? estimatedSum / count : null,
  };
}

export interface FairnessSample {
  demographicParityDifference: number;
  disparateImpactRatio: number;
  /** Largest |z| of a judged group's negative share against the rest. */
  worstGroupZ: number;
  breachingGroups: number;
  judgedGroups: number;
  /** Simultaneous confidence intervals of the DIR and of the DPD (docs/alerting.md). */
  disparateImpactRatioInterval: { low: number; high: number };
  demographicParityDifferenceInterval: { low: number; high: number };
  /** Equalized odds difference of the joined labels and its simultaneous interval (src/stats/equalized-odds.ts). */
  equalizedOddsDifference: number;
  equalizedOddsDifferenceInterval: { low: number; high: number };
}

export interface DriftSample {
  psi: number;
  jsDistance: number;
  ksStatistic: number;
}

export interface AlertStateCount {
  rule: string;
  severity: string;
  state: AlertStateName;
  count: number;
}

export interface MetricsOptions {
  registry?: Registry;
  /** Dimensions and top-K from config.stats; bounded dimensions export all groups (capped). */
  stats: { dimensions: Array<{ name: string; bounded: boolean }>; topK: number };
  /** Include Node.js process metrics (default true). */
  processMetrics?: boolean;
  /** Cap on groups of a "bounded" dimension, as a safety net against mis-configuration. */
  maxBoundedGroups?: number;
}

/**
 * Maps values onto at most `limit` distinct label values; later new values become `other`. For label
 * sources that are bounded in practice (topics, DLQ reasons) but must never explode if they are not.
 */
export class CappedLabelSet {
  private readonly seen = new Set<string>();
  constructor(private readonly limit: number) {}
  label(value: string): string {
    const clean = sanitizeLabelValue(value);
    if (this.seen.has(clean)) return clean;
    if (this.seen.size >= this.limit) return OTHER_GROUP;
    this.seen.add(clean);
    return clean;
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const RATIO_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export function windowLabel(windowMs: number): string {
  return formatDuration(windowMs);
}

/** Created once per process; see the header comment for how each part of the pipeline calls it. */
export class PipelineMetrics {
  readonly registry: Registry;

  private readonly consumed: Counter<'topic' | 'kind'>;
  private readonly processed: Counter<'kind'>;
  private readonly dlqMessages: Counter<'reason'>;
  private readonly producedMessages: Counter<'topic'>;
  private readonly batchSize: Histogram;
  private readonly paddingRatio: Histogram;
  /** Deprecated alias (docs/metrics-deprecations.md): type="padded" counts all positions. */
  private readonly batchTokens: Counter<'type'>;
  private readonly batchTokenPositions: Counter<'type'>;
  private readonly stageDuration: Histogram<'stage'>;
  private readonly inferenceDuration: Histogram<'task'>;
  private readonly eventLag: Histogram;
  private readonly lag: Gauge<'topic' | 'partition'>;
  private readonly stall: Gauge<'topic' | 'partition'>;
  private readonly redisDuration: Histogram<'operation'>;
  private readonly registryDuration: Histogram<'outcome'>;
  private readonly late: Counter;
  private readonly folded: Counter<'dimension'>;
  private readonly stateEvents: Counter<'topic' | 'partition' | 'reason'>;
  private readonly outboxPending: Gauge;
  private readonly outboxFailures: Counter;
  private readonly labelJoin: Counter;
  private readonly unscored: Counter;
  private readonly unresolvedMentions: Counter;
  private readonly model: Gauge<'task' | 'name' | 'version' | 'sha256' | 'provider'>;
  private readonly lastBatch: Gauge;
  private readonly watermarkGauge: Gauge;
  private readonly queued: Gauge;
  private readonly paused: Gauge;

  private readonly groupDocuments: Gauge<'dimension' | 'group' | 'window'>;
  /** Deprecated alias of groupNegativeRatio (docs/metrics-deprecations.md). */
  private readonly groupNegativeShare: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupNegativeRatio: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupNegativeShareZ: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupMeanPolarity: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupAccuracy: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupMacroF1: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupLabelCoverage: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupEstimatedAccuracy: Gauge<'dimension' | 'group' | 'window'>;
  private readonly groupTruePositiveRate: Gauge<'dimension' | 'group' | 'window' | 'class'>;
  private readonly groupFalsePositiveRate: Gauge<'dimension' | 'group' | 'window' | 'class'>;
  private readonly fairnessEod: Gauge<'dimension' | 'window'>;
  private readonly fairnessEodBound: Gauge<'dimension' | 'window' | 'bound'>;
  private readonly fairnessDpd: Gauge<'dimension' | 'window'>;
  private readonly fairnessDir: Gauge<'dimension' | 'window'>;
  private readonly fairnessWorstZ: Gauge<'dimension' | 'window'>;
  private readonly fairnessBreaching: Gauge<'dimension' | 'window'>;
  private readonly fairnessJudged: Gauge<'dimension' | 'window'>;
  private readonly fairnessDirBound: Gauge<'dimension' | 'window' | 'bound'>;
  private readonly driftBaselinePresent: Gauge<'baseline'>;
  private readonly alertState: Gauge<'rule' | 'severity' | 'dimension' | 'group' | 'state'>;
  private readonly fairnessDpdBound: Gauge<'dimension' | 'window' | 'bound'>;
  private readonly driftPsi: Gauge<'feature' | 'window'>;
  private readonly driftJs: Gauge<'feature' | 'window'>;
  private readonly driftKs: Gauge<'feature' | 'window'>;
  private readonly alerts: Gauge<'rule' | 'severity' | 'state'>;
  private readonly alertTransitions: Counter<'rule' | 'severity' | 'state'>;
  private readonly leaderGauge: Gauge;
  private readonly fencingToken: Gauge;
  private readonly evaluations: Counter<'outcome'>;
  private readonly evaluationDuration: Histogram;
  private readonly lastEvaluation: Gauge;
  /** Deprecated alias of evaluationEventTimestamp (docs/metrics-deprecations.md). */
  private readonly evaluationEventTime: Gauge;
  private readonly evaluationEventTimestamp: Gauge;

  private readonly topics = new CappedLabelSet(32);
  private readonly kinds = new CappedLabelSet(8);
  private readonly reasons = new CappedLabelSet(32);
  private readonly languages = new CappedLabelSet(64);
  private readonly redisOps = new CappedLabelSet(16);
  private readonly lagSeries = new CappedLabelSet(1024);
  private readonly boundedDimensions: Set<string>;
  private readonly knownDimensions: Set<string>;
  private readonly topK: number;
  private readonly maxBoundedGroups: number;
  /** Group label values currently exported per "dimension|window", so stale series can be removed. */
  private readonly exportedGroups = new Map<string, Set<string>>();
  private readonly exportedAlertStates = new Set<string>();

  // long-function: the metric catalogue, one declaration per metric and no logic; split up it would be harder to scan.
  constructor(options: MetricsOptions) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    this.topK = options.stats.topK;
    this.maxBoundedGroups = options.maxBoundedGroups ?? 64;
    this.boundedDimensions = new Set(options.stats.dimensions.filter((d) => d.bounded).map((d) => d.name));
    this.knownDimensions = new Set(options.stats.dimensions.map((d) => d.name));
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: registry });
      // prom-client names these gauges *_total, which `promtool check metrics` rejects; the same
      // figures remain available per type as nodejs_active_handles / _requests / _resources.
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ]) {
        registry.removeSingleMetric(name);
      }
    }
    const registers = [registry];

    this.consumed = new Counter({
      name: 'finsentry_documents_consumed_total',
      help: 'Input records fetched from Kafka, by topic and document kind.',
      labelNames: ['topic', 'kind'],
      registers,
    });
    this.processed = new Counter({
      name: 'finsentry_documents_processed_total',
      help: 'Documents enriched and committed, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.dlqMessages = new Counter({
      name: 'finsentry_dlq_messages_total',
      help: 'Input records sent to the dead-letter topic, by machine-readable reason.',
      labelNames: ['reason'],
      registers,
    });
    this.producedMessages = new Counter({
      name: 'finsentry_kafka_produced_messages_total',
      help: 'Records produced to output topics.',
      labelNames: ['topic'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'finsentry_batch_size_documents',
      help: 'Documents per inference micro-batch.',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.paddingRatio = new Histogram({
      name: 'finsentry_batch_padding_ratio',
      help: 'Share of padded token positions that are padding, per micro-batch (0..1).',
      buckets: RATIO_BUCKETS,
      registers,
    });
    this.batchTokenPositions = new Counter({
      name: 'finsentry_batch_token_positions_total',
      help: 'Token positions sent to the models: type="real" (tokens) or type="padding"; the sum over type is all positions.',
      labelNames: ['type'],
      registers,
    });
    this.batchTokens = new Counter({
      name: 'finsentry_batch_tokens_total',
      help: 'Token positions sent to the models: type="real" or type="padded" (all positions incl. padding).',
      labelNames: ['type'],
      registers,
    });
    this.stageDuration = new Histogram({
      name: 'finsentry_stage_duration_seconds',
      help: 'Time spent per batch in each pipeline stage.',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inferenceDuration = new Histogram({
      name: 'finsentry_inference_duration_seconds',
      help: 'ONNX Runtime session run time per batch, by model task.',
      labelNames: ['task'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.eventLag = new Histogram({
      name: 'finsentry_event_time_lag_seconds',
      help: 'Processing time minus event time of each document.',
      buckets: LAG_BUCKETS,
      registers,
    });
    this.lag = new Gauge({
      name: 'finsentry_consumer_lag_messages',
      help: 'Kafka consumer lag (high watermark minus committed offset) per input partition.',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.stall = new Gauge({
      name: 'finsentry_partition_stall_seconds',
      help: 'Seconds since the committed offset of an owned input partition last moved while records wait (0 when none waits).',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.redisDuration = new Histogram({
      name: 'finsentry_redis_duration_seconds',
      help: 'Redis round-trip time by operation.',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.registryDuration = new Histogram({
      name: 'finsentry_schema_registry_lookup_duration_seconds',
      help: 'Schema registry look-ups by id (schema ids not in the local cache), by outcome: found, not_found (the records go to the DLQ as unknown-schema-id) or error (the batch is retried).',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.unscored = new Counter({
      name: 'finsentry_documents_unscored_total',
      help: 'Documents enriched without a sentiment because no configured model reads their language (models.languages), by routed language.',
      labelNames: ['language'],
      registers,
    });
    this.unresolvedMentions = new Counter({
      name: 'finsentry_issuer_unresolved_mentions_total',
      help: 'ORG mentions the security master (stats.issuers.file) resolved to no issuer; counted apart, never an issuer group (docs/alerting.md "Surge").',
      registers,
    });
    this.late = new Counter({
      name: 'finsentry_late_events_total',
      help: 'Observations the windows refused, by reason: late (older than the partition watermark = event clock minus allowed lateness) or future (beyond limits.maxFutureSkew ahead of the event clock); sent to the late-records topic.',
      labelNames: ['reason'],
      registers,
    });
    this.folded = new Counter({
      name: 'finsentry_groups_folded_total',
      help: 'Documents and labels counted in the group "~other" of a dimension because their bucket held stats.maxGroupsPerBucket groups already (the cardinality budget, docs/guarantees.md), by dimension.',
      labelNames: ['dimension'],
      registers,
    });
    this.stateEvents = new Counter({
      name: 'finsentry_partition_state_events_total',
      help: 'Window-store partition states reconciled before counting (docs/guarantees.md "Lost state and offset reuse"), by reason: state-rebuilt (state lost, offset rebuilt from the counters), state-lost (no counter survived), offset-reuse (topic recreated), offset-unverified (replay that could not be verified).',
      labelNames: ['topic', 'partition', 'reason'],
      registers,
    });
    this.outboxPending = new Gauge({
      name: 'finsentry_alert_outbox_events',
      help: 'Alert events committed to the outbox and not yet accepted by the alerts topic (they are retried every evaluation round).',
      registers,
    });
    this.outboxFailures = new Counter({
      name: 'finsentry_alert_publish_failures_total',
      help: 'Evaluation rounds whose publishing of the alert outbox to Kafka failed (the events stay in the outbox; evaluation goes on).',
      registers,
    });
    this.labelJoin = new Counter({
      name: 'finsentry_labels_total',
      help: 'Delayed labels by outcome: counted, replaced (relabel), unchanged (same label again), stale (older than the applied one), unmatched (no known prediction), expired (past stats.labelGracePeriod).',
      labelNames: ['outcome'],
      registers,
    });
    this.model = new Gauge({
      name: 'finsentry_model_info',
      help: 'Loaded models (value 1), with name, version, sha256 of the ONNX file and the execution provider in use.',
      labelNames: ['task', 'name', 'version', 'sha256', 'provider'],
      registers,
    });
    this.lastBatch = new Gauge({
      name: 'finsentry_last_batch_timestamp_seconds',
      help: 'Unix time at which the last batch was committed, or the process started (stalled-pipeline detection).',
      registers,
    });
    // Starts at process start, so "time since last batch" never measures from 1970 before the first batch.
    this.lastBatch.set(Date.now() / 1000);
    this.watermarkGauge = new Gauge({
      name: 'finsentry_watermark_timestamp_seconds',
      help: 'Event-time watermark of the window store (max event time applied).',
      registers,
    });
    this.queued = new Gauge({
      name: 'finsentry_queued_documents',
      help: 'Documents buffered between fetch and commit.',
      registers,
    });
    this.paused = new Gauge({
      name: 'finsentry_paused_partitions',
      help: 'Input partitions currently paused for backpressure.',
      registers,
    });

    const groupLabels = ['dimension', 'group', 'window'] as const;
    this.groupDocuments = new Gauge({
      name: 'finsentry_group_documents',
      help: 'Documents in the window per group (bounded dimensions: all groups; others: top-K and "other").',
      labelNames: groupLabels,
      registers,
    });
    this.groupNegativeShare = new Gauge({
      name: 'finsentry_group_negative_share',
      help: 'DEPRECATED (removed in the next release): use finsentry_group_negative_ratio.',
      labelNames: groupLabels,
      registers,
    });
    this.groupNegativeRatio = new Gauge({
      name: 'finsentry_group_negative_ratio',
      help: 'Share of documents predicted negative per group in the window (0..1).',
      labelNames: groupLabels,
      registers,
    });
    this.groupNegativeShareZ = new Gauge({
      name: 'finsentry_group_negative_share_zscore',
      help: "Two-proportion z of the group's negative share against its reference window.",
      labelNames: groupLabels,
      registers,
    });
    this.groupMeanPolarity = new Gauge({
      name: 'finsentry_group_mean_polarity',
      help: 'Mean polarity (p_pos - p_neg) per group in the window (-1..1).',
      labelNames: groupLabels,
      registers,
    });
    this.groupAccuracy = new Gauge({
      name: 'finsentry_group_accuracy_ratio',
      help: 'Realised sentiment accuracy per group in the window, over documents with a joined label (0..1).',
      labelNames: groupLabels,
      registers,
    });
    this.groupMacroF1 = new Gauge({
      name: 'finsentry_group_macro_f1_ratio',
      help: 'Realised sentiment macro-F1 per group in the window, over documents with a joined label (0..1).',
      labelNames: groupLabels,
      registers,
    });
    this.groupLabelCoverage = new Gauge({
      name: 'finsentry_group_label_coverage_ratio',
      help: 'Labelled / predicted documents per group in the window (can exceed 1 while labels catch up).',
      labelNames: groupLabels,
      registers,
    });
    this.groupEstimatedAccuracy = new Gauge({
      name: 'finsentry_group_estimated_accuracy_ratio',
      help: 'Estimated accuracy per group in the window: mean calibrated confidence (CBPE), before labels arrive.',
      labelNames: groupLabels,
      registers,
    });
    this.groupTruePositiveRate = new Gauge({
      name: 'finsentry_group_true_positive_rate',
      help: 'One-vs-rest true positive rate of a sentiment class per group in the window, over documents with a joined label (absent without actual members of the class).',
      labelNames: [...groupLabels, 'class'],
      registers,
    });
    this.groupFalsePositiveRate = new Gauge({
      name: 'finsentry_group_false_positive_rate',
      help: 'One-vs-rest false positive rate of a sentiment class per group in the window, over documents with a joined label (absent without actual non-members).',
      labelNames: [...groupLabels, 'class'],
      registers,
    });
    const dimWindow = ['dimension', 'window'] as const;
    this.fairnessEod = new Gauge({
      name: 'finsentry_fairness_equalized_odds_difference',
      help: "Fairlearn's equalized odds difference of the joined labels over judged groups (worst class and rate, per-class minimum of the dimension's equalized-odds rule).",
      labelNames: dimWindow,
      registers,
    });
    this.fairnessEodBound = new Gauge({
      name: 'finsentry_fairness_equalized_odds_difference_bound',
      help: 'Bounds (bound="lower"|"upper") of the simultaneous confidence interval of the equalized odds difference (Newcombe, Bonferroni over pairs, classes and rates).',
      labelNames: [...dimWindow, 'bound'],
      registers,
    });
    this.fairnessDpd = new Gauge({
      name: 'finsentry_fairness_demographic_parity_difference',
      help: 'max_g r_g - min_g r_g over judged groups, r = negative share.',
      labelNames: dimWindow,
      registers,
    });
    this.fairnessDir = new Gauge({
      name: 'finsentry_fairness_disparate_impact_ratio',
      help: 'min_g r_g / max_g r_g over judged groups (four-fifths rule: below 0.8 is a concern).',
      labelNames: dimWindow,
      registers,
    });
    this.fairnessWorstZ = new Gauge({
      name: 'finsentry_fairness_worst_group_zscore',
      help: "Largest |z| of a judged group's negative share against the rest of the dimension.",
      labelNames: dimWindow,
      registers,
    });
    this.fairnessBreaching = new Gauge({
      name: 'finsentry_fairness_breaching_groups',
      help: 'Judged groups whose negative share differs significantly from the rest.',
      labelNames: dimWindow,
      registers,
    });
    this.fairnessJudged = new Gauge({
      name: 'finsentry_fairness_judged_groups',
      help: 'Groups with at least min_samples documents in the window.',
      labelNames: dimWindow,
      registers,
    });
    const bounds = ['dimension', 'window', 'bound'] as const;
    this.fairnessDirBound = new Gauge({
      name: 'finsentry_fairness_disparate_impact_ratio_bound',
      help: 'Bounds (bound="lower"|"upper") of the simultaneous confidence interval of the disparate impact ratio (Katz, Bonferroni over pairs of judged groups), at the confidence of the dimension DIR rule (default 0.95).',
      labelNames: bounds,
      registers,
    });
    this.fairnessDpdBound = new Gauge({
      name: 'finsentry_fairness_demographic_parity_difference_bound',
      help: 'Bounds (bound="lower"|"upper") of the simultaneous confidence interval of the demographic parity difference (Newcombe, Bonferroni over pairs of judged groups), at the confidence of the dimension DIR rule (default 0.95).',
      labelNames: bounds,
      registers,
    });
    this.alertState = new Gauge({
      name: 'finsentry_alert_state',
      help: "1 per pending or firing alert of the built-in evaluator (its decision; Prometheus' finsentry-evaluator rules alert on it). dimension and group as on the Alertmanager alert (empty for pipeline rules and dimension-wide fairness alerts).",
      labelNames: ['rule', 'severity', 'dimension', 'group', 'state'],
      registers,
    });
    this.driftBaselinePresent = new Gauge({
      name: 'finsentry_drift_baseline_present',
      help: '1 when the pinned drift baseline (the default reference of drift rules) exists, 0 when none is captured: drift rules on it are not judged.',
      labelNames: ['baseline'],
      registers,
    });
    const featureWindow = ['feature', 'window'] as const;
    this.driftPsi = new Gauge({
      name: 'finsentry_drift_psi',
      help: 'Population stability index of a feature, current window vs reference.',
      labelNames: featureWindow,
      registers,
    });
    this.driftJs = new Gauge({
      name: 'finsentry_drift_js_distance',
      help: 'Jensen-Shannon distance (base 2) of a feature, current window vs reference.',
      labelNames: featureWindow,
      registers,
    });
    this.driftKs = new Gauge({
      name: 'finsentry_drift_ks_statistic',
      help: 'Kolmogorov-Smirnov statistic of a numeric feature, current window vs reference.',
      labelNames: featureWindow,
      registers,
    });
    this.alerts = new Gauge({
      name: 'finsentry_alerts',
      help: 'Alerts of the built-in evaluator per rule and state (pending or firing).',
      labelNames: ['rule', 'severity', 'state'],
      registers,
    });
    this.alertTransitions = new Counter({
      name: 'finsentry_alert_transitions_total',
      help: 'Alert state changes emitted by the evaluator, by rule and new state.',
      labelNames: ['rule', 'severity', 'state'],
      registers,
    });
    this.leaderGauge = new Gauge({
      name: 'finsentry_evaluator_leader',
      help: '1 when this replica holds the evaluator leader lease, else 0.',
      registers,
    });
    this.fencingToken = new Gauge({
      name: 'finsentry_evaluator_fencing_token',
      help: 'Fencing token of the lease this replica holds (0 when not leader).',
      registers,
    });
    this.evaluations = new Counter({
      name: 'finsentry_evaluations_total',
      help: 'Evaluator runs by outcome (ok, error, fenced).',
      labelNames: ['outcome'],
      registers,
    });
    this.evaluationDuration = new Histogram({
      name: 'finsentry_evaluation_duration_seconds',
      help: 'Time per evaluator run.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.lastEvaluation = new Gauge({
      name: 'finsentry_last_evaluation_timestamp_seconds',
      help: 'Unix time of the last successful evaluator run on this replica.',
      registers,
    });
    this.evaluationEventTime = new Gauge({
      name: 'finsentry_evaluation_event_time_seconds',
      help: 'DEPRECATED (removed in the next release): use finsentry_evaluation_event_timestamp_seconds.',
      registers,
    });
    this.evaluationEventTimestamp = new Gauge({
      name: 'finsentry_evaluation_event_timestamp_seconds',
      help: 'Event time (Unix seconds) the windows of the last evaluation ended at.',
      registers,
    });
  }

  // ---- pipeline ---------------------------------------------------------------------------------

  documentsConsumed(topic: string, kind: string, n = 1): void {
    this.consumed.inc({ topic: this.topics.label(topic), kind: this.kinds.label(kind) }, n);
  }

  documentsProcessed(kind: string, n = 1): void {
    this.processed.inc({ kind: this.kinds.label(kind) }, n);
  }

  /** A document in a language no configured model reads (design §3). */
  documentUnscored(language: string, n = 1): void {
    this.unscored.inc({ language: this.languages.label(language) }, n);
  }

  /** Distinct ORG mentions of a document that resolved to no issuer (docs/alerting.md "Surge"). */
  issuerMentionsUnresolved(n = 1): void {
    this.unresolvedMentions.inc(n);
  }

  dlq(reason: string, n = 1): void {
    this.dlqMessages.inc({ reason: this.reasons.label(reason) }, n);
  }

  produced(topic: string, n = 1): void {
    this.producedMessages.inc({ topic: this.topics.label(topic) }, n);
  }

  /** One micro-batch: size in documents, padded positions (batch × longest) and real tokens. */
  batch(b: { size: number; paddedTokens: number; realTokens: number }): void {
    this.batchSize.observe(b.size);
    if (b.paddedTokens > 0)
      this.paddingRatio.observe(Math.max(0, (b.paddedTokens - b.realTokens) / b.paddedTokens));
    this.batchTokens.inc({ type: 'padded' }, b.paddedTokens);
    this.batchTokens.inc({ type: 'real' }, b.realTokens);
    this.batchTokenPositions.inc({ type: 'real' }, b.realTokens);
    this.batchTokenPositions.inc({ type: 'padding' }, Math.max(0, b.paddedTokens - b.realTokens));
  }

  observeStage(stage: PipelineStage, seconds: number): void {
    this.stageDuration.observe({ stage }, seconds);
  }

  /** Starts a timer; calling the returned function records the stage and returns the seconds. */
  startStage(stage: PipelineStage): () => number {
    return this.stageDuration.startTimer({ stage });
  }

  /** `joint`: one batch of a joint model, which answers for sentiment and NER in one run. */
  inferenceLatency(task: ModelInfo['task'] | 'joint', seconds: number): void {
    this.inferenceDuration.observe({ task }, seconds);
  }

  eventTimeLag(seconds: number): void {
    this.eventLag.observe(Math.max(0, seconds));
  }

  consumerLag(topic: string, partition: number, lag: number): void {
    const t = this.topics.label(topic);
    const key = this.lagSeries.label(`${t}/${partition}`);
    if (key === OTHER_GROUP) return; // over 1024 partitions: not exported rather than mislabelled
    this.lag.set({ topic: t, partition: String(partition) }, lag);
  }

  /** Per-partition stall (src/pipeline/progress-watchdog.ts), sampled with the lag. */
  partitionStall(topic: string, partition: number, seconds: number): void {
    const t = this.topics.label(topic);
    if (this.lagSeries.label(`${t}/${partition}`) === OTHER_GROUP) return;
    this.stall.set({ topic: t, partition: String(partition) }, seconds);
  }

  redisLatency(operation: string, seconds: number): void {
    this.redisDuration.observe({ operation: this.redisOps.label(operation) }, seconds);
  }

  schemaRegistryLookup(outcome: SchemaLookupOutcome, seconds: number): void {
    this.registryDuration.observe({ outcome }, seconds);
  }

  lateEvents(n: number, reason: 'late' | 'future' = 'late'): void {
    if (n > 0) this.late.inc({ reason }, n);
  }

  /** Items the cardinality budget folded into a dimension's "~other" group. */
  groupsFolded(dimension: string, n: number): void {
    if (n > 0) this.folded.inc({ dimension }, n);
  }

  /** Outbox entries pending after a flush; `failed` when the alerts topic refused them. */
  alertOutbox(pending: number, failed = false): void {
    this.outboxPending.set(pending);
    if (failed) this.outboxFailures.inc();
  }

  partitionStateEvent(topic: string, partition: number, reason: string): void {
    const t = this.topics.label(topic);
    if (this.lagSeries.label(`${t}/${partition}`) === OTHER_GROUP) return;
    this.stateEvents.inc({ topic: t, partition: String(partition), reason });
  }

  labelOutcomes(counts: Readonly<Partial<Record<string, number>>>): void {
    for (const [outcome, n] of Object.entries(counts)) if (n && n > 0) this.labelJoin.inc({ outcome }, n);
  }

  /** `providers`: the execution provider actually in use per task (cuda may have fallen back to cpu). */
  modelInfo(models: readonly ModelInfo[], providers: Readonly<Record<string, string>> = {}): void {
    this.model.reset();
    for (const m of models) {
      this.model.set(
        {
          task: m.task,
          name: sanitizeLabelValue(m.name),
          version: sanitizeLabelValue(m.version),
          sha256: m.sha256.slice(0, 64),
          provider: providers[m.task] ?? 'unknown',
        },
        1,
      );
    }
  }

  batchCompleted(nowMs: number = Date.now()): void {
    this.lastBatch.set(nowMs / 1000);
  }

  watermark(ms: number): void {
    this.watermarkGauge.set(ms / 1000);
  }

  queuedDocuments(n: number): void {
    this.queued.set(n);
  }

  pausedPartitions(n: number): void {
    this.paused.set(n);
  }

  // ---- evaluator --------------------------------------------------------------------------------

  /**
   * Exports per-group sentiment for one (dimension, window). Bounded dimensions export every group
   * (capped); unbounded ones the top-K by volume plus `pinned` groups (those with an active alert,
   * at most K more). All remaining groups are summed into group="other". Series of groups that left
   * the exported set are removed, so the series count is at most dims × windows × (2K + 1).
   */
  groupSentiment(
    dimension: string,
    windowMs: number,
    groups: readonly GroupSentimentSample[],
    pinned: readonly string[] = [],
  ): void {
    if (!this.knownDimensions.has(dimension)) return;
    const window = windowLabel(windowMs);
    const limit = this.boundedDimensions.has(dimension) ? this.maxBoundedGroups : this.topK;
    const ranked = [...groups].sort((a, b) => b.count - a.count || (a.group < b.group ? -1 : 1));
    const pinnedSet = new Set(pinned.slice(0, this.topK));
    const exported: GroupSentimentSample[] = [];
    const rest: GroupSentimentSample[] = [];
    for (const g of ranked) {
      if (exported.length < limit || (pinnedSet.has(g.group) && exported.length < limit + pinnedSet.size))
        exported.push(g);
      else rest.push(g);
    }
    const next = new Set<string>();
    const labels = (group: string) => ({ dimension, group, window });
    for (const g of exported) {
      const group = sanitizeLabelValue(g.group);
      if (group === OTHER_GROUP || next.has(group)) {
        rest.push(g); // a real group named "other" (or colliding after sanitising) joins the aggregate
        continue;
      }
      next.add(group);
      this.setGroup(labels(group), g);
    }
    if (rest.length > 0) {
      const count = rest.reduce((s, g) => s + g.count, 0);
      const negative = rest.reduce((s, g) => s + g.negative, 0);
      const polarity = count > 0 ? rest.reduce((s, g) => s + g.meanPolarity * g.count, 0) / count : 0;
      next.add(OTHER_GROUP);
      this.setGroup(labels(OTHER_GROUP), {
        group: OTHER_GROUP,
        count,
        negative,
        meanPolarity: polarity,
        performance: pooledPerformance(rest),
      });
    }
    const key = `${dimension}|${window}`;
    for (const stale of this.exportedGroups.get(key) ?? []) {
      if (next.has(stale)) continue;
      for (const g of this.groupGauges()) g.remove(labels(stale));
      for (const c of CLASS_LABELS)
        for (const g of [this.groupTruePositiveRate, this.groupFalsePositiveRate])
          g.remove({ ...labels(stale), class: c });
    }
    this.exportedGroups.set(key, next);
  }

  /** Every per-(dimension, group, window) gauge: removed together when a group leaves the exported set. */
  private groupGauges(): Array<Gauge<'dimension' | 'group' | 'window'>> {
    return [
      this.groupDocuments,
      this.groupNegativeShare,
      this.groupNegativeRatio,
      this.groupNegativeShareZ,
      this.groupMeanPolarity,
      this.groupAccuracy,
      this.groupMacroF1,
      this.groupLabelCoverage,
      this.groupEstimatedAccuracy,
    ];
  }

  private setGroup(
    labels: { dimension: string; group: string; window: string },
    g: GroupSentimentSample,
  ): void {
    this.groupDocuments.set(labels, g.count);
    const negativeRatio = g.count > 0 ? g.negative / g.count : 0;
    this.groupNegativeRatio.set(labels, negativeRatio);
    this.groupNegativeShare.set(labels, negativeRatio);
    this.groupMeanPolarity.set(labels, g.meanPolarity);
    if (g.negativeShareZ !== undefined && Number.isFinite(g.negativeShareZ))
      this.groupNegativeShareZ.set(labels, g.negativeShareZ);
    else this.groupNegativeShareZ.remove(labels);
    const put = (gauge: Gauge<'dimension' | 'group' | 'window'>, v: number | null | undefined) => {
      if (v !== undefined && v !== null && Number.isFinite(v)) gauge.set(labels, v);
      else gauge.remove(labels);
    };
    put(this.groupAccuracy, g.performance?.accuracy);
    put(this.groupMacroF1, g.performance?.macroF1);
    put(this.groupLabelCoverage, g.performance?.labelCoverage);
    put(this.groupEstimatedAccuracy, g.performance?.estimatedAccuracy);
    for (const c of CLASS_LABELS) {
      const rates = g.performance?.classRates?.[c];
      for (const [gauge, v] of [
        [this.groupTruePositiveRate, rates?.tpr],
        [this.groupFalsePositiveRate, rates?.fpr],
      ] as const) {
        if (v !== undefined && v !== null && Number.isFinite(v)) gauge.set({ ...labels, class: c }, v);
        else gauge.remove({ ...labels, class: c });
      }
    }
  }

  /** Sets the fairness gauges; a figure that is undefined (e.g. < 2 judged groups) is removed, not left stale. */
  fairness(dimension: string, windowMs: number, f: Partial<FairnessSample>): void {
    if (!this.knownDimensions.has(dimension)) return;
    const labels = { dimension, window: windowLabel(windowMs) };
    const put = (g: Gauge<'dimension' | 'window'>, v: number | undefined) => {
      if (v !== undefined && Number.isFinite(v)) g.set(labels, v);
      else g.remove(labels);
    };
    put(this.fairnessDpd, f.demographicParityDifference);
    put(this.fairnessDir, f.disparateImpactRatio);
    put(this.fairnessWorstZ, f.worstGroupZ);
    put(this.fairnessBreaching, f.breachingGroups);
    put(this.fairnessJudged, f.judgedGroups);
    put(this.fairnessEod, f.equalizedOddsDifference);
    for (const [gauge, iv] of [
      [this.fairnessDirBound, f.disparateImpactRatioInterval],
      [this.fairnessDpdBound, f.demographicParityDifferenceInterval],
      [this.fairnessEodBound, f.equalizedOddsDifferenceInterval],
    ] as const) {
      for (const bound of ['lower', 'upper'] as const) {
        const v = bound === 'lower' ? iv?.low : iv?.high;
        const boundLabels = { ...labels, bound };
        if (v !== undefined && Number.isFinite(v)) gauge.set(boundLabels, v);
        else gauge.remove(boundLabels);
      }
    }
  }

  /** `feature` must be one of a fixed set (drift features are code-defined, not data). */
  drift(feature: string, windowMs: number, d: Partial<DriftSample>): void {
    const labels = { feature: sanitizeLabelValue(feature), window: windowLabel(windowMs) };
    const put = (g: Gauge<'feature' | 'window'>, v: number | null | undefined) => {
      if (v !== undefined && v !== null && Number.isFinite(v)) g.set(labels, v);
      else g.remove(labels);
    };
    put(this.driftPsi, d.psi);
    put(this.driftJs, d.jsDistance);
    put(this.driftKs, d.ksStatistic);
  }

  /**
   * Replaces the per-alert state series with the given active alerts: only pending and firing ones
   * have a series, so the label set is bounded by the alerts in flight, not by the groups.
   */
  alertIdentities(
    active: ReadonlyArray<{
      rule: string;
      severity: string;
      dimension: string;
      group: string;
      state: string;
    }>,
  ): void {
    this.alertState.reset();
    for (const a of active) {
      if (a.state !== 'pending' && a.state !== 'firing') continue;
      this.alertState.set(
        {
          rule: a.rule,
          severity: a.severity,
          // As the evaluator's Alertmanager labels (events.ts), unchanged: group values are already
          // sanitised by the grouping (src/stats/grouping.ts), dimensions are config identifiers.
          dimension: a.dimension,
          group: a.group,
          state: a.state,
        },
        1,
      );
    }
  }

  /** Whether the pinned drift baseline exists (set by the evaluator when it appears or goes). */
  driftBaseline(name: string, present: boolean): void {
    this.driftBaselinePresent.set({ baseline: sanitizeLabelValue(name) }, present ? 1 : 0);
  }

  /** Replaces the alert-state gauges with the given counts (rule names come from config: bounded). */
  alertStates(counts: readonly AlertStateCount[]): void {
    const next = new Set<string>();
    for (const c of counts) {
      if (c.state !== 'pending' && c.state !== 'firing') continue;
      const labels = { rule: c.rule, severity: c.severity, state: c.state };
      next.add(JSON.stringify(labels));
      this.alerts.set(labels, c.count);
    }
    for (const stale of this.exportedAlertStates) {
      if (!next.has(stale))
        this.alerts.set(JSON.parse(stale) as { rule: string; severity: string; state: string }, 0);
    }
    for (const k of next) this.exportedAlertStates.add(k);
  }

  alertTransition(rule: string, severity: string, state: AlertStateName): void {
    this.alertTransitions.inc({ rule, severity, state });
  }

  leader(isLeader: boolean, token = 0): void {
    this.leaderGauge.set(isLeader ? 1 : 0);
    this.fencingToken.set(isLeader ? token : 0);
    if (!isLeader) this.clearEvaluatorGauges();
  }

  /**
   * Drops the per-group, fairness, drift and alert-state series. Only the evaluator leader exports
   * them; a replica that loses the lease clears its copies so that Prometheus never sees two
   * replicas' (one stale) values for the same group.
   */
  clearEvaluatorGauges(): void {
    for (const g of this.groupGauges()) g.reset();
    for (const g of [
      this.fairnessDpd,
      this.fairnessDir,
      this.fairnessWorstZ,
      this.fairnessBreaching,
      this.fairnessJudged,
      this.fairnessEod,
      this.groupTruePositiveRate,
      this.groupFalsePositiveRate,
    ])
      g.reset();
    this.fairnessEodBound.reset();
    this.fairnessDirBound.reset();
    this.fairnessDpdBound.reset();
    this.alertState.reset();
    for (const g of [this.driftPsi, this.driftJs, this.driftKs, this.alerts]) g.reset();
    this.exportedGroups.clear();
    this.exportedAlertStates.clear();
  }

  evaluation(outcome: 'ok' | 'error' | 'fenced', seconds: number, nowMs: number = Date.now()): void {
    this.evaluations.inc({ outcome });
    this.evaluationDuration.observe(seconds);
    if (outcome === 'ok') this.lastEvaluation.set(nowMs / 1000);
  }

  /** The event time the windows of the last evaluation ended at. */
  evaluatedUntil(eventTimeMs: number): void {
    this.evaluationEventTimestamp.set(eventTimeMs / 1000);
    this.evaluationEventTime.set(eventTimeMs / 1000);
  }

  /** Distinct series currently exported (used by the cardinality test and `finsentry stats`). */
  async seriesCount(): Promise<number> {
    const metrics = await this.registry.getMetricsAsJSON();
    return metrics.reduce((n, m) => n + (m.values as unknown[]).length, 0);
  }
}

export function createMetrics(options: MetricsOptions): PipelineMetrics {
  return new PipelineMetrics(options);
}
