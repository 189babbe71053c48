import type { AlertEvent } from '../../alerts/events.js';
import { parseDuration } from '../../config/duration.js';
import { topByNegativeShare, type Figures } from './figures.js';
import { clock, eventOffset, fit, fixed, int, percent, sideBySide, span } from './format.js';

/**
 * The demo's live terminal view and its plain-text progress lines, as pure functions of a ViewState:
 * the I/O side (src/tools/demo/demo.ts and its phases) gathers the state about once a second and writes what these return.
 */

export type DemoPhase = 'starting' | 'replaying' | 'draining' | 'finishing' | 'done' | 'stopping';

export interface ViewAlert {
  event: AlertEvent;
  /** Event time of the state change (the watermark the evaluator decided on); null if unknown. */
  eventTimeMs: number | null;
}

export interface ViewState {
  runId: string;
  scenario: string;
  seed: number;
  phase: DemoPhase;
  /** Wall clock: demo start and now. */
  startedAtMs: number;
  nowMs: number;
  /** Event time of the scenario start and end (the ground truth's startMs/endMs). */
  eventStartMs: number;
  eventEndMs: number;
  speedup: number;
  replay: { sent: number; total: number; ratePerSecond: number; eventTimeMs: number | null };
  figures: Figures | null;
  /** Recent alert state changes, newest last. */
  alerts: readonly ViewAlert[];
  activeAlerts: readonly AlertEvent[];
  /** Dead-letter records read back from the DLQ topic so far. */
  deadLettersRead: number;
  /** Min documents for an issuer to be listed (the surge rule's min_samples). */
  issuerMinDocuments: number;
  /** Window labels to show: the issuer (surge rule) and fairness windows. */
  issuerWindow: string;
  fairnessWindow: string;
  metricsUrl: string;
  prometheusUrl: string | null;
}

const PHASE_TEXT: Record<DemoPhase, string> = {
  starting: 'starting finsentry run',
  replaying: 'replaying',
  draining: 'replay done, draining the backlog',
  finishing: 'last evaluations',
  done: 'done',
  stopping: 'stopping',
};

function alertTarget(e: AlertEvent): string {
  if (e.kind === 'pipeline') return 'pipeline';
  if (e.kind === 'drift') return `feature ${e.labels.feature ?? e.group ?? '-'}`;
  if (e.group) return `${e.dimension ?? ''} ${e.group}`.trim();
  return e.dimension ?? '-';
}

function alertValue(e: AlertEvent): string {
  const value = Math.abs(e.value) >= 100 ? int(e.value) : fixed(e.value, 3);
  return e.sample_size > 0 ? `${value} (n ${int(e.sample_size)})` : value;
}

/** One line per alert state change: when (event time), new state, rule, what, value. */
export function alertLine(a: ViewAlert, eventStartMs: number): string {
  const e = a.event;
  return `${eventOffset(a.eventTimeMs, eventStartMs).padEnd(7)} ${e.state.toUpperCase().padEnd(8)} ${e.rule.padEnd(24)} ${alertTarget(e)}  ${alertValue(e)}`;
}

function replayLine(s: ViewState): string {
  const pct = s.replay.total > 0 ? ` (${percent(s.replay.sent / s.replay.total)})` : '';
  const event = `event time ${eventOffset(s.replay.eventTimeMs, s.eventStartMs)} of ${eventOffset(s.eventEndMs, s.eventStartMs)}`;
  return `replay    ${int(s.replay.sent)} / ${int(s.replay.total)} messages${pct}  ${int(s.replay.ratePerSecond)} msg/s  ${event} (x${fixed(s.speedup, 0)})`;
}

