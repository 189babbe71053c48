import { createHash } from 'node:crypto';
import type { AlertRuleConfig } from '../config/schema.js';

/**
 * The alert lifecycle, as pure functions (design §7): inactive → pending → firing → resolved.
 *
 * - A measurement *breaches* when its value crosses the rule's threshold (and, where the rule asks
 *   for it, is statistically significant with enough samples).
 * - pending becomes firing once the condition has held for the rule's `for` duration (for = 0 fires
 *   at once, with a single `firing` event, as Prometheus does).
 * - a firing alert stays firing while the value is still beyond the resolve threshold (hysteresis:
 *   e.g. fire above 0.6, resolve only below 0.5), and resolves once it has been clear for the rule's
 *   keepFiringFor (default 0: at once).
 * - pending that stops breaching goes back to inactive (an event, so consumers see the episode end).
 * - a resolved alert that breaches again starts a new episode (pending, new startedAt).
 * Every state change yields exactly one transition; the evaluator emits one event per transition.
 */

export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

/** What one evaluation measured for one (rule, dimension, group). */
export interface Measurement {
  rule: string;
  dimension: string;
  /** Group value, feature name (drift) or "*" for dimension-wide / pipeline metrics. */
  group: string;
  value: number;
  sampleSize: number;
  /** Significance of the deviation behind the value, when the metric has one. */
  pValue?: number;
  /** False when the group has too few samples to be judged (reported, never fires). */
  judged: boolean;
  /** Human-readable context for the summary, e.g. "worst group emea 0.41 vs apac 0.12". */
  detail?: string;
  /**
   * Confidence interval of the value. When present the rule is judged on the bound on the far side of
   * the threshold (docs/alerting.md): a `<` rule fires only when the whole interval lies below it (the
   * upper bound), a `>` rule only when it lies above it (the lower bound); the resolve threshold is
   * compared with the same bound.
   */
  interval?: MeasuredInterval;
  /** The groups a dimension-wide measurement (group "*") is about, e.g. the pair behind a ratio. */
  groups?: readonly string[];
}

export interface MeasuredInterval {
  low: number;
  high: number;
  /** Confidence level, e.g. 0.95 (simultaneous over the groups judged). */
  level: number;
}

export interface AlertRecord {
  fingerprint: string;
  rule: string;
  severity: AlertRuleConfig['severity'];
  dimension: string;
  group: string;
  state: AlertState;
  value: number;
  threshold: number;
  windowMs: number;
  sampleSize: number;
  pValue: number | null;
  /** When the current episode first breached (pending start), epoch ms. */
  activeSinceMs: number;
  /** When it started firing, epoch ms; null before. */
  startedAtMs: number | null;
  /** When it resolved (or went back to inactive), epoch ms; null while active. */
  endedAtMs: number | null;
  /** Last time this record changed state, epoch ms. */
  changedAtMs: number;
  summary: string;
  runbookUrl: string;
  /** The interval of the last measurement, when the metric has one (absent in records stored before). */
  interval?: MeasuredInterval | null;
  /** The groups of the last measurement of a dimension-wide alert (see Measurement.groups). */
  groups?: readonly string[] | null;
  /** While firing: since when the condition has been clear (rule keepFiringFor); null while it holds. */
  clearedSinceMs?: number | null;
}

export interface Transition {
  from: AlertState;
  to: AlertState;
  record: AlertRecord;
}

/** Stable identity of an alert: same rule, dimension and group → same fingerprint (and Kafka key). */
export function alertFingerprint(rule: string, dimension: string, group: string): string {
  return createHash('sha256').update(`${rule}\u0000${dimension}\u0000${group}`).digest('hex').slice(0, 32);
}

export function compare(
  value: number,
  comparison: AlertRuleConfig['comparison'],
  threshold: number,
): boolean {
  switch (comparison) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}

/** The figure a rule compares: the value, or the far bound of its interval (see Measurement.interval). */
export function decisionValue(rule: AlertRuleConfig, m: Measurement): number {
  if (!m.interval) return m.value;
  return rule.comparison === '<' || rule.comparison === '<=' ? m.interval.high : m.interval.low;
}

/** Does this measurement breach the rule (threshold, samples and significance)? */
export function breaches(rule: AlertRuleConfig, m: Measurement | undefined): boolean {
  if (!m || !m.judged || !Number.isFinite(m.value)) return false;
  if (rule.minSamples !== undefined && m.sampleSize < rule.minSamples) return false;
  if (rule.maxPValue !== undefined && !(m.pValue !== undefined && m.pValue <= rule.maxPValue)) return false;
  return compare(decisionValue(rule, m), rule.comparison, rule.threshold);
}

/**
 * While firing: is the value still beyond the resolve threshold (hysteresis band)? A group that has
 * dropped below min samples is no evidence that the condition ended: it holds while its value is
 * still beyond the resolve threshold (else a surge whose coverage dips for a minute would resolve
 * and fire again); it resolves when the value recovers or the group leaves the window.
 */
export function holds(rule: AlertRuleConfig, m: Measurement | undefined): boolean {
  if (!m || !Number.isFinite(m.value) || (!m.judged && m.sampleSize <= 0)) return false;
  return compare(decisionValue(rule, m), rule.comparison, rule.resolveThreshold ?? rule.threshold);
}

/** Fills `{{rule}}`, `{{dimension}}`, `{{group}}`, `{{value}}`, `{{threshold}}`, `{{window}}`, … */
export function renderTemplate(template: string, fields: Record<string, string | number>): string {
  return template.replace(/\{\{\s*([a-zA-Z_]+)\s*\}\}/g, (whole, key: string) => {
    const v = fields[key];
    if (v === undefined) return whole;
    return typeof v === 'number' ? formatNumber(v) : v;
  });
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3);
}

