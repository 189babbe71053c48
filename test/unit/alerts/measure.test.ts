import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { alertmanagerWebhook } from '../../../src/io/http/alertmanager.js';
import {
  defaultAlertRules,
  estimatedAccuracyRule,
  legacySurgeRule,
} from '../../../src/alerts/default-rules.js';
import {
  toAlertEvent,
  toAlertmanagerAlert,
  encodeAlertEvent,
  decodeAlertEvent,
} from '../../../src/alerts/events.js';
import {
  measureRule,
  NO_BASELINE,
  validateRule,
  windowKey,
  type EvaluationInputs,
} from '../../../src/alerts/measure.js';
import { PipelineSignalTracker, type OffsetSnapshot } from '../../../src/alerts/pipeline-signals.js';
import { breaches, step } from '../../../src/alerts/state-machine.js';
import { parseConfig } from '../../../src/config/load.js';
import type { AlertRuleConfig } from '../../../src/config/schema.js';
import type { GroupWindowStats } from '../../../src/domain/windows.js';
import { emptyGroupStats } from '../../../src/stats/counters.js';
import { fairnessReport } from '../../../src/stats/fairness.js';
import { ALL_DIMENSION, ALL_GROUP } from '../../../src/stats/grouping.js';
import { histogramBin } from '../../../src/stats/histograms.js';

function group(
  dimension: string,
  name: string,
  n: number,
  negative: number,
  opts: { confidence?: number; pNeg?: number } = {},
): GroupWindowStats {
  const g = emptyGroupStats(dimension, name);
  g.count = n;
  g.labelCounts.negative = negative;
  g.labelCounts.positive = n - negative;
  g.polaritySum = (n - negative) * 0.8 - negative * 0.8;
  g.histograms.confidence[histogramBin('confidence', opts.confidence ?? 0.9)] = n;
  g.histograms.p_neg[histogramBin('p_neg', opts.pNeg ?? 0.1)] = n;
  return g;
}

/**
 * Windows keyed by windowKey; `reference` is both the trailing reference (sentiment rules) and, by
 * dimension, the pinned baseline (drift rules' default reference).
 */
function inputs(
  current: Record<string, GroupWindowStats[]>,
  reference: Record<string, GroupWindowStats[]> = {},
): EvaluationInputs {
  const baseline = Object.fromEntries(Object.entries(reference).map(([k, v]) => [k.split('|')[0]!, v]));
  return {
    current: new Map(Object.entries(current)),
    reference: new Map(Object.entries(reference)),
    pipeline: null,
    baseline: { name: 'default', dimensions: baseline },
  };
}

const rules = defaultAlertRules();
const byName = (name: string): AlertRuleConfig => rules.find((r) => r.name === name)!;
const FIVE_MIN = 300_000;
const HOUR = 3_600_000;

