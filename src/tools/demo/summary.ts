import type { AlertEvent } from '../../alerts/events.js';
import { formatDuration } from '../../config/duration.js';
import { alertEpisodes } from '../report/load.js';
import type { GroundTruth, InjectedEvent } from '../scenarios/ground-truth.js';
import { scoreScenario, type ObservedAlert } from '../scenarios/scoring.js';
import { clock, eventOffset, int, span } from './format.js';

/**
 * The demo's closing summary: what the scenario injected (its ground truth) against what finsentry
 * detected (the alert events read back from the alerts topic, scored with scoreScenario in event
 * time), false alerts, and whether every poison message reached the DLQ with the reason it was
 * built to trigger. Pure: built from data the I/O side collected, rendered to lines.
 */

export interface DeadLetterRead {
  /** Kafka key of the DLQ record (the original key: the document id). */
  key: string | null;
  /** finsentry.dlq.reason header. */
  reason: string | null;
}

export interface SummaryLocations {
  metricsUrl: string;
  /** Whether the service (and so its /metrics) is still running after the demo (--keep-running). */
  serviceRunning: boolean;
  prometheusUrl: string | null;
  /** Whether that Prometheus scrapes this run's service (the local stack scrapes 127.0.0.1:9464 only). */
  prometheusScrapes: boolean;
  alertmanagerUrl: string | null;
  brokers: string[];
  topics: { news: string; chat: string; enriched: string; alerts: string; dlq: string };
  groupId: string;
  keyPrefix: string;
  runDir: string;
  configPath: string;
  logPath: string;
}

export interface SummaryInput {
  runId: string;
  truth: GroundTruth;
  /** Alert events of an evaluator on the event clock (evaluator.clock: event): their times are event times. */
  alertEvents: readonly AlertEvent[];
  /**
   * Rules about the service's capacity on this machine (consumer lag, stalled commits): what they say
   * depends on the hardware, not on the traffic, so they are reported apart and never count as false
   * alerts. Every other rule (DLQ share included: the scenario plants the poison) is scored.
   */
  capacityRules: readonly string[];
  deadLetters: readonly DeadLetterRead[];
  /** Messages the replay had acknowledged by Kafka. */
  produced: number;
  /** Documents the service counted as enriched (finsentry_documents_processed_total); null if unknown. */
  enriched: number | null;
  wall: { startedAtMs: number; replayStartedAtMs: number | null; finishedAtMs: number };
  /** True when Ctrl-C (or a failure) ended the run before the traffic was replayed and processed. */
  interrupted: boolean;
  locations: SummaryLocations;
}

export interface DetectionRow {
  rule: string;
  kind: string;
  dimension: string | null;
  group: string | null;
  feature: string | null;
  fromMs: number;
  toMs: number;
  detected: boolean;
  /** First firing − injected start, event time. */
  delayMs: number | null;
  allowanceMs: number;
  withinAllowance: boolean;
  resolveDelayMs: number | null;
  resolveAllowanceMs: number | null;
  resolvedInTime: boolean | null;
}

export interface AlertRow {
  rule: string;
  dimension: string | null;
  group: string | null;
  firingAtMs: number | null;
  resolvedAtMs: number | null;
}

export interface InjectedRow {
  kind: InjectedEvent['kind'];
  description: string;
  fromMs: number;
  toMs: number;
  groups: Array<{ dimension: string; group: string }>;
  /** Detections of the alerts this event calls for (none for e.g. a poison share below the DLQ rule). */
  detections: DetectionRow[];
  /** The language of the event's documents when no configured model reads it (they are unscored). */
  unscoredLanguage?: string;
}

export interface DeadLetterAccounting {
  /** Poison messages the scenario produced. */
  expected: number;
  /** Of those, found in the DLQ with the expected reason. */
  matched: number;
  /** Found in the DLQ, but with another reason. */
  wrongReason: Array<{ id: string; expected: string; found: string | null }>;
  /** Not found in the DLQ. */
  missing: string[];
  /** DLQ records (distinct keys) that are not poison the scenario planted, by reason. */
  unexpected: Record<string, number>;
  /** Per expected reason: planted, and found with that reason. */
  byReason: Record<string, { expected: number; found: number }>;
  /** Poison kinds the scenario could not produce under the configured limits. */
  skipped: Array<{ kind: string; why: string }>;
}

export interface DemoSummary {
  runId: string;
  scenario: string;
  seed: number;
  eventStartMs: number;
  eventEndMs: number;
  wallMs: number;
  interrupted: boolean;
  documents: {
    produced: number;
    planned: number;
    poison: number;
    wellFormed: number;
    enriched: number | null;
  };
  injected: InjectedRow[];
  falseAlerts: AlertRow[];
  /** Alerts the ground truth tolerates (effects of an injection through the model): not false. */
  toleratedAlerts: AlertRow[];
  capacityAlerts: AlertRow[];
  deadLetters: DeadLetterAccounting;
  /** Every expected alert detected in time, none false, every poison message dead-lettered as planned. */
  pass: boolean;
  locations: SummaryLocations;
}

