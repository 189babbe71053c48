import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../../src/alerts/events.js';
import { alertEpisodes, loadChartJsSource } from '../../../../src/tools/report/load.js';
import { escapeHtml, jsonForScript, renderReportHtml } from '../../../../src/tools/report/render.js';
import type { ReportData } from '../../../../src/tools/report/types.js';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const MIN = 60_000;
const HOSTILE = '<script>alert("x")</script>';

function fixture(): ReportData {
  const groups = [
    { group: 'amer', n: 1200, successes: 216 },
    { group: 'apac', n: 950, successes: 290 },
    { group: HOSTILE, n: 12, successes: 5 },
  ];
  return {
    title: 'Review & sign-off',
    generatedAtMs: T0 + 70 * MIN,
    windowMs: 60 * MIN,
    windowStartMs: T0,
    windowEndMs: T0 + 60 * MIN,
    watermarkMs: T0 + 59 * MIN,
    bucketMs: MIN,
    smoothMs: 5 * MIN,
    totalDocuments: 2162,
    lateObservations: 3,
    rate: 'negative_share',
    dimensions: [
      {
        dimension: 'region',
        fairness: true,
        minSamples: 30,
        excludedFragments: [],
        disparateImpactInterval: { low: 0.5012, high: 0.6973 },
        parityDifferenceInterval: { low: 0.0876, high: 0.1619 },
        labelled: {
          groups: [
            {
              group: 'amer',
              labelled: 120,
              coverage: 0.1,
              accuracy: 0.85,
              accuracyLow: 0.776,
              accuracyHigh: 0.903,
              tprNegative: 0.8,
              fprNegative: 0.05,
              classRates: [
                { label: 'negative', tpr: 0.8, fpr: 0.05 },
                { label: 'neutral', tpr: 0.88, fpr: 0.1 },
                { label: 'positive', tpr: 0.86, fpr: 0.08 },
              ],
              estimatedAccuracy: 0.861,
              judged: true,
            },
            {
              group: 'apac',
              labelled: 95,
              coverage: 0.1,
              accuracy: 0.7,
              accuracyLow: 0.602,
              accuracyHigh: 0.782,
              tprNegative: 0.9,
              fprNegative: 0.2,
              classRates: [
                { label: 'negative', tpr: 0.9, fpr: 0.2 },
                { label: 'neutral', tpr: 0.6, fpr: 0.12 },
                { label: 'positive', tpr: null, fpr: 0.1 },
              ],
              estimatedAccuracy: 0.843,
              judged: true,
            },
          ],
          labelled: 215,
          coverage: 0.0994,
          equalizedOddsDifference: 0.28,
          equalizedOddsInterval: {
            low: 0.071,
            high: 0.47,
            worstClass: 'neutral',
            worstRate: 'tpr',
            decidingPair: ['amer', 'apac'],
          },
          accuracyGap: 0.15,
        },
        groups: groups.map((g) => ({
          ...g,
          rate: g.successes / g.n,
          wilsonLow: g.successes / g.n - 0.02,
          wilsonHigh: g.successes / g.n + 0.02,
          judged: g.n >= 30,
          diffVsRest: 0.01,
          pValueVsRest: g.group === 'apac' ? 1e-9 : 0.4,
          meanPolarity: 0.1,
          meanConfidence: 0.87,
        })),
        omittedGroups: 0,
        demographicParityDifference: 0.125,
        disparateImpactRatio: 0.5912,
        minGroup: 'amer',
        maxGroup: 'apac',
        series: [
          {
            group: 'apac',
            points: Array.from({ length: 60 }, (_, i) => ({
              t: T0 + i * MIN,
              n: 16,
              negativeShare: i === 30 ? null : 0.3,
            })),
            changeAlarmsMs: [T0 + 40 * MIN],
          },
        ],
      },
    ],
    drift: {
      referenceKind: 'trailing',
      referenceName: null,
      referenceStartMs: T0 - 60 * MIN,
      referenceEndMs: T0,
      referenceDocuments: 2000,
      features: [
        {
          feature: 'tokens',
          kind: 'numeric',
          currentN: 2162,
          referenceN: 2000,
          psi: 0.4123,
          jensenShannon: 0.2,
          ksStatistic: 0.3,
          ksPValue: 1e-12,
          chiSquarePValue: null,
        },
        {
          feature: 'source_mix',
          kind: 'categorical',
          currentN: 2162,
          referenceN: 2000,
          psi: 0.05,
          jensenShannon: 0.02,
          ksStatistic: null,
          ksPValue: null,
          chiSquarePValue: 0.3,
        },
      ],
    },
    alerts: {
      source: 'Kafka topic finsentry.alerts (3 events)',
      available: true,
      episodes: [
        {
          fingerprint: 'f1',
          rule: 'DisparateImpactRegion',
          kind: 'fairness',
          severity: 'warning',
          dimension: 'region',
          group: null,
          metric: 'disparate_impact_ratio',
          value: 0.59,
          threshold: 0.8,
          state: 'firing',
          startedAtMs: T0 + 5 * MIN,
          firingAtMs: T0 + 10 * MIN,
          endedAtMs: null,
          summary: 'Disparate impact ratio 0.59 < 0.8',
          runbookUrl: 'https://example.invalid/runbooks#di',
        },
      ],
    },
    notes: ['Reference: trailing hour.'],
  };
}

