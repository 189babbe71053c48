import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../../src/alerts/events.js';
import { AlertLog } from '../../../../src/tools/demo/alert-log.js';
import { buildDemoConfig, demoNames } from '../../../../src/tools/demo/config.js';
import {
  accountDeadLetters,
  buildSummary,
  renderSummary,
  type SummaryInput,
} from '../../../../src/tools/demo/summary.js';
import type { GroundTruth } from '../../../../src/tools/scenarios/ground-truth.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 1, 10, 0);

function truth(): GroundTruth {
  return {
    version: 1,
    scenario: 'mixed',
    seed: 1,
    startMs: T0,
    endMs: T0 + 120 * MIN,
    ratePerSecond: 1,
    tickers: ['NWEC'],
    baselineMix: { negative: 0.18, neutral: 0.5, positive: 0.32 },
    injected: [
      {
        kind: 'surge',
        description: 'negative news about Northwind Energy Corp',
        fromMs: T0 + 54 * MIN,
        toMs: T0 + 84 * MIN,
        groups: [
          { dimension: 'issuer', group: 'northwind energy corp' },
          { dimension: 'ticker', group: 'NWEC' },
        ],
        params: {},
      },
      {
        kind: 'bias',
        description: 'apac phrased negatively',
        fromMs: T0,
        toMs: T0 + 120 * MIN,
        groups: [{ dimension: 'region', group: 'apac' }],
        params: {},
      },
      {
        kind: 'poison',
        description: '0.01 of messages are malformed',
        fromMs: T0,
        toMs: T0 + 120 * MIN,
        groups: [],
        params: { share: 0.01 },
      },
    ],
    expectedAlerts: [
      {
        rule: 'NegativeSentimentSurge',
        kind: 'sentiment',
        dimension: 'issuer',
        group: 'northwind energy corp',
        fromMs: T0 + 54 * MIN,
        toMs: T0 + 84 * MIN,
        detectWithinMs: 13 * MIN,
        resolveWithinMs: 11 * MIN,
      },
      {
        rule: 'DisparateImpactRegion',
        kind: 'fairness',
        dimension: 'region',
        group: 'apac',
        fromMs: T0,
        toMs: T0 + 120 * MIN,
        detectWithinMs: 20 * MIN,
        resolveWithinMs: null,
      },
    ],
    skippedPoisonKinds: [],
    expectedDeadLetters: [
      { id: 'd1', topic: 'news', key: 'd1', reason: 'empty-text', eventTimeMs: T0 + MIN },
      { id: 'd2', topic: 'chat', key: 'd2', reason: 'corrupt-avro', eventTimeMs: T0 + 2 * MIN },
      { id: 'd3', topic: 'chat', key: 'd3', reason: 'corrupt-avro', eventTimeMs: T0 + 3 * MIN },
    ],
    counts: {
      total: 1000,
      byTopic: { news: 400, chat: 600 },
      byTruth: { negative: 200, neutral: 497, positive: 300 },
      poison: 3,
      labels: 0,
      deadLettersByReason: { 'empty-text': 1, 'corrupt-avro': 2 },
    },
    complete: true,
  };
}

