import { describe, expect, it } from 'vitest';
import {
  CounterHistory,
  counterPoint,
  readFigures,
  topByNegativeShare,
} from '../../../../src/tools/demo/figures.js';
import { MetricSet, parsePrometheusText } from '../../../../src/tools/demo/metrics-text.js';
import { createMetrics } from '../../../../src/telemetry/metrics.js';

describe('Prometheus text parsing (demo)', () => {
  it('reads names, labels with escapes, special values, and skips comments and timestamps', () => {
    const text = [
      '# HELP finsentry_dlq_messages_total Input records sent to the dead-letter topic.',
      '# TYPE finsentry_dlq_messages_total counter',
      'finsentry_dlq_messages_total{reason="empty-text"} 3',
      'finsentry_dlq_messages_total{reason="corrupt-avro"} 2 1700000000000',
      'finsentry_group_negative_share{dimension="issuer",group="a \\"quoted\\" name\\\\x",window="5m"} 0.75',
      'finsentry_batch_size_documents_bucket{le="+Inf"} 12',
      'finsentry_drift_psi{feature="p_neg",window="1h"} NaN',
      'process_start_time_seconds 1764625000',
      'broken{label="no end 1',
      '',
    ].join('\n');
    const samples = parsePrometheusText(text);
    expect(samples.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['finsentry_dlq_messages_total', { reason: 'empty-text' }, 3],
      ['finsentry_dlq_messages_total', { reason: 'corrupt-avro' }, 2],
      [
        'finsentry_group_negative_share',
        { dimension: 'issuer', group: 'a "quoted" name\\x', window: '5m' },
        0.75,
      ],
      ['finsentry_batch_size_documents_bucket', { le: '+Inf' }, 12],
      ['finsentry_drift_psi', { feature: 'p_neg', window: '1h' }, Number.NaN],
      ['process_start_time_seconds', {}, 1764625000],
    ]);
    const set = new MetricSet(samples);
    expect(set.sum('finsentry_dlq_messages_total')).toBe(5);
    expect(set.sum('finsentry_dlq_messages_total', { reason: 'empty-text' })).toBe(3);
    expect(set.sum('finsentry_nothing')).toBeNull();
    expect([...set.sumBy('finsentry_dlq_messages_total', 'reason')]).toEqual([
      ['empty-text', 3],
      ['corrupt-avro', 2],
    ]);
  });

  it('parses what prom-client serves for the product metrics, into the view figures', async () => {
    const metrics = createMetrics({
      stats: {
        dimensions: [
          { name: 'issuer', bounded: false },
          { name: 'region', bounded: true },
        ],
        topK: 10,
      },
      processMetrics: false,
    });
    metrics.documentsConsumed('news.raw', 'news', 100);
    metrics.documentsProcessed('news', 90);
    metrics.dlq('empty-text', 4);
    metrics.dlq('corrupt-avro', 6);
    metrics.batch({ size: 10, paddedTokens: 1000, realTokens: 800 });
    metrics.batch({ size: 30, paddedTokens: 1000, realTokens: 600 });
    metrics.consumerLag('news.raw', 0, 7);
    metrics.consumerLag('news.raw', 1, 5);
    metrics.watermark(1_764_600_000_000);
    metrics.groupSentiment('issuer', 300_000, [
      { group: 'acme corp', count: 40, negative: 30, meanPolarity: -0.5, negativeShareZ: 6.1 },
      { group: 'beta plc', count: 50, negative: 5, meanPolarity: 0.4, negativeShareZ: -1 },
      { group: 'tiny ag', count: 3, negative: 3, meanPolarity: -0.9 },
    ]);
    metrics.fairness('region', 3_600_000, {
      disparateImpactRatio: 0.6,
      demographicParityDifference: 0.12,
      judgedGroups: 4,
      breachingGroups: 1,
      worstGroupZ: 4,
    });
    metrics.drift('p_neg', 3_600_000, { psi: 0.03, jsDistance: 0.05, ksStatistic: 0.02 });
    metrics.alertStates([
      { rule: 'NegativeSentimentSurge', severity: 'critical', state: 'firing', count: 1 },
    ]);

    const set = MetricSet.parse(await metrics.registry.metrics());
    const history = new CounterHistory();
    history.push(counterPoint(set, 1_000));
    const figures = readFigures(set, history, 1_000);
    expect(figures.pipeline).toEqual({
      consumed: 100,
      processed: 90,
      deadLettered: 10,
      dlqByReason: [
        ['corrupt-avro', 6],
        ['empty-text', 4],
      ],
      processedPerSecond: null,
      consumedPerSecond: null,
      consumerLag: 12,
      batchMean: 20,
      paddingMean: (0.2 + 0.4) / 2, // the two batches: 20% and 40% padding
      watermarkMs: 1_764_600_000_000,
      queued: 0,
      lastEvaluationMs: null,
      evaluatedUntilMs: null,
    });
    expect(figures.fairness).toEqual([
      {
        dimension: 'region',
        window: '1h',
        disparateImpactRatio: 0.6,
        demographicParityDifference: 0.12,
        judgedGroups: 4,
        breachingGroups: 1,
      },
    ]);
    expect(figures.drift).toEqual([{ feature: 'p_neg', window: '1h', psi: 0.03, jsDistance: 0.05 }]);
    expect(figures.alertStates).toEqual([{ rule: 'NegativeSentimentSurge', state: 'firing', count: 1 }]);
    // Group label values are sanitised for Prometheus (src/telemetry/label-values.ts): the view shows them so.
    expect(topByNegativeShare(figures.groups, 'issuer', '5m', 20, 5)).toEqual([
      { dimension: 'issuer', group: 'acme_corp', window: '5m', documents: 40, negativeShare: 0.75, z: 6.1 },
      { dimension: 'issuer', group: 'beta_plc', window: '5m', documents: 50, negativeShare: 0.1, z: -1 },
    ]);
  });

  it('computes rates and batch means over the span of recent scrapes, and restarts after a counter reset', () => {
    const history = new CounterHistory(5_000);
    const point = (atMs: number, processed: number, batchSum: number, batchCount: number) => ({
      atMs,
      consumed: processed + 10,
      processed,
      batchSum,
      batchCount,
      paddingSum: batchCount * 0.2,
      paddingCount: batchCount,
    });
    const set = new MetricSet([]);
    history.push(point(0, 0, 0, 0));
    history.push(point(1_000, 50, 50, 5));
    history.push(point(2_000, 100, 100, 10));
    let f = readFigures(set, history, 2_000).pipeline;
    expect(f.processedPerSecond).toBe(50);
    expect(f.batchMean).toBe(10);
    expect(f.paddingMean).toBeCloseTo(0.2, 12);
    // Older points fall out of the 5 s span: the rate is the recent one.
    history.push(point(6_000, 140, 140, 14));
    history.push(point(7_000, 150, 150, 15));
    f = readFigures(set, history, 7_000).pipeline;
    expect(f.processedPerSecond).toBe(10); // (150 - 100) / 5 s
    history.push(point(8_000, 3, 3, 1)); // the service restarted
    expect(history.span()).toBeNull();
  });
});
