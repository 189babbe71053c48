import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertFixture } from '../helpers/alert-fixture.js';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import type { Evaluator } from '../../src/alerts/evaluator.js';
import { Readiness, startOpsServer, type OpsServer } from '../../src/telemetry/server.js';
import { byEventTime, traffic } from '../helpers/alert-traffic.js';
import { dashboardQueries } from '../helpers/grafana.js';
import { alertmanagerUrl, prometheusUrl, uniqueName, waitFor } from '../helpers/stack.js';

/**
 * End to end through the shipped Prometheus rules: the evaluator exports its gauges on
 * 127.0.0.1:9464 (the local Prometheus' scrape target, scripts/stack/stack.sh), Prometheus evaluates
 * k8s/prometheus/rules.yml and sends to Alertmanager. A negative surge on one issuer makes exactly
 * one alert fire for it — as a Kafka event and in Alertmanager — and both resolve after the surge.
 */

/** Series that exist only once human labels have joined predictions (docs/runbooks.md, issue #19). */
const LABEL_FED =
  /finsentry_(group_accuracy_ratio|group_true_positive_rate|group_false_positive_rate|fairness_equalized_odds_difference)/;

const MINUTE = 60_000;
const METRICS_PORT = 9464;
const RUN = uniqueName('e2e').replace(/-/g, '');
const SURGING = `acme${RUN}`;
const CALM = [`beta${RUN}`, `gamma${RUN}`, `delta${RUN}`];

interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

async function prometheusAlerts(): Promise<PromAlert[]> {
  const res = await fetch(`${prometheusUrl()}/api/v1/alerts`);
  if (!res.ok) throw new Error(`prometheus ${res.status}`);
  return ((await res.json()) as { data: { alerts: PromAlert[] } }).data.alerts;
}

async function instantQuery(expr: string): Promise<unknown[]> {
  const res = await fetch(`${prometheusUrl()}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
  return body.data!.result;
}

async function alertmanagerAlerts(
  filter: string,
): Promise<Array<{ labels: Record<string, string>; status: { state: string } }>> {
  const res = await fetch(`${alertmanagerUrl()}/api/v2/alerts?filter=${encodeURIComponent(filter)}`);
  if (!res.ok) throw new Error(`alertmanager ${res.status}`);
  return (await res.json()) as Array<{ labels: Record<string, string>; status: { state: string } }>;
}

describe('surge alert end to end: metrics → Prometheus rules → Alertmanager, and Kafka', () => {
  const fixture = new AlertFixture('e2e');
  const { prefix, store, metrics, received } = fixture;
  let evaluator: Evaluator;
  let server: OpsServer;
  const T = Math.floor(Date.now() / MINUTE) * MINUTE;

  beforeAll(async () => {
    const up = await fetch(`${prometheusUrl()}/-/ready`).catch(() => undefined);
    if (!up?.ok)
      throw new Error(
        `Prometheus is not running at ${prometheusUrl()}: start it with scripts/stack/stack.sh up --prometheus`,
      );
    try {
      server = await startOpsServer({
        registry: metrics.registry,
        readiness: new Readiness(),
        port: METRICS_PORT,
        host: '127.0.0.1',
      });
    } catch (err) {
      throw new Error(
        `port ${METRICS_PORT} (the local Prometheus' scrape target) is taken — is a finsentry demo running? ${(err as Error).message}`,
        { cause: err },
      );
    }
    await fixture.connect();
    evaluator = fixture.createEvaluator({
      rules: defaultAlertRules().filter((r) => r.kind !== 'pipeline'),
      intervalMs: 1_000,
    });
  });

  afterAll(() => fixture.close(async () => void (await server?.close())));

  const events = (group: string) => received.filter((e) => e.group === group);

  it('fires exactly one alert for the surging issuer and resolves it after the surge', async () => {
    const history = [SURGING, ...CALM].flatMap((issuer) =>
      traffic(issuer, T - 65 * MINUTE, T - 5 * MINUTE, 300, 1),
    );
    const surge = [
      ...traffic(SURGING, T - 4 * MINUTE, T, 60, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T - 4 * MINUTE, T, 60, 1)),
    ];
    for (const batch of [history, surge]) {
      byEventTime(batch);
      await store.apply([
        {
          partitionKey: `${prefix}-p0`,
          lastOffset: batch[batch.length - 1]!.offset!,
          observations: batch,
          labels: [],
        },
      ]);
    }
    evaluator.start();

    // The evaluator's own rule (for: 1m) and the Prometheus rule (for: 1m) both fire.
    await waitFor(() => events(SURGING).some((e) => e.state === 'firing'), 150_000, 500);
    const inAlertmanager = await waitFor(
      async () => {
        const alerts = await alertmanagerAlerts(`group="${SURGING}"`);
        return alerts.length > 0 ? alerts : undefined;
      },
      150_000,
      1_000,
    );
    // Prometheus alerts on the evaluator's own decision, under the evaluator rule's name (docs/alerting.md).
    expect(inAlertmanager.map((a) => a.labels.alertname)).toEqual(['NegativeSentimentSurge']);
    expect(inAlertmanager[0]!.labels).toMatchObject({
      severity: 'critical',
      dimension: 'issuer',
      source: 'finsentry-evaluator',
    });
    const firingInPrometheus = (await prometheusAlerts()).filter(
      (a) => a.state === 'firing' && a.labels.group !== undefined && a.labels.group.endsWith(RUN),
    );
    expect(firingInPrometheus.map((a) => [a.labels.alertname, a.labels.group])).toEqual([
      ['NegativeSentimentSurge', SURGING],
    ]);
    for (const calm of CALM) {
      expect(events(calm)).toEqual([]);
      expect(await alertmanagerAlerts(`group="${calm}"`)).toEqual([]);
    }

    // Every panel of the dashboards fed by the evaluator (sentiment, fairness, drift, alerts) has data
    // in Prometheus now; the pipeline dashboard needs a running pipeline (demo end-to-end test), and
    // the series computed from joined human labels need labels, which this traffic has none of (they
    // are exported in test/integration/labels-accuracy-alert.test.ts and shown in report-render).
    const evaluatorPanels = dashboardQueries().filter(
      (q) => q.dashboardUid !== 'finsentry-pipeline' && !LABEL_FED.test(q.expr),
    );
    expect(evaluatorPanels.length).toBeGreaterThan(15);
    const empty: string[] = [];
    for (const q of evaluatorPanels)
      if ((await instantQuery(q.expr)).length === 0)
        empty.push(`${q.dashboard} / ${q.panel} / ${q.refId}: ${q.expr}`);
    expect(empty).toEqual([]);

    // The surge ends: the next 6 minutes are calm for everyone.
    const after = byEventTime(
      [SURGING, ...CALM].flatMap((issuer) => traffic(issuer, T + 1 * MINUTE, T + 7 * MINUTE, 60, 1)),
    );
    await store.apply([
      {
        partitionKey: `${prefix}-p0`,
        lastOffset: after[after.length - 1]!.offset!,
        observations: after,
        labels: [],
      },
    ]);

    await waitFor(() => events(SURGING).some((e) => e.state === 'resolved'), 60_000, 500);
    await waitFor(async () => (await alertmanagerAlerts(`group="${SURGING}"`)).length === 0, 60_000, 1_000);
    expect(
      events(SURGING)
        .filter((e) => e.rule === 'NegativeSentimentSurge')
        .map((e) => e.state),
    ).toEqual(['pending', 'firing', 'resolved']);
    for (const calm of CALM) expect(events(calm)).toEqual([]);
  });
});
