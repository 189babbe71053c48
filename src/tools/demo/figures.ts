import type { MetricSet } from './metrics-text.js';

/**
 * The figures of the live view, read from one scrape of the service's /metrics (the same series
 * Prometheus stores, see src/telemetry/metrics.ts) plus a short history of scrapes for rates. Pure:
 * the scrapes come in, numbers come out.
 */

export interface GroupFigure {
  dimension: string;
  group: string;
  window: string;
  documents: number;
  negativeShare: number;
  /** z of the negative share against the group's reference window; null when unknown. */
  z: number | null;
}

export interface FairnessFigure {
  dimension: string;
  window: string;
  disparateImpactRatio: number | null;
  demographicParityDifference: number | null;
  judgedGroups: number | null;
  breachingGroups: number | null;
}

export interface DriftFigure {
  feature: string;
  window: string;
  psi: number | null;
  jsDistance: number | null;
}

export interface PipelineFigures {
  consumed: number;
  processed: number;
  deadLettered: number;
  dlqByReason: Array<[reason: string, count: number]>;
  /** Documents enriched per second over the last few seconds; null until two scrapes exist. */
  processedPerSecond: number | null;
  consumedPerSecond: number | null;
  /** Σ per-partition consumer lag as last measured by the evaluator; null before its first look. */
  consumerLag: number | null;
  /** Mean documents per inference micro-batch over the last few seconds (whole run when idle). */
  batchMean: number | null;
  /** Mean share of padding per micro-batch, same span. */
  paddingMean: number | null;
  watermarkMs: number | null;
  queued: number | null;
  lastEvaluationMs: number | null;
  /**
   * Event time the evaluator's last round judged windows up to (finsentry_evaluation_event_time_seconds).
   * Under the event clock it trails the watermark while a backlog is worked off; null before a round.
   */
  evaluatedUntilMs: number | null;
}

export interface AlertStateFigure {
  rule: string;
  state: string;
  count: number;
}

export interface Figures {
  atMs: number;
  pipeline: PipelineFigures;
  groups: GroupFigure[];
  fairness: FairnessFigure[];
  drift: DriftFigure[];
  alertStates: AlertStateFigure[];
}

/** Cumulative counters of one scrape kept for rates. */
interface CounterPoint {
  atMs: number;
  consumed: number;
  processed: number;
  batchSum: number;
  batchCount: number;
  paddingSum: number;
  paddingCount: number;
}

/**
 * Rates over a sliding span of scrapes (default 5 s): a 1-second difference of counters that move
 * in batches of dozens of documents jumps around too much to read.
 */
export class CounterHistory {
  private readonly points: CounterPoint[] = [];

  constructor(private readonly spanMs = 5_000) {}

  push(p: CounterPoint): void {
    const last = this.points[this.points.length - 1];
    // A counter that went down means the service restarted: start the history over.
    if (last && (p.processed < last.processed || p.consumed < last.consumed)) this.points.length = 0;
    this.points.push(p);
    while (this.points.length > 2 && p.atMs - this.points[1]!.atMs >= this.spanMs) this.points.shift();
  }

  /** First and last point of the span; null with fewer than two points. */
  span(): { first: CounterPoint; last: CounterPoint } | null {
    if (this.points.length < 2) return null;
    return { first: this.points[0]!, last: this.points[this.points.length - 1]! };
  }
}

const ZERO = (v: number | null): number => v ?? 0;