function event(partial: Partial<AlertEvent> & Pick<AlertEvent, 'rule' | 'state' | 'started_at'>): AlertEvent {
  const fingerprint = `${partial.rule}-${partial.group ?? '*'}`;
  return {
    fingerprint,
    kind: 'sentiment',
    severity: 'warning',
    dimension: null,
    group: null,
    metric: 'negative_share',
    value: 0.7,
    threshold: 0.5,
    window_ms: 5 * MIN,
    sample_size: 40,
    p_value: null,
    ended_at: null,
    summary: '',
    runbook_url: '',
    ...partial,
    labels: { event_id: `${fingerprint}:${partial.started_at}:${partial.state}`, ...(partial.labels ?? {}) },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The alerts a correct run raises (event-clock times): surge pending → firing → resolved, bias firing. */
function goodEvents(): AlertEvent[] {
  const surge = { rule: 'NegativeSentimentSurge', dimension: 'issuer', group: 'northwind energy corp' };
  const surgeStart = T0 + 60 * MIN;
  const bias = { rule: 'DisparateImpactRegion', kind: 'fairness' as const, dimension: 'region', group: null };
  return [
    event({ ...bias, state: 'pending', started_at: T0 + 9 * MIN }),
    event({
      ...bias,
      state: 'firing',
      started_at: T0 + 9 * MIN,
      labels: { firing_since: iso(T0 + 14 * MIN) },
    }),
    event({ ...surge, state: 'pending', started_at: surgeStart }),
    event({
      ...surge,
      state: 'firing',
      started_at: surgeStart,
      labels: { firing_since: iso(surgeStart + MIN) },
    }),
    event({
      ...surge,
      state: 'resolved',
      started_at: surgeStart,
      ended_at: T0 + 90 * MIN,
      labels: { firing_since: iso(surgeStart + MIN) },
    }),
  ];
}

const locations: SummaryInput['locations'] = {
  metricsUrl: 'http://127.0.0.1:9464/metrics',
  serviceRunning: false,
  prometheusUrl: 'http://127.0.0.1:9090',
  prometheusScrapes: true,
  alertmanagerUrl: null,
  brokers: ['127.0.0.1:9092'],
  topics: demoNames('r1').topics,
  groupId: demoNames('r1').groupId,
  keyPrefix: demoNames('r1').keyPrefix,
  runDir: '.stack/demo/r1',
  configPath: '.stack/demo/r1/finsentry.json',
  logPath: '.stack/demo/r1/run.log',
};

function input(overrides: Partial<SummaryInput> = {}): SummaryInput {
  return {
    runId: 'r1',
    truth: truth(),
    alertEvents: goodEvents(),
    capacityRules: ['ConsumerLagHigh', 'PipelineStalled'],
    deadLetters: [
      { key: 'd1', reason: 'empty-text' },
      { key: 'd2', reason: 'corrupt-avro' },
      { key: 'd2', reason: 'corrupt-avro' }, // re-delivered after a rebalance: counted once
      { key: 'd3', reason: 'corrupt-avro' },
    ],
    produced: 1000,
    enriched: 997,
    wall: { startedAtMs: 0, replayStartedAtMs: 5_000, finishedAtMs: 134_000 },
    interrupted: false,
    locations,
    ...overrides,
  };
}

describe('demo summary', () => {
  it('scores detections in event time, accounts for every dead letter and passes a correct run', () => {
    const s = buildSummary(input());
    expect(s.pass).toBe(true);
    expect(s.falseAlerts).toEqual([]);
    const [surge, bias, poison] = s.injected;
    expect(surge!.detections).toEqual([
      {
        rule: 'NegativeSentimentSurge',
        kind: 'sentiment',
        dimension: 'issuer',
        group: 'northwind energy corp',
        feature: null,
        fromMs: T0 + 54 * MIN,
        toMs: T0 + 84 * MIN,
        detected: true,
        delayMs: 7 * MIN,
        allowanceMs: 13 * MIN,
        withinAllowance: true,
        resolveDelayMs: 6 * MIN,
        resolveAllowanceMs: 11 * MIN,
        resolvedInTime: true,
      },
    ]);
    expect(bias!.detections.map((d) => [d.rule, d.detected, d.delayMs])).toEqual([
      ['DisparateImpactRegion', true, 14 * MIN],
    ]);
    expect(poison!.detections).toEqual([]);
    expect(s.deadLetters).toEqual({
      expected: 3,
      matched: 3,
      wrongReason: [],
      missing: [],
      unexpected: {},
      byReason: { 'empty-text': { expected: 1, found: 1 }, 'corrupt-avro': { expected: 2, found: 2 } },
      skipped: [],
    });
    expect(s.documents).toEqual({ produced: 1000, planned: 1000, poison: 3, wellFormed: 997, enriched: 997 });
  });

  it('renders what was injected next to what was detected, with delays, DLQ counts and where to look', () => {
    const lines = renderSummary(buildSummary(input()));
    expect(lines[0]).toBe(
      'finsentry demo summary — run r1, scenario mixed (seed 1): 2h of event time in 2:14 of wall time',
    );
    expect(lines).toContain('  surge   issuer "northwind energy corp" / ticker "NWEC"  T+0:54–T+1:24');
    expect(lines).toContain(
      '          → issuer "northwind energy corp": DETECTED by NegativeSentimentSurge 7m after the start (allowed 13m), resolved 6m after the end',
    );
    expect(lines).toContain(
      '          → region "apac": DETECTED by DisparateImpactRegion 14m after the start (allowed 20m), still firing at the end of the run (expected: the effect lasts to the end)',
    );
    expect(lines).toContain(
      '          → DLQ: 3 of 3 poison messages dead-lettered with the expected reason (empty-text 1/1, corrupt-avro 2/2)',
    );
    expect(lines).toContain('false alerts: none (no alert fired that the ground truth does not call for)');
    expect(lines).toContain(
      'dead letters: 3 of 3 poison messages in the DLQ with the expected reason — every one accounted for',
    );
    expect(lines).toContain(
      'result: PASS — every injected effect detected in time, no false alert, every poison message in the DLQ',
    );
    expect(lines).toContain(
      '  Prometheus    http://127.0.0.1:9090/graph?g0.expr=finsentry_group_negative_share%7Bdimension%3D%22issuer%22%2Cwindow%3D%225m%22%7D',
    );
    const elsewhere = renderSummary(
      buildSummary(input({ locations: { ...locations, prometheusScrapes: false } })),
    );
    expect(elsewhere).toContain(
      "  Prometheus    http://127.0.0.1:9090 (does not scrape this run's port; the local stack's Prometheus scrapes 127.0.0.1:9464)",
    );
    expect(lines).toContain('    input       finsentry-demo-r1.news.raw, finsentry-demo-r1.chat.raw');
    expect(lines).toContain(
      '  report        node dist/cli/main.js report --config .stack/demo/r1/finsentry.json --window 2h --out .stack/demo/r1/report.html',
    );
  });

  it('names false alerts, missed detections, lost and mislabelled dead letters; capacity alerts apart', () => {
    const events = [
      ...goodEvents().filter((e) => e.rule !== 'NegativeSentimentSurge'),
      event({
        rule: 'NegativeSentimentSurge',
        dimension: 'issuer',
        group: 'calm holdings',
        state: 'firing',
        started_at: T0 + 30 * MIN,
        labels: { firing_since: iso(T0 + 31 * MIN) },
      }),
      event({
        rule: 'ConsumerLagHigh',
        kind: 'pipeline',
        state: 'firing',
        started_at: T0 + 40 * MIN,
        labels: { firing_since: iso(T0 + 45 * MIN) },
      }),
      // 1% poison does not call for it: a DLQ-share alert is scored like any other (a false one here).
      event({
        rule: 'DeadLetterRateHigh',
        kind: 'pipeline',
        state: 'firing',
        started_at: T0 + MIN,
        labels: { firing_since: iso(T0 + 6 * MIN) },
      }),
    ];
    const s = buildSummary(
      input({
        alertEvents: events,
        deadLetters: [
          { key: 'd1', reason: 'invalid-field' },
          { key: 'd3', reason: 'corrupt-avro' },
          { key: 'good-7', reason: 'enrich-failed' },
        ],
      }),
    );
    expect(s.pass).toBe(false);
    expect(s.falseAlerts).toEqual([
      {
        rule: 'DeadLetterRateHigh',
        dimension: null,
        group: null,
        firingAtMs: T0 + 6 * MIN,
        resolvedAtMs: null,
      },
      {
        rule: 'NegativeSentimentSurge',
        dimension: 'issuer',
        group: 'calm holdings',
        firingAtMs: T0 + 31 * MIN,
        resolvedAtMs: null,
      },
    ]);
    expect(s.capacityAlerts.map((a) => a.rule)).toEqual(['ConsumerLagHigh']);
    expect(s.injected[0]!.detections[0]!.detected).toBe(false);
    expect(s.deadLetters.missing).toEqual(['d2']);
    expect(s.deadLetters.wrongReason).toEqual([{ id: 'd1', expected: 'empty-text', found: 'invalid-field' }]);
    expect(s.deadLetters.unexpected).toEqual({ 'enrich-failed': 1 });
    const lines = renderSummary(s);
    expect(lines).toContain(
      '          → issuer "northwind energy corp": NOT DETECTED by NegativeSentimentSurge (allowed 13m after the start)',
    );
    expect(lines).toContain('false alerts: 2');
    expect(lines).toContain('  NegativeSentimentSurge on issuer "calm holdings": firing T+0:31');
    expect(lines).toContain('  DeadLetterRateHigh on pipeline: firing T+0:06');
    expect(lines).toContain(
      'capacity alerts (consumer lag or stalls of the service on this machine, not about the traffic): 1',
    );
    expect(lines).toContain('  ConsumerLagHigh on pipeline: firing T+0:45');
    expect(lines).toContain(
      'dead letters: 1 of 3 poison messages in the DLQ with the expected reason; 1 missing (d2); 1 with another reason',
    );
    expect(lines).toContain('  other DLQ records: enrich-failed 1');
    expect(lines).toContain('result: FAIL — see above');
  });

  it('reports the Chinese surge beside the English one of the same period, or says it is unscored', () => {
    // The same period as the English surge of truth().
    const zhSurge = {
      ...truth().injected[0]!,
      description: 'negative news and chat about 贵州茅台 (600519.SH)',
      groups: [{ dimension: 'issuer', group: '贵州茅台' }],
      params: { language: 'zh' },
    };
    const scored = truth();
    scored.injected.push(zhSurge);
    scored.expectedAlerts.push({ ...scored.expectedAlerts[0]!, group: '贵州茅台' });
    const zhFiring = event({
      rule: 'NegativeSentimentSurge',
      dimension: 'issuer',
      group: '贵州茅台',
      state: 'firing',
      started_at: T0 + 62 * MIN,
      labels: { firing_since: iso(T0 + 62 * MIN) },
    });
    const zhResolved = { ...zhFiring, state: 'resolved' as const, ended_at: T0 + 90 * MIN };
    zhResolved.labels = { ...zhFiring.labels, event_id: 'zh-resolved' };
    const s = buildSummary(input({ truth: scored, alertEvents: [...goodEvents(), zhFiring, zhResolved] }));
    expect(s.pass).toBe(true);
    expect(s.injected[0]!.detections.map((d) => d.group)).toEqual(['northwind energy corp']);
    expect(s.injected[3]!.detections.map((d) => [d.group, d.detected, d.delayMs])).toEqual([
      ['贵州茅台', true, 8 * MIN],
    ]);
    expect(renderSummary(s)).toContain(
      '          → issuer "贵州茅台": DETECTED by NegativeSentimentSurge 8m after the start (allowed 13m), resolved 6m after the end',
    );

    const unscored = truth();
    unscored.injected.push({ ...zhSurge, params: { language: 'zh', scored: false } });
    const u = buildSummary(input({ truth: unscored }));
    expect(u.pass).toBe(true);
    expect(u.injected[3]).toMatchObject({ unscoredLanguage: 'zh', detections: [] });
    expect(renderSummary(u)).toContain(
      '          → not detectable here: no configured model reads zh (models.languages), its documents are enriched unscored; no alert expected',
    );
  });

  it('reports alerts the ground truth tolerates apart from false alerts', () => {
    const t = truth();
    t.toleratedAlerts = [
      {
        rule: 'NegativeScoreDrift',
        kind: 'drift',
        feature: 'p_neg',
        fromMs: T0 + 10 * MIN,
        why: 'model effect',
      },
    ];
    const drift = event({
      rule: 'NegativeScoreDrift',
      kind: 'drift',
      state: 'firing',
      started_at: T0 + 20 * MIN,
      labels: { firing_since: iso(T0 + 25 * MIN), feature: 'p_neg' },
    });
    const s = buildSummary(input({ truth: t, alertEvents: [...goodEvents(), drift] }));
    expect(s.falseAlerts).toEqual([]);
    expect(s.toleratedAlerts.map((a) => [a.rule, a.firingAtMs])).toEqual([
      ['NegativeScoreDrift', T0 + 25 * MIN],
    ]);
    expect(s.pass).toBe(true);
    expect(renderSummary(s)).toContain(
      'tolerated alerts (effects of an injection through the model that the ground truth allows): 1',
    );
  });

  it('an interrupted run is reported as incomplete, never as a pass', () => {
    const s = buildSummary(input({ interrupted: true }));
    expect(s.pass).toBe(false);
    expect(renderSummary(s)).toContain(
      'result: incomplete — the demo was stopped before the scenario was replayed and processed',
    );
  });

  it('dead-letter accounting ignores records without a key and counts keys once', () => {
    const a = accountDeadLetters(
      { expectedDeadLetters: truth().expectedDeadLetters, skippedPoisonKinds: [] },
      [
        { key: null, reason: 'corrupt-avro' },
        { key: 'd3', reason: 'corrupt-avro' },
        { key: 'd3', reason: 'empty-text' },
      ],
    );
    expect(a.matched).toBe(1);
    expect(a.missing).toEqual(['d1', 'd2']);
  });
});

describe('alert log', () => {
  it('drops repeated events (at-least-once publishing) and tracks the latest state per alert', () => {
    const log = new AlertLog();
    const [pending, firing] = goodEvents();
    expect(log.add(pending!)).toBe(true);
    expect(log.add(firing!)).toBe(true);
    expect(log.add({ ...firing! })).toBe(false);
    expect(log.events).toHaveLength(2);
    expect(log.active().map((e) => e.state)).toEqual(['firing']);
    expect(log.count('firing')).toBe(1);
  });
});

describe('demo config', () => {
  it('gives every run its own topics, group and key prefix, and the evaluator the event clock', () => {
    const d = buildDemoConfig({
      runId: '20261201-100000-ab12',
      base: {},
      sentimentModel: '/m/s',
      nerModel: '/m/n',
      metricsPort: 9464,
    });
    expect(d.config.kafka.topics).toEqual({
      news: 'finsentry-demo-20261201-100000-ab12.news.raw',
      chat: 'finsentry-demo-20261201-100000-ab12.chat.raw',
      labels: null,
      enriched: 'finsentry-demo-20261201-100000-ab12.enriched',
      alerts: 'finsentry-demo-20261201-100000-ab12.alerts',
      dlq: 'finsentry-demo-20261201-100000-ab12.dlq',
      late: 'finsentry-demo-20261201-100000-ab12.late',
    });
    expect(d.config.kafka.groupId).toBe('finsentry-demo-20261201-100000-ab12');
    expect(d.config.redis.keyPrefix).toBe('fsdemo:20261201-100000-ab12');
    expect(d.config.evaluator).toMatchObject({ enabled: true, interval: 1_000, clock: 'event' });
    expect(d.config.models.sentiment.path).toBe('/m/s');
    expect(d.config.models.ner).toEqual({ path: '/m/n', aggregation: 'simple' });
    expect(d.config.metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(d.config.limits.maxMessageBytes).toBe(524_288);
    expect(d.config.batching.maxBatchTokens).toBe(1024);
    expect(Object.keys(d.config.codec.schemaIds)).toEqual(['101', '102']);
    // The shipped rules, unchanged: `for` runs on event time under the event clock.
    expect(d.rules.find((r) => r.name === 'DisparateImpactRegion')!.for).toBe(5 * MIN);
  });

  it('keeps what the base config sets (brokers, rules, limits) and validates the result', () => {
    const d = buildDemoConfig({
      runId: 'r2',
      base: {
        kafka: { brokers: ['10.0.0.1:9092'], groupId: 'prod' },
        limits: { maxMessageBytes: 100_000 },
        alerts: {
          rules: [
            {
              name: 'OnlyOne',
              kind: 'sentiment',
              dimension: 'issuer',
              metric: 'negative_share',
              comparison: '>',
              threshold: 0.6,
            },
          ],
        },
      },
      sentimentModel: '/m/s',
      nerModel: '/m/n',
      metricsPort: 0,
    });
    expect(d.config.kafka.brokers).toEqual(['10.0.0.1:9092']);
    expect(d.config.kafka.groupId).toBe('finsentry-demo-r2');
    expect(d.config.limits.maxMessageBytes).toBe(100_000);
    expect(d.rules.map((r) => r.name)).toEqual(['OnlyOne']);
    expect(() =>
      buildDemoConfig({
        runId: 'r3',
        base: { stats: { topK: 'many' } },
        sentimentModel: 'a',
        nerModel: 'b',
        metricsPort: 0,
      }),
    ).toThrow(/stats\.topK/);
  });
});
