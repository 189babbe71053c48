import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAlertEvent, type AlertEvent } from '../../src/alerts/events.js';
import type { ChatMessageRecord, NewsArticleRecord } from '../../src/codec/records.js';
import { validateChat, validateNews } from '../../src/codec/validate.js';
import { parseConfig } from '../../src/config/load.js';
import type { FinsentryConfig } from '../../src/config/schema.js';
import type {
  ScoredEnrichment,
  SentimentLabel,
  SentimentProbabilities,
} from '../../src/domain/enrichment.js';
import type { StatsObservation } from '../../src/domain/observation.js';
import { openWindowStore, type RedisWindowStore } from '../../src/io/redis/window-store.js';
import { AuthorPseudonymiser } from '../../src/privacy/pseudonymise.js';
import { reportAlertsFromKafka } from '../../src/tools/report/alerts-source.js';
import { loadChartJsSource, loadReportData } from '../../src/tools/report/load.js';
import { renderReportHtml } from '../../src/tools/report/render.js';
import type { ReportData } from '../../src/tools/report/types.js';
import { generateScenario, type ScenarioMessage } from '../../src/tools/scenarios/generate.js';
import { Random } from '../../src/tools/scenarios/random.js';
import { buildObservation } from '../../src/stats/grouping.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName } from '../helpers/stack.js';

/**
 * The report end to end on the real stack: scenario traffic → codec validation → statistics in the
 * real Redis window store → alert history on a real Kafka topic → ReportData → HTML → headless
 * Chromium (Debian package, scripts/stack/ensure-chromium.sh). Sentiment comes from the scenario's
 * intended labels with seeded noise instead of the ONNX model: this test is about the report, and the
 * window store and Kafka are the real ones.
 *
 * FINSENTRY_UPDATE_DOCS=1 also writes the screenshot to docs/img/report.png (for the README).
 */
const CHROMIUM = process.env.FINSENTRY_CHROMIUM ?? '/usr/bin/chromium';

/** Runs in the page (a string: the test project compiles without DOM types): ink share per canvas. */
const INK_PER_CANVAS = `Array.from(document.querySelectorAll('canvas')).map((canvas) => {
  const { data: px } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let ink = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235)) ink++;
  return { id: canvas.id, width: canvas.width, height: canvas.height, ink: ink / (px.length / 4) };
})`;
const START = Date.UTC(2026, 0, 5, 9, 0, 0);
const DI_SUMMARY = 'Disparate impact ratio of negative predictions across region is 0.60 (< 0.8)';
const HOUR = 3_600_000;

/** Probabilities that follow the intended label, with 7% of documents read as neutral (model noise). */
function enrichmentFromTruth(m: ScenarioMessage, text: string, rng: Random): ScoredEnrichment {
  const label: SentimentLabel = rng.chance(0.07) ? 'neutral' : m.truth!;
  const top = 0.6 + rng.float() * 0.38;
  const rest = (1 - top) / 2;
  const probabilities = {
    negative: rest,
    neutral: rest,
    positive: rest,
    [label]: top,
  } as SentimentProbabilities;
  const at = text.indexOf(m.issuer.name);
  const entities =
    at >= 0
      ? [
          {
            type: 'ORG',
            text: m.issuer.name,
            normalized: m.issuer.name.toLowerCase(),
            start: at,
            end: at + m.issuer.name.length,
            score: 0.98,
          },
        ]
      : [];
  const tokens = Math.round(text.split(/\s+/).length * 1.3);
  return {
    sentiment: {
      label,
      probabilities,
      polarity: probabilities.positive - probabilities.negative,
      confidence: top,
      windows: Math.max(1, Math.ceil(tokens / 96)),
      truncated: false,
      tokens,
      unknownTokens: /[\u{1F300}-\u{1FAFF}]/u.test(text) ? 1 : 0,
    },
    entities,
    models: [],
  };
}

function alertEvent(
  partial: Partial<AlertEvent> & Pick<AlertEvent, 'fingerprint' | 'rule' | 'state' | 'started_at'>,
): AlertEvent {
  return {
    kind: 'sentiment',
    severity: 'critical',
    dimension: 'issuer',
    group: 'northwind energy corp',
    metric: 'negative_share',
    value: 0.72,
    threshold: 0.5,
    window_ms: 300_000,
    sample_size: 96,
    p_value: 1e-8,
    ended_at: null,
    summary: 'Negative sentiment surge on issuer northwind energy corp',
    runbook_url: 'https://github.com/finsentry/finsentry/blob/main/docs/runbooks.md#negativesentimentsurge',
    labels: {},
    ...partial,
  };
}

