import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMetrics,
  type GroupSentimentSample,
  type PipelineMetrics,
} from '../../../src/telemetry/metrics.js';
import { Readiness, startOpsServer, type OpsServer } from '../../../src/telemetry/server.js';
import { sanitizeLabelValue } from '../../../src/telemetry/label-values.js';
import { requirePromtool } from '../../helpers/promtool.js';

const STATS = {
  dimensions: [
    { name: 'region', bounded: true },
    { name: 'issuer', bounded: false },
    { name: 'ticker', bounded: false },
  ],
  topK: 10,
};
const WINDOWS = [300_000, 3_600_000];

function groupSeries(text: string, metric: string, dimension: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${metric}{`) && l.includes(`dimension="${dimension}"`));
}

function fillPipeline(m: PipelineMetrics): void {
  m.documentsConsumed('news.raw', 'news', 5);
  m.documentsProcessed('news', 5);
  m.dlq('decode_error');
  m.produced('finsentry.enriched', 5);
  m.batch({ size: 5, paddedTokens: 640, realTokens: 400 });
  m.observeStage('infer', 0.02);
  m.startStage('tokenize')();
  m.inferenceLatency('sentiment', 0.015);
  m.eventTimeLag(1.5);
  m.consumerLag('news.raw', 0, 12);
  m.redisLatency('apply', 0.002);
  m.lateEvents(2);
  m.modelInfo([
    { task: 'sentiment', name: 'finsentry-sentiment', version: '1.0.0', sha256: 'ab'.repeat(32) },
  ]);
  m.batchCompleted(1_700_000_000_000);
  m.watermark(1_700_000_000_000);
  m.fairness('region', 300_000, {
    demographicParityDifference: 0.1,
    disparateImpactRatio: 0.75,
    worstGroupZ: 2.5,
    breachingGroups: 1,
    judgedGroups: 4,
  });
  m.drift('p_neg', 300_000, { psi: 0.3, jsDistance: 0.2, ksStatistic: 0.15 });
  m.alertStates([{ rule: 'NegativeSentimentSurge', severity: 'warning', state: 'firing', count: 1 }]);
  m.leader(true, 7);
  m.evaluation('ok', 0.01);
}

describe('PipelineMetrics', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('keeps the series count bounded when 10,000 distinct issuers flow through the group gauges', async () => {
    const m = createMetrics({ stats: STATS, processMetrics: false });
    const counts: number[] = [];
    // 20 evaluation rounds, each seeing 500 new issuers (10,000 in all) plus a few recurring ones.
    for (let round = 0; round < 20; round++) {
      const issuers: GroupSentimentSample[] = [];
      for (let i = 0; i < 500; i++) {
        const id = round * 500 + i;
        issuers.push({
          group: `Issuer ${id} Holdings, Inc.`,
          count: 1 + (id % 97),
          negative: id % 7,
          meanPolarity: 0,
        });
      }
      issuers.push({ group: 'other', count: 5, negative: 1, meanPolarity: 0 }); // a real group named like the bucket
      for (const w of WINDOWS) {
        m.groupSentiment('issuer', w, issuers, [`Issuer ${round * 500} Holdings, Inc.`]);
        m.groupSentiment(
          'ticker',
          w,
          issuers.map((g) => ({ ...g, group: g.group.slice(0, 12) })),
        );
        m.groupSentiment('region', w, [
          { group: 'emea', count: 100, negative: 10, meanPolarity: 0.1 },
          { group: 'apac', count: 80, negative: 9, meanPolarity: 0.05 },
        ]);
      }
      counts.push(await m.seriesCount());
    }
    const text = await m.registry.metrics();
    // issuer: top-K (10) + 1 pinned + "other", per window, per group metric
    const issuerSeries = groupSeries(text, 'finsentry_group_documents', 'issuer');
    expect(issuerSeries.length).toBeLessThanOrEqual(WINDOWS.length * (STATS.topK + 1 + 1));
    expect(issuerSeries.length).toBeGreaterThanOrEqual(WINDOWS.length * (STATS.topK + 1));
    // 4 group gauges (z only when given) × (3 dims) × windows × (2K+1) is the design bound
    const bound = 4 * 3 * WINDOWS.length * (2 * STATS.topK + 1);
    expect(Math.max(...counts)).toBeLessThanOrEqual(bound);
    // the count does not grow with rounds: last equals the second (steady state)
    expect(counts[counts.length - 1]).toBe(counts[1]);
    // the "other" bucket sums everything outside the exported set (500 + the literal "other" group)
    const other = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('finsentry_group_documents{') &&
          l.includes('dimension="issuer"') &&
          l.includes('group="other"') &&
          l.includes('window="5m"'),
      );
    expect(other).toBeDefined();
    const exportedTotal = issuerSeries
      .filter((l) => l.includes('window="5m"') && !l.includes('group="other"'))
      .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
    const lastRoundTotal =
      Array.from({ length: 500 }, (_, i) => 1 + ((19 * 500 + i) % 97)).reduce((a, b) => a + b, 0) + 5;
    expect(exportedTotal + Number(other!.split(' ').pop())).toBe(lastRoundTotal);
  });

  it('exports realised and estimated performance per group, pooled into "other", and drops missing figures', async () => {
    const m = createMetrics({ stats: STATS, processMetrics: false });
    const perf = (labelled: number, accuracy: number | null, count: number, estimated: number) => ({
      labelled,
      accuracy,
      macroF1: accuracy,
      labelCoverage: labelled / count,
      estimatedAccuracy: estimated,
    });
    const issuers = Array.from({ length: STATS.topK + 2 }, (_, i) => ({
      group: `issuer-${i}`,
      count: 100 - i,
      negative: 0,
      meanPolarity: 0,
      performance: perf(10, 0.8, 100 - i, 0.85),
    }));
    // the two smallest go to "other": labelled 4 at accuracy 0.5 and 0 labels
    issuers[STATS.topK] = { ...issuers[STATS.topK]!, count: 40, performance: perf(4, 0.5, 40, 0.7) };
    issuers[STATS.topK + 1] = { ...issuers[STATS.topK + 1]!, count: 60, performance: perf(0, null, 60, 0.9) };
    m.groupSentiment('issuer', 300_000, issuers);
    const text = await m.registry.metrics();
    const value = (name: string, group: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name}{`) && l.includes(`group="${group}"`))
          ?.split(' ')
          .pop(),
      );
    expect(value('finsentry_group_accuracy_ratio', 'issuer-0')).toBeCloseTo(0.8, 12);
    expect(value('finsentry_group_label_coverage_ratio', 'issuer-0')).toBeCloseTo(0.1, 12);
    expect(value('finsentry_group_estimated_accuracy_ratio', 'issuer-0')).toBeCloseTo(0.85, 12);
    expect(value('finsentry_group_accuracy_ratio', 'other')).toBeCloseTo(0.5, 12);
    expect(value('finsentry_group_label_coverage_ratio', 'other')).toBeCloseTo(4 / 100, 12);
    expect(value('finsentry_group_estimated_accuracy_ratio', 'other')).toBeCloseTo(
      (40 * 0.7 + 60 * 0.9) / 100,
      12,
    );
    // macro-F1 does not pool: no "other" series
    expect(text).not.toMatch(/finsentry_group_macro_f1_ratio\{[^}]*group="other"/);
    // a group whose labels are gone loses its accuracy series instead of keeping a stale value
    m.groupSentiment('issuer', 300_000, [{ ...issuers[0]!, performance: perf(0, null, 100, 0.85) }]);
    const after = await m.registry.metrics();
    expect(after).not.toContain('finsentry_group_accuracy_ratio{');
    expect(after).toContain('finsentry_group_estimated_accuracy_ratio{');
  });

  it('ignores dimensions that are not configured and sanitises group labels', async () => {
    const m = createMetrics({ stats: STATS, processMetrics: false });
    m.groupSentiment('author', 300_000, [{ group: 'x', count: 1, negative: 0, meanPolarity: 0 }]);
    m.groupSentiment('region', 300_000, [
      { group: 'Asia "Pacific"\n{}', count: 3, negative: 1, meanPolarity: 0 },
    ]);
    const text = await m.registry.metrics();
    expect(text).not.toContain('dimension="author"');
    expect(text).toContain('group="asia_pacific"');
    expect(sanitizeLabelValue('')).toBe('unknown');
    expect(sanitizeLabelValue('A'.repeat(200))).toHaveLength(64);
  });

  it('a replica that loses the evaluator lease drops its group, fairness, drift and alert series', async () => {
    const m = createMetrics({ stats: STATS, processMetrics: false });
    fillPipeline(m);
    m.groupSentiment('region', 300_000, [{ group: 'emea', count: 10, negative: 3, meanPolarity: 0 }]);
    const before = await m.registry.metrics();
    for (const name of [
      'finsentry_group_documents{',
      'finsentry_fairness_disparate_impact_ratio{',
      'finsentry_drift_psi{',
      'finsentry_alerts{',
    ])
      expect(before).toContain(name);
    m.leader(false);
    const after = await m.registry.metrics();
    for (const name of [
      'finsentry_group_documents{',
      'finsentry_fairness_disparate_impact_ratio{',
      'finsentry_drift_psi{',
      'finsentry_alerts{',
    ])
      expect(after).not.toContain(name);
    expect(after).toContain('finsentry_evaluator_leader 0');
    expect(after).toContain('finsentry_documents_processed_total{kind="news"} 5'); // pipeline series stay
  });

  it('renamed metrics and their deprecated aliases (docs/metrics-deprecations.md)', async () => {
    const m = createMetrics({ stats: STATS, processMetrics: false });
    m.batch({ size: 5, paddedTokens: 640, realTokens: 400 });
    m.evaluatedUntil(1_700_000_000_000);
    m.groupSentiment('region', 300_000, [{ group: 'apac', count: 40, negative: 10, meanPolarity: -0.1 }], []);
    const text = await m.registry.metrics();
    // Token positions add up over type: 400 real + 240 padding = 640 positions (the old padded counter).
    expect(text).toContain('finsentry_batch_token_positions_total{type="real"} 400');
    expect(text).toContain('finsentry_batch_token_positions_total{type="padding"} 240');
    expect(text).toContain('finsentry_batch_tokens_total{type="padded"} 640');
    expect(text).toContain('finsentry_evaluation_event_timestamp_seconds 1700000000');
    expect(text).toContain('finsentry_evaluation_event_time_seconds 1700000000');
    expect(text).toContain(
      'finsentry_group_negative_ratio{dimension="region",group="apac",window="5m"} 0.25',
    );
    expect(text).toContain(
      'finsentry_group_negative_share{dimension="region",group="apac",window="5m"} 0.25',
    );
    expect(text).toMatch(/# HELP finsentry_group_negative_share DEPRECATED .*finsentry_group_negative_ratio/);
  });

  it('caps free-form labels such as DLQ reasons', async () => {
    const m = createMetrics({ stats: STATS, processMetrics: false });
    for (let i = 0; i < 1000; i++) m.dlq(`reason ${i}`);
    const lines = (await m.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('finsentry_dlq_messages_total{'));
    expect(lines).toHaveLength(33);
    expect(lines.find((l) => l.includes('reason="other"'))).toMatch(/ 968$/);
  });

  it('serves /metrics that promtool check metrics accepts, /healthz and /readyz', async () => {
    const promtool = requirePromtool();
    const m = createMetrics({ stats: STATS });
    fillPipeline(m);
    m.groupSentiment('region', 300_000, [
      { group: 'emea', count: 10, negative: 3, meanPolarity: -0.2, negativeShareZ: 1.2 },
    ]);
    const readiness = new Readiness();
    readiness.set('models', false);
    readiness.set('kafka', () => true);
    server = await startOpsServer({ registry: m.registry, readiness, port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${server.port}`;

    const scrape = await fetch(`${base}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toContain('text/plain');
    const body = await scrape.text();
    expect(body).toContain(
      'finsentry_model_info{task="sentiment",name="finsentry-sentiment",version="1.0.0"',
    );
    const check = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', checks: { models: false, kafka: true } });
    readiness.set('models', true);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    readiness.set('redis', () => {
      throw new Error('down');
    });
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
