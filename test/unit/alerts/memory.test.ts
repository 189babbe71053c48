import { describe, expect, it } from 'vitest';
import { MemoryAlertStateStore } from '../../../src/alerts/memory/alert-state-store.js';
import { createMemoryAlerting } from '../../../src/alerts/memory/alerting.js';
import { LeaseAuthority, MemoryLeaderLease } from '../../../src/alerts/memory/leader-lease.js';
import { parseConfig } from '../../../src/config/load.js';
import type { StatsObservation } from '../../../src/domain/observation.js';
import { FIRING_RECORD } from '../../helpers/alert-record.js';
import { observation, traffic } from '../../helpers/alert-traffic.js';

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
    // The evaluator did step through every complete bucket on the event clock whose grace period
    // (stats.allowedLateness) has passed (docs/guarantees.md#event-time).
    expect(run.evaluator.eventTimeMs).toBe(T0 + 89 * MINUTE - config.stats.allowedLateness);
  });
});

describe('in-memory lease and alert state store', () => {
  const record = FIRING_RECORD;

  it('fences a stale leader as the Redis store does: its writes are refused once a successor holds the lease', async () => {
    let now = 0;
    const authority = new LeaseAuthority(() => now);
    const a = new MemoryLeaderLease({ authority, leaseMs: 300, replicaId: 'a' });
    const b = new MemoryLeaderLease({ authority, leaseMs: 300, replicaId: 'b' });
    const changes: Array<[boolean, number]> = [];
    a.listen({ onChange: (leader, token) => changes.push([leader, token]) });
    const store = new MemoryAlertStateStore(authority);
    await a.tick();
    await b.tick();
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    const termA = a.current()!;
    expect(await store.commit(termA, [record], [], [])).toBe(true);
    now = 299; // A renews in time: still the leader, same token
    await a.tick();
    await b.tick();
    expect([a.current()?.token, b.isLeader()]).toEqual([termA.token, false]);
    now = 700; // A paused past its lease: B takes over with a larger token
    await b.tick();
    expect(b.current()!.token).toBeGreaterThan(termA.token);
    expect(await store.commit(termA, [{ ...record, state: 'resolved' }], [], [])).toBe(false);
    expect((await store.load()).get('f1')?.state).toBe('firing');
    await a.tick(); // compare-and-extend fails: A steps down; its release cannot free B's lease
    await a.stop(true);
    expect(a.isLeader()).toBe(false);
    expect(b.isLeader()).toBe(true);
    // As the Redis lease: a term that lapsed while paused is not reported again as lost on the next tick.
    expect(changes).toEqual([[true, termA.token]]);
  });

  it('keeps the outbox until publication is acknowledged, entry by entry', async () => {
    const authority = new LeaseAuthority();
    const lease = new MemoryLeaderLease({ authority });
    await lease.tick();
    const store = new MemoryAlertStateStore(authority);
    const event = { fingerprint: 'f1', state: 'firing' } as unknown as Parameters<
      typeof store.commit
    >[3][number];
    expect(await store.commit(lease.current()!, [record], [], [event, { ...event, state: 'resolved' }])).toBe(
      true,
    );
    const [first, second] = await store.outbox();
    await store.acknowledge([first!]);
    expect((await store.outbox()).map((e) => e.event.state)).toEqual(['resolved']);
    await store.acknowledge([first!]); // idempotent: removes nothing else
    expect(await store.outbox()).toEqual([second]);
  });
});