/** Alert episodes (pending → firing → resolved) as scoreScenario takes them. */
export function observedAlerts(events: readonly AlertEvent[]): ObservedAlert[] {
  const features = new Map(events.map((e) => [e.fingerprint, e.labels.feature ?? null]));
  return alertEpisodes(events, Number.POSITIVE_INFINITY).map((ep) => ({
    rule: ep.rule,
    dimension: ep.dimension,
    group: ep.group,
    feature: features.get(ep.fingerprint) ?? null,
    firingAtMs: ep.firingAtMs,
    resolvedAtMs: ep.state === 'resolved' ? ep.endedAtMs : null,
  }));
}

export function accountDeadLetters(
  truth: Pick<GroundTruth, 'expectedDeadLetters' | 'skippedPoisonKinds'>,
  read: readonly DeadLetterRead[],
): DeadLetterAccounting {
  const found = new Map<string, string | null>();
  for (const d of read) if (d.key !== null && !found.has(d.key)) found.set(d.key, d.reason);
  const expectedKeys = new Set<string>();
  const byReason: Record<string, { expected: number; found: number }> = {};
  const wrongReason: DeadLetterAccounting['wrongReason'] = [];
  const missing: string[] = [];
  let matched = 0;
  for (const d of truth.expectedDeadLetters) {
    expectedKeys.add(d.key);
    const r = (byReason[d.reason] ??= { expected: 0, found: 0 });
    r.expected++;
    if (!found.has(d.key)) missing.push(d.id);
    else if (found.get(d.key) === d.reason) {
      matched++;
      r.found++;
    } else wrongReason.push({ id: d.id, expected: d.reason, found: found.get(d.key) ?? null });
  }
  const unexpected: Record<string, number> = {};
  for (const [key, reason] of found) {
    if (expectedKeys.has(key)) continue;
    const r = reason ?? 'unknown';
    unexpected[r] = (unexpected[r] ?? 0) + 1;
  }
  return {
    expected: truth.expectedDeadLetters.length,
    matched,
    wrongReason,
    missing,
    unexpected,
    byReason,
    skipped: truth.skippedPoisonKinds.map((s) => ({ kind: s.kind, why: s.why })),
  };
}

/** The alert kind an injected event is detected by. */
const KIND_FOR: Record<InjectedEvent['kind'], string> = {
  surge: 'sentiment',
  bias: 'fairness',
  drift: 'drift',
  poison: 'pipeline',
  // Tone unchanged: nothing must detect it; a sentiment alert on it is a false one.
  'coverage-burst': 'sentiment',
};

function alertRow(o: ObservedAlert): AlertRow {
  return {
    rule: o.rule,
    dimension: o.dimension,
    group: o.group,
    firingAtMs: o.firingAtMs,
    resolvedAtMs: o.resolvedAtMs,
  };
}

export function buildSummary(input: SummaryInput): DemoSummary {
  const { truth } = input;
  const observed = observedAlerts(input.alertEvents);
  const expectedRules = new Set(truth.expectedAlerts.map((a) => a.rule));
  const ignored = input.capacityRules.filter((r) => !expectedRules.has(r));
  const score = scoreScenario(truth, observed, { ignoreRules: ignored });
  const rows: DetectionRow[] = score.detections.map((d) => ({
    rule: d.expected.rule,
    kind: d.expected.kind,
    dimension: d.expected.dimension ?? null,
    group: d.expected.group ?? null,
    feature: d.expected.feature ?? null,
    fromMs: d.expected.fromMs,
    toMs: d.expected.toMs,
    detected: d.detected,
    delayMs: d.delayMs,
    allowanceMs: d.expected.detectWithinMs,
    withinAllowance: d.withinAllowance,
    resolveDelayMs: d.resolveDelayMs,
    resolveAllowanceMs: d.expected.resolveWithinMs,
    resolvedInTime: d.resolvedInTime,
  }));
  const injected: InjectedRow[] = truth.injected.map((e) => ({
    kind: e.kind,
    description: e.description,
    fromMs: e.fromMs,
    toMs: e.toMs,
    groups: e.groups.map((g) => ({ dimension: g.dimension, group: g.group })),
    ...(e.params.scored === false ? { unscoredLanguage: String(e.params.language) } : {}),
    detections: rows.filter(
      (r) =>
        r.kind === KIND_FOR[e.kind] &&
        r.fromMs === e.fromMs &&
        r.toMs === e.toMs &&
        // Two surges of one period (the English and the Chinese one) each get their own detections.
        (r.group === null || e.groups.some((g) => g.group === r.group && g.dimension === r.dimension)),
    ),
  }));
  const ignoredSet = new Set(ignored);
  const capacityAlerts = observed
    .filter((o) => ignoredSet.has(o.rule) && o.firingAtMs !== null)
    .map(alertRow);
  const deadLetters = accountDeadLetters(truth, input.deadLetters);
  const deadLettersOk =
    deadLetters.matched === deadLetters.expected &&
    deadLetters.missing.length === 0 &&
    deadLetters.wrongReason.length === 0;
  return {
    runId: input.runId,
    scenario: truth.scenario,
    seed: truth.seed,
    eventStartMs: truth.startMs,
    eventEndMs: truth.endMs,
    wallMs: input.wall.finishedAtMs - input.wall.startedAtMs,
    interrupted: input.interrupted,
    documents: {
      produced: input.produced,
      planned: truth.counts.total,
      poison: truth.counts.poison,
      wellFormed: truth.counts.total - truth.counts.poison,
      enriched: input.enriched,
    },
    injected,
    falseAlerts: score.falseAlerts.map(alertRow),
    toleratedAlerts: (score.tolerated ?? []).map(alertRow),
    capacityAlerts,
    deadLetters,
    pass: !input.interrupted && score.pass && deadLettersOk,
    locations: input.locations,
  };
}

