import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../../src/alerts/events.js';
import type { Figures } from '../../../../src/tools/demo/figures.js';
import { clock, eventOffset, fit, int, sideBySide, span } from '../../../../src/tools/demo/format.js';
import {
  progressAlertLine,
  progressLine,
  renderView,
  type ViewState,
} from '../../../../src/tools/demo/view.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 1, 10, 0);

describe('demo formatting', () => {
  it('formats counts, clocks, event-time offsets and delays', () => {
    expect([int(0), int(999), int(1234567), int(-4321), int(null), int(Number.NaN)]).toEqual([
      '0',
      '999',
      '1,234,567',
      '-4,321',
      '-',
      '-',
    ]);
    expect([clock(0), clock(59_999), clock(61_000), clock(3_725_000)]).toEqual([
      '0:00',
      '0:59',
      '1:01',
      '1:02:05',
    ]);
    expect([
      eventOffset(T0, T0),
      eventOffset(T0 + 65 * MIN + 59_000, T0),
      eventOffset(T0 - 2 * MIN, T0),
      eventOffset(null, T0),
    ]).toEqual(['T+0:00', 'T+1:05', 'T-0:02', 'T+-']);
    expect([
      span(45_000),
      span(7 * MIN),
      span(7.5 * MIN),
      span(120 * MIN),
      span(65 * MIN),
      span(-MIN),
      span(null),
    ]).toEqual(['45s', '7m', '7m30s', '2h', '1h05m', '-1m', '-']);
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('abc', 4)).toBe('abc');
    expect(sideBySide(['a', 'bb'], ['x'], 3)).toEqual(['a    x', 'bb']);
  });
});

function figures(): Figures {
  return {
    atMs: 1_082_500, // scraped half a second before "now" in state()
    pipeline: {
      consumed: 6_100,
      processed: 6_000,
      deadLettered: 61,
      dlqByReason: [
        ['empty-text', 40],
        ['corrupt-avro', 21],
      ],
      processedPerSecond: 187.4,
      consumedPerSecond: 190,
      consumerLag: 1_203,
      batchMean: 23.44,
      paddingMean: 0.31,
      watermarkMs: T0 + 61 * MIN,
      queued: 12,
      lastEvaluationMs: null,
      evaluatedUntilMs: null,
    },
    groups: [
      {
        dimension: 'issuer',
        group: 'northwind_energy_corp',
        window: '5m',
        documents: 88,
        negativeShare: 0.7386,
        z: 9.12,
      },
      {
        dimension: 'issuer',
        group: 'calm_holdings',
        window: '5m',
        documents: 25,
        negativeShare: 0.16,
        z: -0.4,
      },
      { dimension: 'issuer', group: 'tiny_ag', window: '5m', documents: 3, negativeShare: 1, z: null },
      { dimension: 'region', group: 'apac', window: '1h', documents: 1_203, negativeShare: 0.31, z: null },
      { dimension: 'region', group: 'emea', window: '1h', documents: 1_500, negativeShare: 0.18, z: null },
    ],
    fairness: [
      {
        dimension: 'source',
        window: '1h',
        disparateImpactRatio: 0.91,
        demographicParityDifference: 0.02,
        judgedGroups: 6,
        breachingGroups: 0,
      },
      {
        dimension: 'region',
        window: '1h',
        disparateImpactRatio: 0.58,
        demographicParityDifference: 0.13,
        judgedGroups: 4,
        breachingGroups: 1,
      },
    ],
    drift: [
      { feature: 'p_neg', window: '1h', psi: 0.031, jsDistance: 0.05 },
      { feature: 'tokens', window: '1h', psi: 0.004, jsDistance: 0.01 },
    ],
    alertStates: [],
  };
}

function alert(partial: Partial<AlertEvent>): AlertEvent {
  return {
    fingerprint: 'f1',
    rule: 'NegativeSentimentSurge',
    kind: 'sentiment',
    state: 'firing',
    severity: 'critical',
    dimension: 'issuer',
    group: 'northwind energy corp',
    metric: 'negative_share',
    value: 0.7123,
    threshold: 0.5,
    window_ms: 5 * MIN,
    sample_size: 64,
    p_value: 1e-9,
    started_at: T0 + 60 * MIN,
    ended_at: null,
    summary: '',
    runbook_url: '',
    labels: {},
    ...partial,
  };
}

function state(): ViewState {
  const surge = alert({});
  const bias = alert({
    fingerprint: 'f2',
    rule: 'DisparateImpactRegion',
    kind: 'fairness',
    state: 'pending',
    dimension: 'region',
    group: null,
    value: 0.58,
    sample_size: 4_000,
    started_at: T0 + 14 * MIN,
  });
  return {
    runId: '20261201-100000-ab12',
    scenario: 'mixed',
    seed: 1,
    phase: 'replaying',
    startedAtMs: 1_000_000,
    nowMs: 1_083_000,
    eventStartMs: T0,
    eventEndMs: T0 + 120 * MIN,
    speedup: 60,
    replay: { sent: 12_345, total: 24_000, ratePerSecond: 198.2, eventTimeMs: T0 + 62 * MIN },
    figures: figures(),
    alerts: [
      { event: bias, eventTimeMs: T0 + 14 * MIN },
      { event: surge, eventTimeMs: T0 + 61 * MIN },
    ],
    activeAlerts: [surge, bias],
    deadLettersRead: 61,
    issuerMinDocuments: 20,
    issuerWindow: '5m',
    fairnessWindow: '1h',
    metricsUrl: 'http://127.0.0.1:9464/metrics',
    prometheusUrl: 'http://127.0.0.1:9090',
  };
}