describe('rule measurements', () => {
  it('legacy negative surge: fires only for a group that is both above the share and significant against its reference', () => {
    const surge = legacySurgeRule();
    const key = windowKey('issuer', FIVE_MIN);
    const current = [
      group('issuer', 'acme', 60, 45), // 75 % negative, reference 10 % → significant
      group('issuer', 'gloomco', 60, 36), // 60 % negative, but its own reference is 55 % → not significant
      group('issuer', 'tiny', 5, 5), // 100 % negative, too few samples
      group('issuer', 'calm', 80, 8),
    ];
    const reference = [
      group('issuer', 'acme', 600, 60),
      group('issuer', 'gloomco', 600, 330),
      group('issuer', 'calm', 800, 80),
    ];
    const ms = measureRule(surge, inputs({ [key]: current }, { [key]: reference }), 30);
    const fires = ms.filter((m) => breaches(surge, m));
    expect(fires.map((m) => m.group)).toEqual(['acme']);
    const acme = ms.find((m) => m.group === 'acme')!;
    expect(acme.value).toBeCloseTo(0.75, 12);
    expect(acme.pValue!).toBeLessThan(1e-6);
    expect(acme.detail).toContain('group');
    expect(ms.find((m) => m.group === 'tiny')!.judged).toBe(false);
  });

  it('legacy negative surge on a new issuer is compared with the pooled reference of the dimension', () => {
    const surge = legacySurgeRule();
    const key = windowKey('issuer', FIVE_MIN);
    const ms = measureRule(
      surge,
      inputs(
        { [key]: [group('issuer', 'newco', 40, 30)] },
        { [key]: [group('issuer', 'a', 500, 50), group('issuer', 'b', 500, 50)] },
      ),
      30,
    );
    expect(ms[0]!.detail).toContain('pooled');
    expect(ms[0]!.pValue!).toBeLessThan(0.001);
  });

  it('disparate impact equals the stats library value, carries its interval and names the deciding groups', () => {
    const rule = byName('DisparateImpactRegion');
    const current = [
      group('region', 'emea', 200, 40),
      group('region', 'apac', 200, 100),
      group('region', 'amer', 10, 10),
    ];
    const [m] = measureRule(rule, inputs({ [windowKey('region', rule.window)]: current }), 30);
    expect(m!.group).toBe('*');
    expect(m!.value).toBe(fairnessReport('region', current, { minSamples: 30 }).disparateImpactRatio.value);
    expect(m!.value).toBeCloseTo(0.4, 12); // amer (n=10) is not judged
    expect(m!.groups).toEqual(['emea', 'apac']);
    expect(m!.interval!.level).toBe(0.95);
    expect(m!.interval!.low).toBeLessThan(0.4);
    expect(m!.interval!.high).toBeGreaterThan(0.4);
    expect(m!.interval!.high).toBeLessThan(0.8);
    expect(m!.detail).toMatch(/95% interval .*emea .*apac/);
    expect(breaches(rule, m)).toBe(true);
  });

  it('disparate impact: fires only when the simultaneous interval lies wholly below 0.8', () => {
    const rule = byName('DisparateImpactRegion');
    const key = windowKey('region', rule.window);
    // Six small groups: the extreme pair (4/40 vs 14/40) has a ratio of 0.29, but picking the most
    // different pair of six at 40 documents each is no evidence that the true ratio is below 0.8.
    const noisy = ['a', 'b', 'c', 'd'].map((g) => group('region', g, 40, 8));
    noisy.push(group('region', 'low', 40, 4), group('region', 'high', 40, 14));
    const [m] = measureRule(rule, inputs({ [key]: noisy }), 30);
    expect(m!.value).toBeCloseTo(4 / 14, 12);
    expect(m!.interval!.high).toBeGreaterThan(0.8);
    expect(m!.detail).toContain('Bonferroni over 15 pairs');
    expect(breaches(rule, m)).toBe(false);
    // The same gap with enough documents breaches.
    const large = ['a', 'b', 'c', 'd'].map((g) => group('region', g, 400, 80));
    large.push(group('region', 'low', 400, 40), group('region', 'high', 400, 140));
    const [big] = measureRule(rule, inputs({ [key]: large }), 30);
    expect(big!.interval!.high).toBeLessThan(0.8);
    expect(breaches(rule, big)).toBe(true);
    // A large, compliant gap (true-looking ratio 0.85 with 10,000 documents a group) never breaches,
    // though a test of equal rates would reject at any level.
    const compliant = [group('region', 'a', 10_000, 2_000), group('region', 'b', 10_000, 1_700)];
    const [ok] = measureRule(rule, inputs({ [key]: compliant }), 30);
    expect(ok!.value).toBeCloseTo(0.85, 12);
    expect(ok!.interval!.low).toBeGreaterThan(0.8);
    expect(breaches(rule, ok)).toBe(false);
  });

  it('drift: PSI of p_neg over all documents against the reference', () => {
    const rule = byName('NegativeScoreDrift');
    const key = windowKey(ALL_DIMENSION, HOUR);
    const [same] = measureRule(
      rule,
      inputs(
        { [key]: [group(ALL_DIMENSION, ALL_GROUP, 500, 50, { pNeg: 0.1 })] },
        { [key]: [group(ALL_DIMENSION, ALL_GROUP, 500, 50, { pNeg: 0.1 })] },
      ),
      30,
    );
    expect(same!.value).toBeCloseTo(0, 12);
    const [shifted] = measureRule(
      rule,
      inputs(
        { [key]: [group(ALL_DIMENSION, ALL_GROUP, 500, 50, { pNeg: 0.9 })] },
        { [key]: [group(ALL_DIMENSION, ALL_GROUP, 500, 50, { pNeg: 0.1 })] },
      ),
      30,
    );
    expect(shifted!.value).toBeGreaterThan(0.25);
    expect(shifted!.group).toBe('p_neg');
    expect(shifted!.judged).toBe(true);
    expect(shifted!.pValue!).toBeLessThan(1e-6);
    expect(breaches(rule, shifted)).toBe(true);
  });

  it('drift: a PSI above the threshold from sparse bins alone (same distribution) does not breach', () => {
    // 100 documents a side with the same shape (60 confident-positive, 25 confident-negative, 15 in
    // between) but the 15 in-between ones in different bins: PSI counts every bin that is empty on
    // one side (≈ 0.01·ln(0.01/1e-4) each), KS sees CDFs that never differ by more than 0.15.
    const rule = byName('NegativeScoreDrift');
    const key = windowKey(ALL_DIMENSION, HOUR);
    const sparse = (middleBins: number[]): GroupWindowStats => {
      const g = group(ALL_DIMENSION, ALL_GROUP, 100, 25);
      g.histograms.p_neg.fill(0);
      g.histograms.p_neg[0] = 60;
      g.histograms.p_neg[19] = 25;
      for (const bin of middleBins) g.histograms.p_neg[bin]! += 1;
      return g;
    };
    const odd = [1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11, 13, 13, 15];
    const even = [2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14, 16];
    const [m] = measureRule(rule, inputs({ [key]: [sparse(odd)] }, { [key]: [sparse(even)] }), 30);
    expect(m!.judged).toBe(true);
    expect(m!.value).toBeGreaterThan(0.25);
    expect(m!.pValue!).toBeGreaterThan(0.5);
    expect(breaches(rule, m)).toBe(false);
  });

  it('drift rules compare with the pinned baseline; without one they are unjudged and say so, never using the trailing window', () => {
    const rule = byName('NegativeScoreDrift');
    expect(rule.reference).toBeUndefined(); // default: the baseline
    const key = windowKey(ALL_DIMENSION, HOUR);
    const cur = [group(ALL_DIMENSION, ALL_GROUP, 500, 50, { pNeg: 0.9 })];
    const trailing = { [key]: [group(ALL_DIMENSION, ALL_GROUP, 500, 50, { pNeg: 0.9 })] };
    const pinned = { [ALL_DIMENSION]: [group(ALL_DIMENSION, ALL_GROUP, 500, 50, { pNeg: 0.1 })] };
    const base = {
      current: new Map([[key, cur]]),
      reference: new Map(Object.entries(trailing)),
      pipeline: null,
    };
    const [vsBaseline] = measureRule(rule, { ...base, baseline: { name: 'v1', dimensions: pinned } }, 30);
    expect(vsBaseline!.value).toBeGreaterThan(0.25); // shifted against the baseline, though equal to the trailing hour
    expect(vsBaseline!.detail).toContain('baseline "v1" n=500');
    expect(breaches(rule, vsBaseline)).toBe(true);
    const [none] = measureRule(rule, { ...base, baseline: null }, 30);
    expect(none!.judged).toBe(false);
    expect(none!.detail).toBe(NO_BASELINE);
    const [trailingRule] = measureRule({ ...rule, reference: 'trailing' }, { ...base, baseline: null }, 30);
    expect(trailingRule!.judged).toBe(true);
    expect(trailingRule!.value).toBeCloseTo(0, 12);
  });

  it('confidence collapse uses the mean of the confidence histogram', () => {
    const rule = byName('ConfidenceCollapse');
    const key = windowKey('kind', 900_000);
    const ms = measureRule(
      rule,
      inputs({
        [key]: [
          group('kind', 'news', 100, 10, { confidence: 0.41 }),
          group('kind', 'chat', 100, 10, { confidence: 0.93 }),
        ],
      }),
      30,
    );
    expect(ms.find((m) => m.group === 'news')!.value).toBeCloseTo(0.425, 12); // centre of bin [0.40, 0.45)
    expect(ms.find((m) => m.group === 'chat')!.value).toBeCloseTo(0.925, 12);
  });

  it('accuracy drop is judged on labels, not predictions; the estimated drop needs no labels', () => {
    const accuracy = byName('AccuracyDrop');
    const key = windowKey('kind', HOUR);
    const labelled = (name: string, count: number, right: number, wrong: number): GroupWindowStats => {
      const g = group('kind', name, count, 0, { confidence: 0.62 });
      g.confusion = {
        negative: { negative: right, neutral: wrong, positive: 0 },
        neutral: { negative: 0, neutral: 0, positive: 0 },
        positive: { negative: 0, neutral: 0, positive: 0 },
      };
      return g;
    };
    const ms = measureRule(
      accuracy,
      inputs({ [key]: [labelled('news', 400, 30, 30), labelled('chat', 400, 10, 30)] }),
      30,
    );
    const news = ms.find((m) => m.group === 'news')!;
    expect(news.value).toBeCloseTo(0.5, 12);
    expect(news.sampleSize).toBe(60);
    expect(news.judged).toBe(true);
    expect(breaches(accuracy, news)).toBe(true);
    // 40 labels < minSamples 50: not judged however many predictions the group has
    const chat = ms.find((m) => m.group === 'chat')!;
    expect(chat.value).toBeCloseTo(0.25, 12);
    expect(chat.judged).toBe(false);

    const estimated = estimatedAccuracyRule();
    const [e] = measureRule(
      estimated,
      inputs({ [windowKey('kind', 900_000)]: [group('kind', 'news', 100, 10, { confidence: 0.62 })] }),
      30,
    );
    expect(e!.value).toBeCloseTo(0.625, 12); // centre of bin [0.60, 0.65)
    expect(e!.judged).toBe(true);
    expect(breaches(estimated, e!)).toBe(true);
  });

  it('validates rule metrics and features', () => {
    for (const r of rules) expect(validateRule(r)).toBeUndefined();
    // A valid rule made invalid after parsing (parseConfig itself refuses it: test/unit/config/rules.test.ts).
    const valid = parseConfig(
      {
        alerts: {
          rules: [{ name: 'X', kind: 'drift', metric: 'ks_statistic', comparison: '>', threshold: 1 }],
        },
      },
      {},
    ).alerts!.rules[0]!;
    const bad = { ...valid, feature: 'label_mix' };
    expect(validateRule(bad)).toContain('numeric feature');
    expect(validateRule({ ...bad, metric: 'nope' })).toContain('metric: "nope"');
  });
});