function pipelineLine(s: ViewState): string {
  const p = s.figures?.pipeline;
  if (!p) return 'pipeline  waiting for the first /metrics scrape';
  const rate = p.processedPerSecond === null ? '-' : int(p.processedPerSecond);
  const batch =
    p.batchMean === null
      ? 'no batch yet'
      : `batch ${fixed(p.batchMean, 1)} docs (${percent(p.paddingMean)} pad)`;
  const age = s.figures ? s.nowMs - s.figures.atMs : 0;
  // A service busy with inference can answer /metrics late: say so rather than show old figures as current.
  const stale = age >= 5_000 ? `  (figures ${span(age)} old: /metrics is slow)` : '';
  // Alerts are decided at the evaluator's event time, which trails the watermark while a backlog drains.
  const behind =
    p.evaluatedUntilMs !== null && p.watermarkMs !== null && p.watermarkMs - p.evaluatedUntilMs >= 120_000
      ? ` (judged ${eventOffset(p.evaluatedUntilMs, s.eventStartMs)})`
      : '';
  return `pipeline  ${rate} docs/s  ${int(p.processed)} enriched  lag ${int(p.consumerLag)}  ${batch}  watermark ${eventOffset(p.watermarkMs, s.eventStartMs)}${behind}${stale}`;
}

function dlqLine(s: ViewState): string {
  const p = s.figures?.pipeline;
  if (!p || p.deadLettered === 0) return 'DLQ       none yet';
  const reasons = p.dlqByReason.map(([r, n]) => `${r} ${int(n)}`).join(' · ');
  return `DLQ       ${int(p.deadLettered)} records  ${reasons}`;
}

function groupBlock(
  s: ViewState,
  dimension: string,
  window: string,
  minDocuments: number,
  limit: number,
): string[] {
  const head = `negative share by ${dimension} (${window}${minDocuments > 1 ? `, n ≥ ${minDocuments}` : ''})`;
  const groups = topByNegativeShare(s.figures?.groups ?? [], dimension, window, minDocuments, limit);
  if (groups.length === 0) return [head, '  (no group has enough documents yet)'];
  // Prometheus label values have "_" for spaces (src/telemetry/label-values.ts); shown as the alerts name them.
  const name = (g: { group: string }) => g.group.replace(/_/g, ' ');
  const width = Math.min(28, Math.max(...groups.map((g) => name(g).length)));
  return [
    head,
    ...groups.map((g) => {
      const z = g.z === null ? '' : `  z ${g.z >= 0 ? '+' : ''}${fixed(g.z, 1)}`;
      return `  ${fit(name(g), width).padEnd(width)}  ${fixed(g.negativeShare, 2)}  n ${int(g.documents).padStart(5)}${z}`;
    }),
  ];
}

function fairnessBlock(s: ViewState): string[] {
  const rows = (s.figures?.fairness ?? [])
    .filter((f) => f.window === s.fairnessWindow && f.disparateImpactRatio !== null)
    .sort((a, b) => (a.disparateImpactRatio ?? 1) - (b.disparateImpactRatio ?? 1));
  const head = `fairness (${s.fairnessWindow})  DIR     DPD    judged`;
  if (rows.length === 0) return [head, '  (fewer than two judged groups so far)'];
  return [
    head,
    ...rows.map((f) => {
      const flag = (f.disparateImpactRatio ?? 1) < 0.8 ? '  < 0.8' : '';
      return `  ${f.dimension.padEnd(12)} ${fixed(f.disparateImpactRatio, 2).padStart(5)}  ${fixed(f.demographicParityDifference, 3).padStart(6)}  ${String(f.judgedGroups ?? '-').padStart(5)}${flag}`;
    }),
  ];
}

/** Window labels as the metrics write them (formatDuration), longest first. */
function byWindowLength(a: string, b: string): number {
  const ms = (w: string) => {
    try {
      return parseDuration(w);
    } catch {
      return 0;
    }
  };
  return ms(b) - ms(a);
}