describe('demo live view', () => {
  it('renders throughput, lag, batches, top groups, fairness, drift and alerts', () => {
    expect(renderView(state(), 110)).toEqual([
      'finsentry demo · run 20261201-100000-ab12 · scenario mixed (seed 1) · 1:23 · replaying',
      '',
      'replay    12,345 / 24,000 messages (51%)  198 msg/s  event time T+1:02 of T+2:00 (x60)',
      'pipeline  187 docs/s  6,000 enriched  lag 1,203  batch 23.4 docs (31% pad)  watermark T+1:01',
      'DLQ       61 records  empty-text 40 · corrupt-avro 21',
      '',
      'negative share by issuer (5m, n ≥ 20)           negative share by region (1h)',
      '  northwind energy corp  0.74  n    88  z +9.1    apac  0.31  n 1,203',
      '  calm holdings          0.16  n    25  z -0.4    emea  0.18  n 1,500',
      '',
      'fairness (1h)  DIR     DPD    judged',
      '  region        0.58   0.130      4  < 0.8',
      '  source        0.91   0.020      6',
      'drift     PSI 1h vs reference: p_neg 0.031 · tokens 0.004',
      '',
      'alerts    1 firing · 1 pending · 2 state changes',
      '  T+0:14  PENDING  DisparateImpactRegion    region  0.580 (n 4,000)',
      '  T+1:01  FIRING   NegativeSentimentSurge   issuer northwind energy corp  0.712 (n 64)',
      '',
      'metrics http://127.0.0.1:9464/metrics · Prometheus http://127.0.0.1:9090 · Ctrl-C stops',
    ]);
  });

  it('cuts lines to the terminal width and stacks the group tables when it is narrow', () => {
    const lines = renderView(state(), 60);
    expect(lines.every((l) => l.length <= 60)).toBe(true);
    expect(lines).toContain('negative share by region (1h)');
    expect(lines[3]).toBe('pipeline  187 docs/s  6,000 enriched  lag 1,203  batch 23.4…');
  });

  it('says when the figures are old (the service answers /metrics slowly)', () => {
    const s = state();
    s.figures!.atMs = s.nowMs - 12_000;
    expect(renderView(s, 140)[3]).toBe(
      'pipeline  187 docs/s  6,000 enriched  lag 1,203  batch 23.4 docs (31% pad)  watermark T+1:01  (figures 12s old: /metrics is slow)',
    );
  });

  it('says how far behind the watermark the evaluator judges while a backlog drains', () => {
    const s = state();
    s.figures!.pipeline.evaluatedUntilMs = T0 + 56 * MIN; // the watermark is at T+1:01
    expect(renderView(s, 140)[3]).toBe(
      'pipeline  187 docs/s  6,000 enriched  lag 1,203  batch 23.4 docs (31% pad)  watermark T+1:01 (judged T+0:56)',
    );
  });

  it('says what is missing before the first scrape', () => {
    const s = { ...state(), figures: null, alerts: [], activeAlerts: [], phase: 'starting' as const };
    const lines = renderView(s, 110);
    expect(lines).toContain('pipeline  waiting for the first /metrics scrape');
    expect(lines).toContain('DLQ       none yet');
    expect(lines).toContain('  (fewer than two judged groups so far)');
    expect(lines).toContain('drift     (PSI vs the trailing reference: no reference window yet)');
    // Before the 1 h window has a reference, the longest window that has one.
    const early = state();
    early.figures!.drift = [
      { feature: 'p_neg', window: '5m', psi: 0.2, jsDistance: 0.1 },
      { feature: 'p_neg', window: '15m', psi: 0.05, jsDistance: 0.03 },
      { feature: 'tokens', window: '15m', psi: 0.07, jsDistance: 0.03 },
    ];
    expect(renderView(early, 110)).toContain('drift     PSI 15m vs reference: tokens 0.070 · p_neg 0.050');
  });

  it('prints plain progress and alert lines for non-terminal output', () => {
    const s = state();
    expect(progressLine(s)).toBe(
      '[1:23] replaying · replay 12,345/24,000 (51%) 198 msg/s · enriched 6,000 (187/s) lag 1,203 batch 23.4 · watermark T+1:01 · DLQ 61 · alerts 1 firing 1 pending',
    );
    expect(progressAlertLine(s, s.alerts[1]!)).toBe(
      '[1:23] alert T+1:01 FIRING NegativeSentimentSurge issuer northwind energy corp 0.712 (n 64)',
    );
  });
});