function what(r: { dimension: string | null; group: string | null; feature?: string | null }): string {
  if (r.feature) return `feature ${r.feature}`;
  if (r.group) return `${r.dimension ?? ''} "${r.group}"`.trim();
  return r.dimension ?? 'pipeline';
}

function detectionText(d: DetectionRow): string {
  if (!d.detected) return `NOT DETECTED by ${d.rule} (allowed ${span(d.allowanceMs)} after the start)`;
  const late = d.withinAllowance ? '' : ' — later than allowed';
  const resolved =
    d.resolveDelayMs !== null
      ? `, resolved ${span(d.resolveDelayMs)} after the end${d.resolvedInTime === false ? ' (later than allowed)' : ''}`
      : d.resolveAllowanceMs === null
        ? ', still firing at the end of the run (expected: the effect lasts to the end)'
        : ', not resolved by the end of the run';
  return `DETECTED by ${d.rule} ${span(d.delayMs)} after the start (allowed ${span(d.allowanceMs)})${late}${resolved}`;
}

function injectedHead(e: InjectedRow, startMs: number): string {
  const when = `${eventOffset(e.fromMs, startMs)}–${eventOffset(e.toMs, startMs)}`;
  switch (e.kind) {
    case 'surge':
      return `surge   ${e.groups.map((g) => `${g.dimension} "${g.group}"`).join(' / ')}  ${when}`;
    case 'bias':
      return `bias    ${e.groups.map((g) => `${g.dimension} "${g.group}"`).join(', ')}  ${when}`;
    case 'drift':
      return `drift   input/output distributions  ${when}`;
    case 'poison':
      return `poison  malformed messages  ${when}`;
    case 'coverage-burst':
      return `burst   ${e.groups.map((g) => `${g.dimension} "${g.group}"`).join(', ')} (tone unchanged)  ${when}`;
  }
}

function alertRowText(a: AlertRow, startMs: number): string {
  const resolved = a.resolvedAtMs !== null ? `, resolved ${eventOffset(a.resolvedAtMs, startMs)}` : '';
  return `${a.rule} on ${what(a)}: firing ${eventOffset(a.firingAtMs, startMs)}${resolved}`;
}

/** The summary as printed at the end of the demo. */
export function renderSummary(s: DemoSummary): string[] {
  const eventSpan = span(s.eventEndMs - s.eventStartMs);
  const d = s.documents;
  return [
    `finsentry demo summary — run ${s.runId}, scenario ${s.scenario} (seed ${s.seed}): ${eventSpan} of event time in ${clock(s.wallMs)} of wall time${s.interrupted ? ' — INTERRUPTED, figures are partial' : ''}`,
    '',
    `documents  ${int(d.produced)} of ${int(d.planned)} produced: ${int(d.wellFormed)} well-formed, ${int(d.poison)} poison; ${d.enriched === null ? '?' : int(d.enriched)} enriched by the service`,
    '',
    ...injectedSection(s),
    '',
    ...alertsSection(s),
    ...deadLettersSection(s),
    '',
    s.interrupted
      ? 'result: incomplete — the demo was stopped before the scenario was replayed and processed'
      : s.pass
        ? 'result: PASS — every injected effect detected in time, no false alert, every poison message in the DLQ'
        : 'result: FAIL — see above',
    '',
    ...whereToLook(s),
  ];
}

