import type { AlertRuleConfig } from '../config/schema.js';
import { schemaType } from '../codec/schemas.js';
import type { AlertRecord, Transition } from './state-machine.js';

/**
 * The alert event: one per state change, the value of a record on `finsentry.alerts` keyed by the
 * fingerprint (schemas/Alert.avsc). Field names are those of the Avro schema so that the JSON kept in
 * the Redis outbox is exactly what gets encoded.
 */
export interface AlertEvent {
  fingerprint: string;
  rule: string;
  kind: AlertRuleConfig['kind'];
  state: AlertRecord['state'];
  severity: AlertRuleConfig['severity'];
  dimension: string | null;
  group: string | null;
  metric: string;
  value: number;
  threshold: number;
  window_ms: number;
  sample_size: number;
  p_value: number | null;
  started_at: number;
  ended_at: number | null;
  summary: string;
  runbook_url: string;
  /**
   * event_id (fingerprint:episode start:state — identical when the same transition is published
   * twice, for consumers to deduplicate), previous_state, fencing_token, firing_since, window, feature, detail;
   * interval_low/interval_high/interval_level when the metric has a confidence interval; groups (comma-
   * separated) when a dimension-wide alert rests on named groups (then also in `group`); story_ids
   * (comma-separated, most negative first) on a surge alert going firing.
   */
  labels: Record<string, string>;
}

export function eventId(record: Pick<AlertRecord, 'fingerprint' | 'activeSinceMs' | 'state'>): string {
  return `${record.fingerprint}:${record.activeSinceMs}:${record.state}`;
}

export function toAlertEvent(
  rule: AlertRuleConfig,
  transition: Transition,
  fencingToken: number,
  storyIds?: readonly string[],
): AlertEvent {
  const r = transition.record;
  const labels: Record<string, string> = {
    event_id: eventId(r),
    previous_state: transition.from,
    fencing_token: String(fencingToken),
    window: `${Math.round(r.windowMs / 1000)}s`,
  };
  if (r.startedAtMs !== null) labels.firing_since = new Date(r.startedAtMs).toISOString();
  if (rule.feature) labels.feature = rule.feature;
  if (r.interval) {
    labels.interval_low = String(r.interval.low);
    labels.interval_high = String(r.interval.high);
    labels.interval_level = String(r.interval.level);
  }
  // The stories that drove a surge, most negative first, one per story (docs/alerting.md "Surge").
  if (storyIds && storyIds.length > 0) labels.story_ids = storyIds.join(',');
  const isDimensionWide = r.group === '*';
  // A dimension-wide alert (a fairness ratio) names the groups its decision rests on; its identity
  // (fingerprint) stays the dimension's.
  if (isDimensionWide && r.groups && r.groups.length > 0) labels.groups = r.groups.join(',');
  return {
    fingerprint: r.fingerprint,
    rule: r.rule,
    kind: rule.kind,
    state: r.state,
    severity: r.severity,
    dimension: rule.kind === 'pipeline' ? null : r.dimension,
    group: isDimensionWide ? (labels.groups ?? null) : r.group,
    metric: rule.metric,
    value: Number.isFinite(r.value) ? r.value : 0,
    threshold: r.state === 'resolved' ? (rule.resolveThreshold ?? rule.threshold) : rule.threshold,
    window_ms: r.windowMs,
    sample_size: r.sampleSize,
    p_value: r.pValue !== null && Number.isFinite(r.pValue) ? r.pValue : null,
    started_at: r.activeSinceMs,
    ended_at: r.state === 'resolved' || r.state === 'inactive' ? r.endedAtMs : null,
    summary: r.summary,
    runbook_url: r.runbookUrl,
    labels,
  };
}

export function encodeAlertEvent(event: AlertEvent): Buffer {
  return schemaType('Alert').toBuffer(event);
}

export function decodeAlertEvent(buf: Buffer): AlertEvent {
  return schemaType('Alert').fromBuffer(buf) as AlertEvent;
}

/** One alert in the Alertmanager API v2 format (POST /api/v2/alerts takes an array of these). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * Alertmanager payload for a firing or resolved event (pending/inactive are not sent, as Prometheus
 * does not send them either). Resolved alerts carry endsAt in the past, which resolves them.
 * Labels stay bounded by what identifies the alert: alertname, severity, dimension, group.
 */
export function toAlertmanagerAlert(event: AlertEvent, generatorURL?: string): AlertmanagerAlert | undefined {
  if (event.state !== 'firing' && event.state !== 'resolved') return undefined;
  const labels: Record<string, string> = {
    alertname: event.rule,
    severity: event.severity,
    source: 'finsentry-evaluator',
    kind: event.kind,
  };
  if (event.dimension) labels.dimension = event.dimension;
  // The groups of a dimension-wide alert can change during an episode: an annotation, not a label,
  // so that Alertmanager keeps one alert.
  if (event.group && !event.labels.groups) labels.group = event.group;
  const l = event.labels;
  const interval =
    l.interval_low !== undefined
      ? `, ${Math.round(Number(l.interval_level) * 100)}% interval [${Number(l.interval_low).toFixed(3)}, ${Number(l.interval_high).toFixed(3)}]`
      : '';
  const annotations: Record<string, string> = {
    summary: event.summary,
    description: `${event.metric}=${event.value}${interval} (threshold ${event.threshold}) over ${event.window_ms / 1000}s, n=${event.sample_size}${event.p_value !== null ? `, p=${event.p_value}` : ''}`,
    fingerprint: event.fingerprint,
  };
  if (l.groups) annotations.groups = l.groups;
  if (l.story_ids) annotations.story_ids = l.story_ids;
  if (l.interval_low !== undefined) {
    annotations.interval_low = l.interval_low;
    annotations.interval_high = l.interval_high!;
    annotations.interval_level = l.interval_level!;
  }
  if (event.runbook_url) annotations.runbook_url = event.runbook_url;
  const out: AlertmanagerAlert = { labels, annotations, startsAt: new Date(event.started_at).toISOString() };
  if (event.state === 'resolved' && event.ended_at !== null)
    out.endsAt = new Date(event.ended_at).toISOString();
  if (generatorURL) out.generatorURL = generatorURL;
  return out;
}
