import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertFixture } from '../helpers/alert-fixture.js';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import type { Evaluator } from '../../src/alerts/evaluator.js';
import { alertmanagerWebhook } from '../../src/io/http/alertmanager.js';
import { observation, traffic } from '../helpers/alert-traffic.js';
import { alertmanagerUrl, uniqueName, waitFor } from '../helpers/stack.js';

/**
 * The evaluator on real statistics: observations go through the real Redis window store, the
 * evaluator reads windows and a trailing reference from it, publishes to a real Kafka topic and to
 * the real Alertmanager (API v2), and exports gauges. A negative surge planted on one issuer fires
 * exactly one alert (pending → firing), the other issuers fire nothing, and when the surge has left
 * the window the alert resolves — on Kafka and in Alertmanager.
 */

const MINUTE = 60_000;
const RUN = uniqueName('surge').replace(/-/g, '');
const SURGING = `acme${RUN}`;
const CALM = [`beta${RUN}`, `gamma${RUN}`, `delta${RUN}`];

async function amAlerts(
  group: string,
): Promise<Array<{ labels: Record<string, string>; status: { state: string }; endsAt: string }>> {
  const url = `${alertmanagerUrl()}/api/v2/alerts?filter=${encodeURIComponent(`group="${group}"`)}`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`alertmanager ${res.status}`);
  return (await res.json()) as Array<{
    labels: Record<string, string>;
    status: { state: string };
    endsAt: string;
  }>;
}

describe('evaluator on the real window store, Kafka and Alertmanager', () => {
  const fixture = new AlertFixture('alerts', { processMetrics: false });
  const { prefix, store, metrics, received } = fixture;
  let evaluator: Evaluator;
  // The surge rule as shipped, but firing after 1 s instead of 1 min to keep the test short.
  const rules = defaultAlertRules()
    .filter((r) => r.name === 'NegativeSentimentSurge' || r.name === 'DisparateImpactRegion')
    .map((r) => (r.name === 'NegativeSentimentSurge' ? { ...r, for: 1_000 } : r));
  const T = Math.floor(Date.now() / MINUTE) * MINUTE;

  beforeAll(async () => {
    await fixture.connect();
    evaluator = fixture.createEvaluator({
      rules,
      publishers: [alertmanagerWebhook(`${alertmanagerUrl()}/api/v2/alerts`)],
      intervalMs: 60_000, // rounds are driven by the test
    });
    await evaluator.lease.tick();
    expect(evaluator.lease.isLeader()).toBe(true);
  });

  afterAll(() => fixture.close());

  const eventsFor = (group: string) =>
    received.filter((e) => e.group === group && e.rule === 'NegativeSentimentSurge');

  it('fires once for the surging issuer, nothing for the others, and resolves when the surge has passed', async () => {
    // Reference hour [T-65m, T-5m): every issuer 10% negative. Current window [T-5m, T): acme 80%
    // (the evaluator reads complete buckets; a first document at T+1s completes [T-1m, T)).
    const history = [SURGING, ...CALM].flatMap((issuer) =>
      traffic(issuer, T - 65 * MINUTE, T - 5 * MINUTE, 300, 1),
    );
    const surge = [
      ...traffic(SURGING, T - 4 * MINUTE, T, 60, 8),
      ...CALM.flatMap((issuer) => traffic(issuer, T - 4 * MINUTE, T, 60, 1)),
      observation(CALM[0]!, 'emea', T + 1_000, false),
    ];
    for (const batch of [history, surge]) {
      batch.sort((a, b) => a.eventTimeMs - b.eventTimeMs);
      await store.apply([
        {
          partitionKey: `${prefix}-p0`,
          lastOffset: batch[batch.length - 1]!.offset!,
          observations: batch,
          labels: [],
        },
      ]);
    }

    const first = await evaluator.evaluateOnce();
    expect(first.outcome).toBe('ok');
    expect(first.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'pending']]);
    await new Promise((r) => setTimeout(r, 1_100)); // the rule's `for` (1 s) elapses
    const second = await evaluator.evaluateOnce();
    expect(second.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'firing']]);
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]); // still firing: no new event

    await waitFor(() => eventsFor(SURGING).length === 2, 20_000);
    const firing = eventsFor(SURGING).find((e) => e.state === 'firing')!;
    expect(firing).toMatchObject({
      dimension: 'issuer',
      kind: 'sentiment',
      metric: 'negative_share_surge',
      sample_size: 60,
      severity: 'critical',
    });
    expect(firing.value).toBeCloseTo(0.8, 12);
    expect(firing.p_value!).toBeLessThan(0.001);
    expect(firing.summary).toContain(SURGING);
    for (const calm of CALM) expect(eventsFor(calm)).toEqual([]);

    // Alertmanager received it through the API v2 webhook.
    const active = await waitFor(
      async () => (await amAlerts(SURGING)).find((a) => a.labels.alertname === 'NegativeSentimentSurge'),
      20_000,
    );
    expect(active.labels).toMatchObject({ severity: 'critical', dimension: 'issuer', group: SURGING });
    expect(active.status.state).toBe('active');

    // Gauges: the surging issuer is exported (top-K) with its z against its own reference.
    const text = await metrics.registry.metrics();
    const line = (name: string) =>
      text
        .split('\n')
        .find(
          (l) => l.startsWith(`${name}{`) && l.includes(`group="${SURGING}"`) && l.includes('window="5m"'),
        );
    expect(Number(line('finsentry_group_negative_share')!.split(' ').pop())).toBeCloseTo(0.8, 12);
    expect(Number(line('finsentry_group_negative_share_zscore')!.split(' ').pop())).toBeGreaterThan(3.09);
    expect(text).toMatch(
      /finsentry_alerts\{rule="NegativeSentimentSurge",severity="critical",state="firing"\} 1/,
    );
    expect(text).toMatch(
      /finsentry_fairness_disparate_impact_ratio\{dimension="region",window="1h"\} [0-9.]+/,
    );
    expect(text).toMatch(/finsentry_drift_psi\{feature="p_neg",window="5m"\} [0-9.e-]+/);

    // The surge ends: 6 calm minutes for everyone move the 5-minute window past it.
    const after = [SURGING, ...CALM]
      .flatMap((issuer) => traffic(issuer, T + 1 * MINUTE, T + 7 * MINUTE, 60, 1))
      .sort((a, b) => a.eventTimeMs - b.eventTimeMs);
    await store.apply([
      {
        partitionKey: `${prefix}-p0`,
        lastOffset: after[after.length - 1]!.offset!,
        observations: after,
        labels: [],
      },
    ]);
    const resolvedRound = await evaluator.evaluateOnce();
    expect(resolvedRound.transitions.map((t) => [t.record.group, t.to])).toEqual([[SURGING, 'resolved']]);
    expect((await evaluator.evaluateOnce()).transitions).toEqual([]);

    await waitFor(() => eventsFor(SURGING).length === 3, 20_000);
    expect(eventsFor(SURGING).map((e) => e.state)).toEqual(['pending', 'firing', 'resolved']);
    const resolved = eventsFor(SURGING)[2]!;
    expect(resolved.fingerprint).toBe(firing.fingerprint);
    expect(resolved.ended_at).not.toBeNull();
    await waitFor(async () => (await amAlerts(SURGING)).length === 0, 20_000);
    for (const calm of CALM) expect(eventsFor(calm)).toEqual([]);
    expect(await metrics.registry.metrics()).toMatch(
      /finsentry_alerts\{rule="NegativeSentimentSurge",severity="critical",state="firing"\} 0/,
    );
  });
});