export interface StepResult {
  /** The record to keep (undefined: nothing to remember). */
  next: AlertRecord | undefined;
  transition: Transition | undefined;
}

/**
 * One evaluation step for one alert identity. `prev` is the stored record (undefined = inactive and
 * never seen); `m` the current measurement (undefined = the group is absent from the window).
 */
export function step(
  rule: AlertRuleConfig,
  prev: AlertRecord | undefined,
  m: Measurement | undefined,
  nowMs: number,
  render: (record: AlertRecord, m: Measurement | undefined) => string = defaultRender(rule),
): StepResult {
  const state: AlertState = prev?.state ?? 'inactive';
  const breaching = breaches(rule, m);
  const refresh = (base: AlertRecord, patch: Partial<AlertRecord>): AlertRecord => {
    const r: AlertRecord = {
      ...base,
      ...(m
        ? {
            value: m.value,
            sampleSize: m.sampleSize,
            pValue: m.pValue ?? null,
            interval: m.interval ?? null,
            groups: m.groups ?? null,
          }
        : {}),
      ...patch,
    };
    r.summary = render(r, m);
    return r;
  };
  const to = (record: AlertRecord, from: AlertState): StepResult => ({
    next: record,
    transition: { from, to: record.state, record },
  });

  switch (state) {
    case 'inactive':
    case 'resolved': {
      if (!breaching || !m) return { next: prev, transition: undefined };
      const base = prev ?? newRecord(rule, m, nowMs);
      const firesNow = rule.for <= 0;
      return to(
        refresh(base, {
          state: firesNow ? 'firing' : 'pending',
          activeSinceMs: nowMs,
          startedAtMs: firesNow ? nowMs : null,
          endedAtMs: null,
          changedAtMs: nowMs,
        }),
        state,
      );
    }
    case 'pending': {
      const base = prev!;
      if (!breaching)
        return to(refresh(base, { state: 'inactive', endedAtMs: nowMs, changedAtMs: nowMs }), state);
      if (nowMs - base.activeSinceMs >= rule.for) {
        return to(refresh(base, { state: 'firing', startedAtMs: nowMs, changedAtMs: nowMs }), state);
      }
      return { next: refresh(base, {}), transition: undefined };
    }
    case 'firing': {
      const base = prev!;
      if (breaching || holds(rule, m))
        return { next: refresh(base, { clearedSinceMs: null }), transition: undefined };
      // keepFiringFor (Prometheus' keep_firing_for): the condition must stay clear this long before
      // the alert resolves, so that a noisy figure near the resolve threshold does not end an episode
      // and start another while the cause persists.
      const clearedSinceMs = base.clearedSinceMs ?? nowMs;
      if (nowMs - clearedSinceMs < (rule.keepFiringFor ?? 0))
        return { next: refresh(base, { clearedSinceMs }), transition: undefined };
      return to(
        refresh(base, { state: 'resolved', endedAtMs: nowMs, changedAtMs: nowMs, clearedSinceMs: null }),
        state,
      );
    }
  }
}

function newRecord(rule: AlertRuleConfig, m: Measurement, nowMs: number): AlertRecord {
  return {
    fingerprint: alertFingerprint(rule.name, m.dimension, m.group),
    rule: rule.name,
    severity: rule.severity,
    dimension: m.dimension,
    group: m.group,
    state: 'inactive',
    value: m.value,
    threshold: rule.threshold,
    windowMs: rule.window,
    sampleSize: m.sampleSize,
    pValue: m.pValue ?? null,
    activeSinceMs: nowMs,
    startedAtMs: null,
    endedAtMs: null,
    changedAtMs: nowMs,
    summary: '',
    runbookUrl: renderTemplate(rule.runbookUrl, { rule: rule.name, dimension: m.dimension, group: m.group }),
  };
}

function defaultRender(rule: AlertRuleConfig): (record: AlertRecord, m: Measurement | undefined) => string {
  return (record, m) => {
    const text = renderTemplate(rule.summary, {
      rule: rule.name,
      dimension: record.dimension,
      group: record.group,
      value: record.value,
      threshold: rule.threshold,
      window: `${Math.round(rule.window / 1000)}s`,
      samples: record.sampleSize,
      p_value: record.pValue ?? Number.NaN,
      state: record.state,
      severity: rule.severity,
      ...(record.interval
        ? { low: record.interval.low, high: record.interval.high, level: record.interval.level }
        : {}),
      ...(record.groups ? { groups: record.groups.join('/') } : {}),
    });
    return m?.detail ? `${text} (${m.detail})` : text;
  };
}

/**
 * All identities a rule must step this round: every measured group, plus every stored record of the
 * rule that is no longer measured — so that an alert whose group vanished from the window resolves
 * instead of being forgotten, and resolved records can age out.
 */
export function identitiesToStep(
  measurements: readonly Measurement[],
  stored: ReadonlyMap<string, AlertRecord>,
  rule: string,
): Array<{ fingerprint: string; measurement: Measurement | undefined; prev: AlertRecord | undefined }> {
  const out = new Map<
    string,
    { fingerprint: string; measurement: Measurement | undefined; prev: AlertRecord | undefined }
  >();
  for (const m of measurements) {
    const fingerprint = alertFingerprint(rule, m.dimension, m.group);
    out.set(fingerprint, { fingerprint, measurement: m, prev: stored.get(fingerprint) });
  }
  for (const [fingerprint, record] of stored) {
    if (record.rule !== rule || out.has(fingerprint)) continue;
    out.set(fingerprint, { fingerprint, measurement: undefined, prev: record });
  }
  return [...out.values()];
}