const chartJsSource = loadChartJsSource();

/** An issuer dimension: not a fairness dimension, with NER fragments left out by the loader. */
function withIssuer(): ReportData {
  const data = fixture();
  const region = data.dimensions[0]!;
  data.dimensions.push({
    ...region,
    dimension: 'issuer',
    fairness: false,
    excludedFragments: ['n', 'y', 'the'],
    disparateImpactRatio: 0.0,
    labelled: null,
    groups: region.groups.slice(0, 2).map((g, k) => ({ ...g, group: ['northwind energy corp', 'nwec'][k]! })),
    series: [],
  });
  return data;
}

describe('report renderer', () => {
  const html = renderReportHtml(fixture(), { chartJsSource });

  it('is a complete HTML document that loads nothing from elsewhere', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('Content-Security-Policy" content="default-src \'none\'');
    // No external resources: no src/href to a network URL on script/link/img, no CSS imports or url().
    expect(html).not.toMatch(/<(script|img|iframe|link)[^>]+(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//i);
    // The only <script> elements are inline.
    expect(html.match(/<script[^>]*>/g)).toEqual([
      '<script type="application/json" id="report-data">',
      '<script>',
      '<script>',
    ]);
    // Chart.js is inlined (its MIT banner included).
    expect(html).toContain('Chart.js v4');
    expect(html.length).toBeGreaterThan(chartJsSource.length);
  });

  it('escapes group names and other data in markup and in the embedded JSON', () => {
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain(escapeHtml(HOSTILE));
    const json = html.slice(
      html.indexOf('id="report-data">') + 17,
      html.indexOf('</script>', html.indexOf('id="report-data">')),
    );
    expect(json).not.toContain('<');
    expect((JSON.parse(json) as ReportData).dimensions[0]!.groups[2]!.group).toBe(HOSTILE);
    expect(html).toContain('<title>Review &amp; sign-off</title>');
  });

  it('shows the numbers reviewers need: rates with Wilson intervals and sample sizes, DI verdict, drift bands, alerts', () => {
    expect(html).toContain('<td class="r">1,200</td>');
    expect(html).toContain('30.5%'); // apac 290/950
    expect(html).toContain('28.5% – 32.5%'); // its interval
    expect(html).toMatch(/Four-fifths rule breached<\/b>: disparate impact ratio 0\.591/);
    expect(html).toContain('no (n &lt; 30)'); // small group shown, not judged
    expect(html).toMatch(/<tr class="flag"><td>tokens<\/td>/); // PSI ≥ 0.25 highlighted
    expect(html).toContain('0.4123');
    expect(html).toContain('<span class="state firing">firing</span>');
    expect(html).toContain('2026-01-05 09:10:00Z'); // firing since
    for (const id of ['series-0', 'fairness-0', 'drift-chart', 'alert-timeline'])
      expect(html).toContain(`id="${id}"`);
  });

  it('shows parity figures with their intervals only for fairness dimensions, never for issuers', () => {
    const out = renderReportHtml(withIssuer(), { chartJsSource });
    const cards = out.slice(
      out.indexOf('<section class="cards">'),
      out.indexOf('</section>', out.indexOf('<section class="cards">')),
    );
    expect(cards).toContain('Disparate impact · region');
    expect(cards).toContain('95% CI 0.50–0.70');
    expect(cards).not.toContain('issuer');
    const start = out.indexOf('id="dim-issuer"');
    const issuer = out.slice(start, out.indexOf('</section>', start));
    expect(issuer).not.toContain('Fairness gaps');
    expect(issuer).not.toContain('disparate impact');
    expect(issuer).not.toContain('id="fairness-1"');
    expect(issuer).toContain('is not a fairness dimension');
    expect(issuer).toContain(
      '3 value(s) left out as NER fragments (1–2 characters or stop words): n, y, the',
    );
    expect(out).toContain('disparate impact 0.501–0.697, parity difference 0.088–0.162');
  });

  it('shows labelled metrics and label coverage when labels exist', () => {
    expect(html).toContain('<h3>Labelled metrics</h3>');
    expect(html).toContain('215 labelled documents (9.9% label coverage)');
    expect(html).toMatch(
      /<td>apac<\/td><td class="r">95<\/td><td class="r">10\.0%<\/td><td class="r">70\.0%<\/td><td class="r">60\.2% – 78\.2%<\/td>/,
    );
    // Estimated (CBPE) beside realised, then TPR/FPR of every class; an undefined rate shows as such.
    expect(html).toMatch(
      /<td class="r">60\.2% – 78\.2%<\/td><td class="r">84\.3%<\/td><td class="r">90\.0%<\/td><td class="r">20\.0%<\/td><td class="r">60\.0%<\/td><td class="r">12\.0%<\/td><td class="r">—<\/td><td class="r">10\.0%<\/td>/,
    );
    expect(html).toContain('<th class="r">TPR neutral</th><th class="r">FPR neutral</th>');
    expect(html).toContain(
      '95% simultaneous interval 0.071 – 0.470; widest gap: TPR of neutral, amer vs apac.',
    );
    const data = fixture();
    data.dimensions[0]!.labelled = null;
    expect(renderReportHtml(data, { chartJsSource })).not.toContain('Labelled metrics');
  });

  it('says what each section means', () => {
    const out = renderReportHtml(withIssuer(), { chartJsSource });
    // alerts, region fairness, region labelled, issuer groups, drift
    expect(out.match(/<p class="meaning"><b>What this means:<\/b>/g)).toHaveLength(5);
    // DI 0.59 with the whole interval below 0.8: a gap, not noise
    expect(out).toContain('and the whole interval is below 0.8');
    expect(out).toContain('tokens shifted significantly');
  });

  it('is a pure function of its input', () => {
    expect(renderReportHtml(fixture(), { chartJsSource })).toBe(html);
  });

  it('says when alerts or drift reference are unavailable instead of showing nothing', () => {
    const data = fixture();
    data.alerts = {
      source: 'Kafka topic finsentry.alerts: topic finsentry.alerts does not exist',
      available: false,
      episodes: [],
    };
    data.drift = null;
    const out = renderReportHtml(data, { chartJsSource });
    expect(out).toContain(
      'Alert history could not be read: Kafka topic finsentry.alerts: topic finsentry.alerts does not exist',
    );
    expect(out).toContain('No reference available');
    expect(out).not.toContain('id="alert-timeline"');
  });

  it('keeps script-breaking sequences out of inline scripts', () => {
    expect(jsonForScript({ a: '</script><!--' })).toBe('{"a":"\\u003c/script\\u003e\\u003c!--"}');
    const out = renderReportHtml(fixture(), { chartJsSource: 'var s = "</script>";' });
    expect(out).toContain('var s = "<\\/script>";');
  });
});

describe('alert episodes', () => {
  function event(state: AlertEvent['state'], extra: Partial<AlertEvent> = {}): AlertEvent {
    return {
      fingerprint: 'fp-surge',
      rule: 'NegativeSentimentSurge',
      kind: 'sentiment',
      state,
      severity: 'critical',
      dimension: 'issuer',
      group: 'northwind energy corp',
      metric: 'negative_share',
      value: 0.7,
      threshold: 0.5,
      window_ms: 300_000,
      sample_size: 80,
      p_value: 1e-6,
      started_at: T0,
      ended_at: null,
      summary: 'surge',
      runbook_url: '',
      labels: {},
      ...extra,
    };
  }

  it('folds pending → firing → resolved into one episode per fingerprint and start', () => {
    const episodes = alertEpisodes([
      event('pending'),
      event('firing', { labels: { firing_since: new Date(T0 + MIN).toISOString() } }),
      event('resolved', {
        ended_at: T0 + 9 * MIN,
        value: 0.3,
        labels: { firing_since: new Date(T0 + MIN).toISOString() },
      }),
      event('pending', { started_at: T0 + 30 * MIN }),
    ]);
    expect(episodes).toHaveLength(2);
    expect(episodes[0]).toMatchObject({
      state: 'resolved',
      startedAtMs: T0,
      firingAtMs: T0 + MIN,
      endedAtMs: T0 + 9 * MIN,
      value: 0.3,
    });
    expect(episodes[1]).toMatchObject({
      state: 'pending',
      startedAtMs: T0 + 30 * MIN,
      firingAtMs: null,
      endedAtMs: null,
    });
  });
});