describe('pipeline signals from Kafka offsets', () => {
  const snap = (atMs: number, inputEnd: number, dlqEnd: number, committed: number): OffsetSnapshot => ({
    atMs,
    inputEnd,
    dlqEnd,
    committed,
    lag: inputEnd - committed,
    partitions: [],
  });

  it('computes DLQ rate/share over the span and stalled time while lag stays', () => {
    const t = new PipelineSignalTracker(60_000);
    expect(t.push(snap(0, 100, 0, 100))).toMatchObject({ consumerLag: 0, dlqRate: 0, stalledSeconds: 0 });
    const s1 = t.push(snap(10_000, 300, 20, 300));
    expect(s1.dlqRate).toBeCloseTo(2, 12);
    expect(s1.dlqShare).toBeCloseTo(0.1, 12);
    expect(s1.inputRate).toBeCloseTo(20, 12);
    t.push(snap(20_000, 400, 20, 300)); // lag 100, no progress since 10 s
    const s3 = t.push(snap(50_000, 400, 20, 300));
    expect(s3.consumerLag).toBe(100);
    expect(s3.stalledSeconds).toBe(40);
    const s4 = t.push(snap(55_000, 400, 20, 350)); // progress
    expect(s4.stalledSeconds).toBe(0);
  });

  it('takes the DLQ share of the records consumed, not of those produced, while a backlog builds', () => {
    const t = new PipelineSignalTracker(60_000);
    t.push(snap(0, 100, 0, 100));
    // 400 records produced, 200 consumed of which 20 dead-lettered: 10%, not 5%.
    const s = t.push(snap(10_000, 500, 20, 300));
    expect(s.dlqShare).toBeCloseTo(0.1, 12);
    expect(s.consumerLag).toBe(200);
  });

  it('takes the late share from the late topic, and LateShareHigh judges it', () => {
    const t = new PipelineSignalTracker(60_000);
    t.push({ ...snap(0, 100, 0, 100), lateEnd: 5 });
    // 200 records consumed, 6 of them refused by the windows (late or future): 3%.
    const s = t.push({ ...snap(10_000, 300, 0, 300), lateEnd: 11 });
    expect(s.lateShare).toBeCloseTo(0.03, 12);
    const rule = byName('LateShareHigh');
    const inputs = { current: new Map(), reference: new Map(), pipeline: s };
    expect(measureRule(rule, inputs, 30)).toMatchObject([{ group: '*', value: s.lateShare, judged: true }]);
    expect(s.lateShare! > rule.threshold).toBe(true);
    // Without a late topic the share is 0, never undefined.
    expect(t.push(snap(20_000, 400, 0, 400)).lateShare).toBe(0);
  });
});

