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
import type { JoinedLabel } from '../../src/domain/windows.js';
import { documentKey } from '../../src/pipeline/label-join.js';
import { createRedisClient } from '../../src/io/redis/client.js';
import { labelLifetimes, RedisLabelStore } from '../../src/io/redis/label-store.js';
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
const SENTIMENTS: readonly SentimentLabel[] = ['negative', 'neutral', 'positive'];

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
    const redis = createRedisClient(config.redis);
    ({ store, close: closeStore } = openWindowStore(config, redis));
    const labelStore = new RedisLabelStore(redis, {
      keyPrefix: config.redis.keyPrefix,
      bucketMs: config.stats.bucket,
      ttlSeconds: store.options.ttlSeconds,
      memorySeconds: labelLifetimes(config, store.options.ttlSeconds).memorySeconds,
    });

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
    const labels: JoinedLabel[] = [];
    let offset = 0;
    // Delayed human labels for 30% of the documents (hours late, counted at the document's event time);
    // apac's labels disagree with the model on 30% more documents (the planted accuracy gap).
    const labelRng = Random.fromSeed(7);
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
      const observation = buildObservation(
        doc.value,
        enrichmentFromTruth(m, doc.value.text, rng),
        config.stats.dimensions,
      );
      batch.push(observation);
      if (labelRng.chance(0.3)) {
        const apac = observation.groups.some((g) => g.dimension === 'region' && g.value === 'apac');
        const wrong = SENTIMENTS.filter((l) => l !== observation.label);
        labels.push({
          documentKey: documentKey(m.topic === 'news' ? 'news' : 'chat', observation.documentId),
          documentEventTimeMs: observation.eventTimeMs,
          groups: observation.groups,
          predicted: observation.label,
          actual: apac && labelRng.chance(0.3) ? wrong[labelRng.chance(0.5) ? 0 : 1]! : m.truth!,
          labelledAtMs: observation.eventTimeMs + labelRng.float() * 6 * HOUR,
        });
      }
      if (batch.length >= 1000) await flush();
    }
    await flush();
    // The labels stream, in the order the labellers finished (not document order), through the label store.
    labels.sort((a, b) => a.labelledAtMs - b.labelledAtMs);
    for (let i = 0; i < labels.length; i += 500) await labelStore.apply(labels.slice(i, i + 500));

    // Alert history on a real topic: a surge episode that fired and resolved, a fairness alert still firing.
    await createTopic(alertsTopic, 2);
    const kafka = new Kafka({ clientId: 'report-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    // Transactional, as the alert publisher writes (src/io/kafka/alert-publisher.ts): the topic then
    // ends with a commit marker, and the report must still know it read to the end.
    const producer = kafka.producer({
      transactionalId: `report-test-${alertsTopic}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
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
    for (const e of events) {
      const tx = await producer.transaction();
      await tx.send({ topic: alertsTopic, messages: [{ key: e.fingerprint, value: encodeAlertEvent(e) }] });
      await tx.commit();
    }
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
    // Issuers are not a fairness dimension (config fairness.dimensions) and carry no NER fragments.
    expect(region.fairness).toBe(true);
    expect(issuer.fairness).toBe(false);
    for (const g of issuer.groups) expect(g.group.length, g.group).toBeGreaterThan(2);
    const cards = html.slice(html.indexOf('<section class="cards">'), html.indexOf('<section id="alerts">'));
    expect(cards).toContain('Disparate impact · region');
    expect(cards).not.toMatch(/Disparate impact · (issuer|ticker)/);
    const nwec = issuer.series.find((s) => s.group === 'northwind energy corp');
    expect(nwec).toBeDefined();
    expect(Math.max(...nwec!.points.map((p) => p.negativeShare ?? 0))).toBeGreaterThan(0.6);
    // Trailing reference = the hour before the window.
    expect(data.drift?.referenceDocuments).toBeGreaterThan(5000);
    expect(data.drift?.features.map((f) => f.feature)).toContain('p_neg');
    // Labels: ~30% coverage per region, apac's realised accuracy lowest (its labels disagree more),
    // estimated accuracy beside it, and an equalized odds interval around the figure.
    const l = region.labelled!;
    console.log(
      `report labels: ${l.labelled} labelled (coverage ${l.coverage?.toFixed(3)}), EOD ${l.equalizedOddsDifference?.toFixed(3)} ` +
        `[${l.equalizedOddsInterval?.low.toFixed(3)}, ${l.equalizedOddsInterval?.high.toFixed(3)}]; ` +
        l.groups
          .map((g) => `${g.group} acc ${g.accuracy?.toFixed(3)} est ${g.estimatedAccuracy?.toFixed(3)}`)
          .join(', '),
    );
    expect(l.coverage!).toBeGreaterThan(0.25);
    expect(l.coverage!).toBeLessThan(0.35);
    const byGroup = new Map(l.groups.map((g) => [g.group, g]));
    for (const other of ['amer', 'emea', 'latam'])
      expect(byGroup.get('apac')!.accuracy!).toBeLessThan(byGroup.get(other)!.accuracy! - 0.1);
    for (const g of l.groups) {
      expect(g.estimatedAccuracy).not.toBeNull();
      expect(g.classRates.map((r) => r.label)).toEqual(['negative', 'neutral', 'positive']);
    }
    expect(l.equalizedOddsInterval!.low).toBeLessThanOrEqual(l.equalizedOddsDifference!);
    expect(l.equalizedOddsInterval!.high).toBeGreaterThanOrEqual(l.equalizedOddsDifference!);
    expect(l.equalizedOddsInterval!.decidingPair).toContain('apac');
    expect(data.alerts.available).toBe(true);
    // Read to the end by position (the last record is a commit marker), not by waiting out the timeout.
    expect(data.alerts.source).toMatch(/\(\d+ events\)$/);
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

      // Realised and estimated accuracy per group with label coverage, and the EOD with its interval,
      // as the reader sees them: the region's labelled table is rendered and visible.
      const labelled = page.locator('table.labelled').first();
      await labelled.scrollIntoViewIfNeeded();
      expect(await labelled.isVisible()).toBe(true);
      const heads = await labelled.locator('th').allInnerTexts();
      expect(heads.slice(0, 6)).toEqual([
        'Group',
        'Labelled',
        'Coverage',
        'Accuracy',
        '95% Wilson',
        'Estimated accuracy',
      ]);
      expect(heads).toContain('TPR neutral');
      expect(heads).toContain('FPR positive');
      const apacRow = (await labelled.locator('tr', { hasText: 'apac' }).first().innerText()).split('\t');
      expect(apacRow[0]).toBe('apac');
      expect(apacRow[2]).toMatch(/^(2\d|3\d)\.\d%$/); // ~30% label coverage
      expect(await page.locator('.eod-interval').first().innerText()).toMatch(
        /95% simultaneous interval \d\.\d{3} – \d\.\d{3}; widest gap: (TPR|FPR) of \w+, \w+ vs \w+\./,
      );

      // Every chart canvas has drawn pixels (not blank): share of non-transparent, non-white pixels.
      const inked = (await page.evaluate(INK_PER_CANVAS)) as Array<{
        id: string;
        width: number;
        height: number;
        ink: number;
      }>;
      // 4 dimensions' series + fairness charts of the 3 fairness dimensions (not issuer) + drift + alerts
      expect(inked.map((c) => c.id).sort()).toEqual(
        [
          'alert-timeline',
          'drift-chart',
          'fairness-0',
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