describe('report on the real stack, rendered in headless Chromium', () => {
  let config: FinsentryConfig;
  let store: RedisWindowStore;
  let closeStore: () => Promise<void>;
  const alertsTopic = uniqueName('report-alerts');
  let data: ReportData;
  let html: string;
  let workDir: string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'finsentry-report-'));
    config = parseConfig(
      {
        kafka: { brokers: kafkaBrokers(), topics: { alerts: alertsTopic } },
        redis: { url: redisUrl(), keyPrefix: uniqueName('rpt') },
      },
      {},
    );
    ({ store, close: closeStore } = openWindowStore(config));

    // 2 h of mixed traffic (surge on one issuer, apac bias, some poison) through the real codec and store.
    const run = generateScenario({
      name: 'mixed',
      seed: 11,
      startMs: START,
      durationMs: 2 * HOUR,
      ratePerSecond: 2,
      universeSize: 16,
    });
    const pseudonymiser = new AuthorPseudonymiser('report-test-author-key-0123');
    const rng = Random.fromSeed(99);
    const limits = { maxTextChars: config.limits.maxTextChars, maxFutureSkewMs: config.limits.maxFutureSkew };
    let batch: StatsObservation[] = [];
    let offset = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await store.apply([
        { partitionKey: 'report-test:0', lastOffset: String(offset), observations: batch, labels: [] },
      ]);
      batch = [];
    };
    for (const m of run.messages) {
      offset++;
      if (m.poison) continue;
      const ctx = {
        limits,
        pseudonymiser,
        nowMs: START + 3 * HOUR,
        position: { topic: m.topic, partition: 0, offset: String(offset) },
        key: Buffer.from(m.key),
        headers: {},
      };
      const doc =
        m.topic === 'news'
          ? validateNews(m.record as NewsArticleRecord, ctx)
          : validateChat(m.record as ChatMessageRecord, ctx);
      if (!doc.ok) throw new Error(`generated document ${m.id} does not validate: ${doc.rejection.message}`);
      batch.push(
        buildObservation(doc.value, enrichmentFromTruth(m, doc.value.text, rng), config.stats.dimensions),
      );
      if (batch.length >= 1000) await flush();
    }
    await flush();

    // Alert history on a real topic: a surge episode that fired and resolved, a fairness alert still firing.
    await createTopic(alertsTopic, 2);
    const kafka = new Kafka({ clientId: 'report-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const surgeStart = START + 60 * 60_000;
    const diStart = START + 8 * 60_000;
    const events: AlertEvent[] = [
      alertEvent({
        fingerprint: 'di-region',
        rule: 'DisparateImpactRegion',
        kind: 'fairness',
        severity: 'warning',
        dimension: 'region',
        group: null,
        metric: 'disparate_impact_ratio',
        value: 0.61,
        threshold: 0.8,
        state: 'pending',
        started_at: diStart,
        summary: DI_SUMMARY,
      }),
      alertEvent({
        fingerprint: 'di-region',
        rule: 'DisparateImpactRegion',
        kind: 'fairness',
        severity: 'warning',
        dimension: 'region',
        group: null,
        metric: 'disparate_impact_ratio',
        value: 0.6,
        threshold: 0.8,
        state: 'firing',
        started_at: diStart,
        summary: DI_SUMMARY,
        labels: { firing_since: new Date(diStart + 5 * 60_000).toISOString() },
      }),
      alertEvent({
        fingerprint: 'surge-nwec',
        rule: 'NegativeSentimentSurge',
        state: 'pending',
        started_at: surgeStart,
      }),
      alertEvent({
        fingerprint: 'surge-nwec',
        rule: 'NegativeSentimentSurge',
        state: 'firing',
        started_at: surgeStart,
        labels: { firing_since: new Date(surgeStart + 60_000).toISOString() },
      }),
      alertEvent({
        fingerprint: 'surge-nwec',
        rule: 'NegativeSentimentSurge',
        state: 'resolved',
        value: 0.3,
        threshold: 0.35,
        started_at: surgeStart,
        ended_at: surgeStart + 28 * 60_000,
        labels: { firing_since: new Date(surgeStart + 60_000).toISOString() },
      }),
    ];
    for (const e of events)
      await producer.send({
        topic: alertsTopic,
        messages: [{ key: e.fingerprint, value: encodeAlertEvent(e) }],
      });
    await producer.disconnect();
    const alerts = await reportAlertsFromKafka(kafka, alertsTopic, 60_000);

    data = await loadReportData(
      store,
      config,
      {
        windowMs: HOUR,
        dimensions: ['region', 'issuer', 'source', 'kind'],
        nowMs: START + 2 * HOUR + 5 * 60_000,
        title: 'finsentry model-risk report — mixed scenario',
      },
      alerts,
    );
    html = renderReportHtml(data, { chartJsSource: loadChartJsSource() });
    writeFileSync(join(workDir, 'report.html'), html);
  });

  afterAll(async () => {
    await store?.deleteAll();
    await closeStore?.();
    await deleteTopics([alertsTopic]);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('loads the window, fairness, drift and alert history from Redis and Kafka', () => {
    expect(data.windowEndMs - data.windowStartMs).toBe(HOUR);
    expect(data.totalDocuments).toBeGreaterThan(5000);
    const region = data.dimensions.find((d) => d.dimension === 'region')!;
    expect(region.groups.map((g) => g.group).sort()).toEqual(['amer', 'apac', 'emea', 'latam']);
    // The planted bias: apac is the most negative region and breaches the four-fifths rule.
    expect(region.maxGroup).toBe('apac');
    expect(region.disparateImpactRatio).toBeLessThan(0.8);
    for (const g of region.groups) {
      expect(g.wilsonLow!).toBeLessThanOrEqual(g.rate);
      expect(g.wilsonHigh!).toBeGreaterThanOrEqual(g.rate);
    }
    // The planted surge shows in the issuer's series: its peak bucket is far above the baseline.
    const issuer = data.dimensions.find((d) => d.dimension === 'issuer')!;
    const nwec = issuer.series.find((s) => s.group === 'northwind energy corp');
    expect(nwec).toBeDefined();
    expect(Math.max(...nwec!.points.map((p) => p.negativeShare ?? 0))).toBeGreaterThan(0.6);
    // Trailing reference = the hour before the window.
    expect(data.drift?.referenceDocuments).toBeGreaterThan(5000);
    expect(data.drift?.features.map((f) => f.feature)).toContain('p_neg');
    expect(data.alerts.available).toBe(true);
    expect(data.alerts.episodes.map((e) => [e.rule, e.state])).toEqual([
      ['DisparateImpactRegion', 'firing'],
      ['NegativeSentimentSurge', 'resolved'],
    ]);
  });

  it('renders in Chromium without console errors or network access, with every chart drawn', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'finsentry-chromium-'));
    let context: BrowserContext | undefined;
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1400, height: 1000 },
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      const url = `file://${join(workDir, 'report.html')}`;
      await page.goto(url);
      await page.waitForSelector('body[data-charts-ready="true"]', { timeout: 30_000 });

      expect(problems).toEqual([]);
      expect(requests.filter((r) => r !== url)).toEqual([]);

      // Every chart canvas has drawn pixels (not blank): share of non-transparent, non-white pixels.
      const inked = (await page.evaluate(INK_PER_CANVAS)) as Array<{
        id: string;
        width: number;
        height: number;
        ink: number;
      }>;
      // 4 dimensions × (series + fairness) + drift + alert timeline
      expect(inked.map((c) => c.id).sort()).toEqual(
        [
          'alert-timeline',
          'drift-chart',
          'fairness-0',
          'fairness-1',
          'fairness-2',
          'fairness-3',
          'series-0',
          'series-1',
          'series-2',
          'series-3',
        ].sort(),
      );
      for (const c of inked) {
        expect(c.width, c.id).toBeGreaterThan(300);
        expect(c.ink, c.id).toBeGreaterThan(0.01);
      }

      const shot = join(workDir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      if (process.env.FINSENTRY_UPDATE_DOCS === '1') {
        // The README shows the top of the report: summary, alert timeline and the region dimension.
        mkdirSync('docs/img', { recursive: true });
        await page.screenshot({
          path: 'docs/img/report.png',
          fullPage: true,
          clip: { x: 0, y: 0, width: 1400, height: 2150 },
        });
      }
    } finally {
      await context?.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