describe('alert events', () => {
  it('encode to the Avro Alert schema and map to Alertmanager v2', () => {
    const rule = byName('NegativeSentimentSurge');
    const res = step(
      { ...rule, for: 0 },
      undefined,
      {
        rule: rule.name,
        dimension: 'issuer',
        group: 'acme',
        value: 0.8,
        sampleSize: 50,
        pValue: 1e-9,
        judged: true,
      },
      1_700_000_000_000,
    );
    const event = toAlertEvent(rule, res.transition!, 7);
    const back = decodeAlertEvent(encodeAlertEvent(event));
    expect(back).toEqual(event);
    expect(back).toMatchObject({
      state: 'firing',
      kind: 'sentiment',
      group: 'acme',
      dimension: 'issuer',
      window_ms: 300_000,
      sample_size: 50,
    });
    expect(back.labels.event_id).toBe(`${event.fingerprint}:1700000000000:firing`);
    const am = toAlertmanagerAlert(event)!;
    expect(am.labels).toMatchObject({
      alertname: 'NegativeSentimentSurge',
      severity: 'critical',
      dimension: 'issuer',
      group: 'acme',
    });
    expect(am.annotations.runbook_url).toContain('runbooks');
    expect(am.endsAt).toBeUndefined();
    const resolved = step(
      { ...rule, for: 0 },
      res.next,
      { rule: rule.name, dimension: 'issuer', group: 'acme', value: 0.1, sampleSize: 50, judged: true },
      1_700_000_060_000,
    );
    const amResolved = toAlertmanagerAlert(toAlertEvent(rule, resolved.transition!, 7))!;
    expect(amResolved.endsAt).toBe(new Date(1_700_000_060_000).toISOString());
  });

  it('the Alertmanager webhook POSTs firing/resolved alerts as an API v2 array, best effort', async () => {
    const bodies: unknown[] = [];
    let status = 200;
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        bodies.push({
          method: req.method,
          url: req.url,
          type: req.headers['content-type'],
          body: JSON.parse(text) as unknown,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const hook = alertmanagerWebhook(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/alerts`,
      );
      expect(hook.bestEffort).toBe(true);
      const rule = byName('NegativeSentimentSurge');
      const pending = step(
        rule,
        undefined,
        {
          rule: rule.name,
          dimension: 'issuer',
          group: 'acme',
          value: 0.8,
          sampleSize: 50,
          pValue: 1e-9,
          judged: true,
        },
        0,
      );
      const firing = step(
        rule,
        pending.next,
        {
          rule: rule.name,
          dimension: 'issuer',
          group: 'acme',
          value: 0.8,
          sampleSize: 50,
          pValue: 1e-9,
          judged: true,
        },
        60_000,
      );
      await hook.publish([
        toAlertEvent(rule, pending.transition!, 1),
        toAlertEvent(rule, firing.transition!, 1),
      ]);
      expect(bodies).toHaveLength(1); // pending is not sent; firing is
      expect(bodies[0]).toMatchObject({
        method: 'POST',
        url: '/api/v2/alerts',
        type: 'application/json',
        body: [{ labels: { alertname: 'NegativeSentimentSurge', group: 'acme' } }],
      });
      await hook.publish([toAlertEvent(rule, pending.transition!, 1)]);
      expect(bodies).toHaveLength(1); // nothing to send: no request
      status = 500;
      await expect(hook.publish([toAlertEvent(rule, firing.transition!, 1)])).rejects.toThrow('HTTP 500');
    } finally {
      server.close();
    }
  });
});
