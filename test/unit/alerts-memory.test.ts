import { describe, expect, it } from 'vitest';
import { createMemoryAlerting } from '../../src/alerts/memory/alerting.js';
import { parseConfig } from '../../src/config/load.js';
import type { StatsObservation } from '../../src/domain/observation.js';
import { observation, traffic } from '../helpers/alert-traffic.js';

/**
 * The shipped rules, the state machine and the evaluator on in-memory windows (no Redis, no Kafka):
 * what a backtest runs. Traffic arrives minute by minute in event time on two partitions, with
 * duplicated (replayed) batches and a few late documents, as the pipeline would deliver it.
 */

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const SURGING = 'acme';
const CALM = ['beta', 'gamma', 'delta'];

/** Feeds [fromMin, toMin) minute by minute (one batch per partition and minute), evaluating after each. */
async function feed(
  run: ReturnType<typeof createMemoryAlerting>,
  fromMin: number,
  toMin: number,
  negativePerTen: (issuer: string, minute: number) => number,
): Promise<void> {
  for (let m = fromMin; m < toMin; m++) {
    const start = T0 + m * MINUTE;
    const docs = [SURGING, ...CALM].flatMap((issuer) =>
      traffic(issuer, start, start + MINUTE, 20, negativePerTen(issuer, m)),
    );
    // A document 3 minutes late (within the allowed lateness) and one far too late: counted, not added.
    if (m % 7 === 0 && m > 10) docs.push(observation('beta', 'emea', start - 3 * MINUTE, false));
    if (m === 30) docs.push(observation('beta', 'emea', start - 40 * MINUTE, true));
    const partitions = new Map<string, StatsObservation[]>();
    docs.forEach((d, i) => {
      const key = `news.raw:${i % 2}`;
      partitions.set(key, [...(partitions.get(key) ?? []), d]);
    });
    const batches = [...partitions].map(([partitionKey, observations]) => ({
      partitionKey,
      lastOffset: observations.reduce((max, o) => (BigInt(o.offset!) > BigInt(max) ? o.offset! : max), '0'),
      observations,
      labels: [],
    }));
    const results = await run.apply(batches);
    expect(results.every((r) => r.applied)).toBe(true);
    // A replay of the same batches (a consumer restart) changes nothing.
    if (m % 5 === 0) expect((await run.apply(batches)).every((r) => !r.applied)).toBe(true);
    await run.drain();
  }
}

const config = parseConfig({});

describe('alert rules on in-memory windows', () => {
  it('a planted issuer surge goes pending → firing and resolves; the calm issuers fire nothing', async () => {
    const run = createMemoryAlerting(config);
    // 70 minutes of calm history (the trailing reference hour), 8 minutes of surge, 12 calm minutes.
    await feed(run, 0, 90, (issuer, m) => (issuer === SURGING && m >= 70 && m < 78 ? 8 : 1));
    const surge = run.events.filter((e) => e.rule === 'NegativeSentimentSurge');
    expect(surge.map((e) => [e.group, e.state])).toEqual([
      [SURGING, 'pending'],
      [SURGING, 'firing'],
      [SURGING, 'resolved'],
    ]);
    const [pending, firing, resolved] = surge;
    // Event-clock timeline: pending after the surge began (complete buckets only), firing after the
    // rule's `for` (1 min of traffic), resolved once the 5-minute window has left the surge.
    expect(pending!.started_at).toBeGreaterThan(T0 + 70 * MINUTE);
    expect(pending!.started_at).toBeLessThanOrEqual(T0 + 78 * MINUTE);
    expect(firing!.started_at).toBe(pending!.started_at);
    expect(Date.parse(firing!.labels.firing_since!) - pending!.started_at).toBeGreaterThanOrEqual(MINUTE);
    expect(firing!.value).toBeGreaterThan(0.5);
    expect(firing!.p_value!).toBeLessThan(0.001);
    expect(resolved!.fingerprint).toBe(firing!.fingerprint);
    expect(resolved!.ended_at!).toBeGreaterThan(T0 + 78 * MINUTE);
    expect(await run.windows.lateCount()).toBe(1);
  });

  it('clean traffic fires nothing', async () => {
    const run = createMemoryAlerting(config);
    await feed(run, 0, 90, () => 1);
    expect(run.events).toEqual([]);
    // The evaluator did step through every complete bucket on the event clock.
    expect(run.evaluator.eventTimeMs).toBe(T0 + 89 * MINUTE);
  });
});