function driftLine(s: ViewState): string {
  const all = (s.figures?.drift ?? []).filter((d) => d.psi !== null);
  // The rule window (1 h) once it has a trailing reference; before that, the longest window that has one.
  const windows = [...new Set(all.map((d) => d.window))].sort(byWindowLength);
  const window = windows.includes(s.fairnessWindow) ? s.fairnessWindow : windows[0];
  const rows = all.filter((d) => d.window === window).sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0));
  if (rows.length === 0) return 'drift     (PSI vs the trailing reference: no reference window yet)';
  return `drift     PSI ${window} vs reference: ${rows.map((d) => `${d.feature} ${fixed(d.psi, 3)}`).join(' · ')}`;
}

function alertBlock(s: ViewState, limit: number): string[] {
  const firing = s.activeAlerts.filter((a) => a.state === 'firing').length;
  const pending = s.activeAlerts.length - firing;
  const head = `alerts    ${firing} firing · ${pending} pending · ${s.alerts.length} state changes`;
  const recent = s.alerts.slice(-limit);
  return [head, ...recent.map((a) => `  ${alertLine(a, s.eventStartMs)}`)];
}

/** The full-screen view, one string per line, each cut to `width`. */
export function renderView(s: ViewState, width = 100): string[] {
  const lines: string[] = [];
  lines.push(
    `finsentry demo · run ${s.runId} · scenario ${s.scenario} (seed ${s.seed}) · ${clock(s.nowMs - s.startedAtMs)} · ${PHASE_TEXT[s.phase]}`,
  );
  lines.push('');
  lines.push(replayLine(s));
  lines.push(pipelineLine(s));
  lines.push(dlqLine(s));
  lines.push('');
  const issuers = groupBlock(s, 'issuer', s.issuerWindow, s.issuerMinDocuments, 6);
  const regions = groupBlock(s, 'region', s.fairnessWindow, 1, 6);
  const left = Math.min(56, Math.max(40, ...issuers.map((l) => l.length)));
  lines.push(...(width >= left + 36 ? sideBySide(issuers, regions, left) : [...issuers, ...regions]));
  lines.push('');
  lines.push(...fairnessBlock(s));
  lines.push(driftLine(s));
  lines.push('');
  lines.push(...alertBlock(s, 8));
  lines.push('');
  lines.push(
    `metrics ${s.metricsUrl}${s.prometheusUrl ? ` · Prometheus ${s.prometheusUrl}` : ''} · Ctrl-C stops`,
  );
  return lines.map((l) => fit(l, width));
}

/** One plain progress line (no terminal control), for logs and non-TTY output. */
export function progressLine(s: ViewState): string {
  const p = s.figures?.pipeline;
  const pct = s.replay.total > 0 ? ` (${percent(s.replay.sent / s.replay.total)})` : '';
  const firing = s.activeAlerts.filter((a) => a.state === 'firing').length;
  const pending = s.activeAlerts.length - firing;
  const parts = [
    `[${clock(s.nowMs - s.startedAtMs)}] ${PHASE_TEXT[s.phase]}`,
    `replay ${int(s.replay.sent)}/${int(s.replay.total)}${pct} ${int(s.replay.ratePerSecond)} msg/s`,
    p
      ? `enriched ${int(p.processed)} (${p.processedPerSecond === null ? '-' : int(p.processedPerSecond)}/s) lag ${int(p.consumerLag)} batch ${fixed(p.batchMean, 1)}`
      : 'pipeline -',
    `watermark ${eventOffset(p?.watermarkMs ?? null, s.eventStartMs)}`,
    `DLQ ${int(p?.deadLettered ?? 0)}`,
    `alerts ${firing} firing ${pending} pending`,
  ];
  return parts.join(' · ');
}

/** The plain line for one alert state change (non-TTY output prints these as they arrive). */
export function progressAlertLine(
  s: Pick<ViewState, 'startedAtMs' | 'nowMs' | 'eventStartMs'>,
  a: ViewAlert,
): string {
  return `[${clock(s.nowMs - s.startedAtMs)}] alert ${alertLine(a, s.eventStartMs).replace(/\s+/g, ' ')}`;
}