function injectedSection(s: DemoSummary): string[] {
  const out: string[] = ['injected (ground truth, event time from the scenario start T) → detected'];
  for (const e of s.injected) {
    out.push(`  ${injectedHead(e, s.eventStartMs)}`);
    out.push(`          ${e.description}`);
    if (e.kind === 'poison') {
      const dl = s.deadLetters;
      out.push(
        `          → DLQ: ${int(dl.matched)} of ${int(dl.expected)} poison messages dead-lettered with the expected reason (${Object.entries(
          dl.byReason,
        )
          .map(([r, c]) => `${r} ${c.found}/${c.expected}`)
          .join(', ')})`,
      );
    }
    if (e.unscoredLanguage)
      out.push(
        `          → not detectable here: no configured model reads ${e.unscoredLanguage} (models.languages), its documents are enriched unscored; no alert expected`,
      );
    else if (e.detections.length === 0 && e.kind !== 'poison')
      out.push('          → no alert expected from the rules in force');
    if (e.detections.length === 0 && e.kind === 'poison')
      out.push('          → no alert expected: the share is below the DeadLetterRateHigh threshold');
    for (const det of e.detections) out.push(`          → ${what(det)}: ${detectionText(det)}`);
  }
  return out;
}

function alertsSection(s: DemoSummary): string[] {
  const start = s.eventStartMs;
  const out: string[] = [
    s.falseAlerts.length === 0
      ? 'false alerts: none (no alert fired that the ground truth does not call for)'
      : `false alerts: ${s.falseAlerts.length}`,
  ];
  for (const a of s.falseAlerts) out.push(`  ${alertRowText(a, start)}`);
  if (s.toleratedAlerts.length > 0) {
    out.push(
      `tolerated alerts (effects of an injection through the model that the ground truth allows): ${s.toleratedAlerts.length}`,
    );
    for (const a of s.toleratedAlerts) out.push(`  ${alertRowText(a, start)}`);
  }
  if (s.capacityAlerts.length > 0) {
    out.push(
      `capacity alerts (consumer lag or stalls of the service on this machine, not about the traffic): ${s.capacityAlerts.length}`,
    );
    for (const a of s.capacityAlerts) out.push(`  ${alertRowText(a, start)}`);
  }
  return out;
}

function deadLettersSection(s: DemoSummary): string[] {
  const dl = s.deadLetters;
  const problems = [
    dl.missing.length > 0
      ? `${dl.missing.length} missing (${dl.missing.slice(0, 5).join(', ')}${dl.missing.length > 5 ? ', …' : ''})`
      : '',
    dl.wrongReason.length > 0 ? `${dl.wrongReason.length} with another reason` : '',
  ].filter(Boolean);
  const out = [
    `dead letters: ${int(dl.matched)} of ${int(dl.expected)} poison messages in the DLQ with the expected reason${problems.length ? `; ${problems.join('; ')}` : ' — every one accounted for'}`,
  ];
  const unexpected = Object.entries(dl.unexpected);
  if (unexpected.length > 0)
    out.push(`  other DLQ records: ${unexpected.map(([r, n]) => `${r} ${n}`).join(', ')}`);
  for (const k of dl.skipped) out.push(`  poison kind ${k.kind} not generated: ${k.why}`);
  return out;
}

function whereToLook(s: DemoSummary): string[] {
  const l = s.locations;
  const out = ['where to look'];
  out.push(
    `  metrics       ${l.metricsUrl}${l.serviceRunning ? ' (finsentry is still running: Ctrl-C stops it)' : ' (the service has stopped; rerun with --keep-running to keep it up)'}`,
  );
  if (l.prometheusUrl)
    out.push(
      l.prometheusScrapes
        ? `  Prometheus    ${l.prometheusUrl}/graph?g0.expr=${encodeURIComponent('finsentry_group_negative_share{dimension="issuer",window="5m"}')}`
        : `  Prometheus    ${l.prometheusUrl} (does not scrape this run's port; the local stack's Prometheus scrapes 127.0.0.1:9464)`,
    );
  if (l.alertmanagerUrl) out.push(`  Alertmanager  ${l.alertmanagerUrl}`);
  out.push(`  Kafka         ${l.brokers.join(',')}`);
  out.push(`    input       ${l.topics.news}, ${l.topics.chat}`);
  out.push(`    output      ${l.topics.enriched}, ${l.topics.alerts}, ${l.topics.dlq}`);
  out.push(`  Redis keys    ${l.keyPrefix}:*   (consumer group ${l.groupId})`);
  out.push(`  config        ${l.configPath}`);
  out.push(`  service log   ${l.logPath}`);
  out.push(
    `  stats         node dist/cli/main.js stats --config ${l.configPath} --dimension region --window 1h`,
  );
  out.push(
    `  report        node dist/cli/main.js report --config ${l.configPath} --window ${formatDuration(s.eventEndMs - s.eventStartMs)} --out ${l.runDir}/report.html`,
  );
  return out;
}