function finiteOrNull(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

export function counterPoint(m: MetricSet, atMs: number): CounterPoint {
  return {
    atMs,
    consumed: ZERO(m.sum('finsentry_documents_consumed_total')),
    processed: ZERO(m.sum('finsentry_documents_processed_total')),
    batchSum: ZERO(m.sum('finsentry_batch_size_documents_sum')),
    batchCount: ZERO(m.sum('finsentry_batch_size_documents_count')),
    paddingSum: ZERO(m.sum('finsentry_batch_padding_ratio_sum')),
    paddingCount: ZERO(m.sum('finsentry_batch_padding_ratio_count')),
  };
}

function pipelineFigures(m: MetricSet, history: CounterHistory): PipelineFigures {
  const span = history.span();
  const now = span?.last ?? counterPoint(m, 0);
  let processedPerSecond: number | null = null;
  let consumedPerSecond: number | null = null;
  let batchMean: number | null = now.batchCount > 0 ? now.batchSum / now.batchCount : null;
  let paddingMean: number | null = now.paddingCount > 0 ? now.paddingSum / now.paddingCount : null;
  if (span) {
    const seconds = (span.last.atMs - span.first.atMs) / 1000;
    if (seconds > 0) {
      processedPerSecond = Math.max(0, span.last.processed - span.first.processed) / seconds;
      consumedPerSecond = Math.max(0, span.last.consumed - span.first.consumed) / seconds;
    }
    const batches = span.last.batchCount - span.first.batchCount;
    if (batches > 0) batchMean = (span.last.batchSum - span.first.batchSum) / batches;
    const padded = span.last.paddingCount - span.first.paddingCount;
    if (padded > 0) paddingMean = (span.last.paddingSum - span.first.paddingSum) / padded;
  }
  const dlqByReason = [...m.sumBy('finsentry_dlq_messages_total', 'reason')]
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const watermark = finiteOrNull(m.sum('finsentry_watermark_timestamp_seconds'));
  const lastEvaluation = finiteOrNull(m.sum('finsentry_last_evaluation_timestamp_seconds'));
  const evaluatedUntil = finiteOrNull(m.sum('finsentry_evaluation_event_time_seconds'));
  return {
    consumed: now.consumed,
    processed: now.processed,
    deadLettered: dlqByReason.reduce((s, [, n]) => s + n, 0),
    dlqByReason,
    processedPerSecond,
    consumedPerSecond,
    consumerLag: finiteOrNull(m.sum('finsentry_consumer_lag_messages')),
    batchMean,
    paddingMean,
    watermarkMs: watermark !== null && watermark > 0 ? Math.round(watermark * 1000) : null,
    queued: finiteOrNull(m.sum('finsentry_queued_documents')),
    lastEvaluationMs:
      lastEvaluation !== null && lastEvaluation > 0 ? Math.round(lastEvaluation * 1000) : null,
    evaluatedUntilMs:
      evaluatedUntil !== null && evaluatedUntil > 0 ? Math.round(evaluatedUntil * 1000) : null,
  };
}

function groupFigures(m: MetricSet): GroupFigure[] {
  const key = (l: Readonly<Record<string, string>>) => `${l.dimension}|${l.group}|${l.window}`;
  const documents = new Map(m.select('finsentry_group_documents').map((s) => [key(s.labels), s.value]));
  const z = new Map(m.select('finsentry_group_negative_share_zscore').map((s) => [key(s.labels), s.value]));
  return m
    .select('finsentry_group_negative_share')
    .filter((s) => s.labels.group !== 'other')
    .map((s) => ({
      dimension: s.labels.dimension ?? '',
      group: s.labels.group ?? '',
      window: s.labels.window ?? '',
      documents: documents.get(key(s.labels)) ?? 0,
      negativeShare: s.value,
      z: finiteOrNull(z.get(key(s.labels)) ?? null),
    }));
}

function fairnessFigures(m: MetricSet): FairnessFigure[] {
  const out = new Map<string, FairnessFigure>();
  const fields: Array<[string, Exclude<keyof FairnessFigure, 'dimension' | 'window'>]> = [
    ['finsentry_fairness_disparate_impact_ratio', 'disparateImpactRatio'],
    ['finsentry_fairness_demographic_parity_difference', 'demographicParityDifference'],
    ['finsentry_fairness_judged_groups', 'judgedGroups'],
    ['finsentry_fairness_breaching_groups', 'breachingGroups'],
  ];
  for (const [name, field] of fields) {
    for (const s of m.select(name)) {
      const dimension = s.labels.dimension ?? '';
      const window = s.labels.window ?? '';
      const k = `${dimension}|${window}`;
      let f = out.get(k);
      if (!f) {
        f = {
          dimension,
          window,
          disparateImpactRatio: null,
          demographicParityDifference: null,
          judgedGroups: null,
          breachingGroups: null,
        };
        out.set(k, f);
      }
      f[field] = finiteOrNull(s.value);
    }
  }
  return [...out.values()];
}

function driftFigures(m: MetricSet): DriftFigure[] {
  const out = new Map<string, DriftFigure>();
  for (const [name, field] of [
    ['finsentry_drift_psi', 'psi'],
    ['finsentry_drift_js_distance', 'jsDistance'],
  ] as const) {
    for (const s of m.select(name)) {
      const feature = s.labels.feature ?? '';
      const window = s.labels.window ?? '';
      const k = `${feature}|${window}`;
      let d = out.get(k);
      if (!d) out.set(k, (d = { feature, window, psi: null, jsDistance: null }));
      d[field] = finiteOrNull(s.value);
    }
  }
  return [...out.values()];
}

export function readFigures(m: MetricSet, history: CounterHistory, atMs: number): Figures {
  return {
    atMs,
    pipeline: pipelineFigures(m, history),
    groups: groupFigures(m),
    fairness: fairnessFigures(m),
    drift: driftFigures(m),
    alertStates: m
      .select('finsentry_alerts')
      .filter((s) => s.value > 0)
      .map((s) => ({ rule: s.labels.rule ?? '', state: s.labels.state ?? '', count: s.value })),
  };
}

/** Groups of one dimension and window with at least `minDocuments`, most negative first. */
export function topByNegativeShare(
  groups: readonly GroupFigure[],
  dimension: string,
  window: string,
  minDocuments: number,
  limit: number,
): GroupFigure[] {
  return groups
    .filter((g) => g.dimension === dimension && g.window === window && g.documents >= minDocuments)
    .sort(
      (a, b) =>
        b.negativeShare - a.negativeShare || b.documents - a.documents || a.group.localeCompare(b.group),
    )
    .slice(0, limit);
}
