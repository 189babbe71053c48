// The processor's ordering and commit rules (design §1, src/pipeline/partition-worker.ts) on in-memory
// ports: a commit never covers a record whose outputs (enriched record AND window-store apply, or its
// dead letter) are not acknowledged; failing dependencies hold the commit and are retried; micro-batches
// that finish out of order commit in offset order; a stop finishes and commits what is in flight. The
// same rules against the real broker: test/integration/pipeline-kafka.test.ts.
import { describe, expect, it, vi } from 'vitest';
import { fakeBatch, Gate, harness, newsValues, TOPICS } from '../../helpers/pipeline-ports.js';

const wait = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 2 });

describe('PipelineProcessor commit ordering', () => {
  it('commits in offset order when micro-batches finish out of order, and applies stats in offset order', async () => {
    const h = harness({ batching: { maxBatchSize: 2, maxInFlightBatches: 3 } });
    h.enricher.held = true;
    const run = h.handle(fakeBatch(newsValues(6)));
    await wait(() => expect(h.enricher.calls).toHaveLength(3));

    h.enricher.calls[2]!.gate.resolve(); // the last chunk finishes first
    await wait(() => expect(h.ledger.enrichedAcked).toEqual(new Set(['104', '105'])));
    expect(h.ledger.commits).toEqual([]);
    expect(h.stats.applied).toEqual([]); // its stats wait for the chunks before it

    h.enricher.calls[0]!.gate.resolve();
    await wait(() => expect(h.ledger.commits).toEqual(['101']));
    h.enricher.calls[1]!.gate.resolve();
    await run;

    expect(h.ledger.violations).toEqual([]);
    expect(h.ledger.commits[h.ledger.commits.length - 1]).toBe('105');
    expect(h.stats.applied.map((b) => b.lastOffset)).toEqual(['101', '103', '105']);
    expect(h.processor.counters).toMatchObject({ enriched: 6, committedBatches: h.ledger.commits.length });
  });

  it('holds the commit while the enriched records are unacknowledged, though the stats are applied', async () => {
    const h = harness();
    const produced = new Gate();
    h.delivery.hold = (what) =>
      'topic' in what && what.topic === TOPICS.enriched ? produced.promise : undefined;
    const run = h.handle(fakeBatch(newsValues(2)));
    await wait(() => expect(h.stats.applied).toHaveLength(1));
    expect(h.ledger.commits).toEqual([]);
    produced.resolve();
    await run;
    expect(h.ledger.commits).toEqual(['101']);
    expect(h.ledger.violations).toEqual([]);
  });

  it('holds the commit while the window store fails, retries with the partition paused, and commits after it recovers', async () => {
    const h = harness();
    let failures = 3;
    h.stats.hold = () => {
      if (failures-- > 0) throw new Error('window store unavailable');
    };
    const batch = fakeBatch(newsValues(4));
    await h.handle(batch);
    expect(h.stats.attempts).toBe(2 + 3); // two chunks, the first one's apply failed three times
    expect(h.processor.counters.retries).toBe(3);
    expect(h.ledger.events.indexOf('stats 101')).toBeLessThan(h.ledger.events.indexOf('commit 101'));
    expect(h.ledger.commits[h.ledger.commits.length - 1]).toBe('103');
    expect(h.ledger.violations).toEqual([]);
    expect(batch.pauses).toBe(1);
    expect(batch.resumes).toBe(1);
  });

  it('returns only when every branch of a chunk has settled, so a late retry cannot leave the partition paused', async () => {
    // Broker restart seen in the fault suite: produce fails and is abandoned (the heartbeat says the
    // member is gone) while the stats apply is still pending; that apply then fails and backs off,
    // pausing the partition. Had the batch returned already, nothing would resume it.
    const h = harness();
    const batch = fakeBatch(newsValues(2));
    let memberGone = false;
    batch.heartbeat = () =>
      memberGone
        ? Promise.reject(new Error('The coordinator is not aware of this member'))
        : Promise.resolve();
    const stats = new Gate();
    h.stats.hold = () => stats.promise;
    h.delivery.hold = (what) => {
      if ('topic' in what && what.topic === TOPICS.enriched) {
        memberGone = true;
        throw new Error('broker unavailable');
      }
    };
    let returned = false;
    const run = h.handle(batch).finally(() => (returned = true));
    await wait(() => expect(h.processor.counters.retries).toBe(1)); // the produce failed
    await wait(() => expect(h.stats.attempts).toBe(1));
    expect(returned).toBe(false); // the stats branch is still running
    stats.reject(new Error('window store unavailable'));
    await run;
    expect(h.processor.counters.retries).toBe(2);
    expect(h.processor.counters.abandonedBatches).toBe(1);
    expect(batch.pauses).toBe(batch.resumes);
    expect(h.ledger.commits).toEqual([]);
  });

  it('counts dead-lettered records as done once their dead letters are acknowledged', async () => {
    const h = harness({ batching: { maxBatchSize: 4 } });
    const deadLetters = new Gate();
    h.delivery.hold = (what) =>
      'topic' in what && what.topic === TOPICS.dlq ? deadLetters.promise : undefined;
    const run = h.handle(fakeBatch(newsValues(4, [0, 3])));
    await wait(() => expect(h.ledger.enrichedAcked).toEqual(new Set(['101', '102'])));
    await wait(() => expect(h.stats.applied).toHaveLength(1));
    expect(h.ledger.commits).toEqual([]);
    deadLetters.resolve();
    await run;
    expect(h.ledger.commits).toEqual(['103']);
    expect(h.ledger.deadLettered).toEqual(new Set(['100', '103']));
    expect(h.ledger.violations).toEqual([]);
    expect(h.processor.counters).toMatchObject({ enriched: 2, deadLettered: 2 });
  });

  it('commits a batch of only bad records', async () => {
    const h = harness();
    await h.handle(fakeBatch(newsValues(3, [0, 1, 2])));
    expect(h.ledger.commits[h.ledger.commits.length - 1]).toBe('102');
    expect(h.stats.applied).toEqual([]);
    expect(h.ledger.violations).toEqual([]);
  });

  it('on stop finishes and commits the micro-batches in flight and starts no new one', async () => {
    const h = harness({ batching: { maxBatchSize: 2, maxInFlightBatches: 2 } });
    h.enricher.held = true;
    const batch = fakeBatch(newsValues(6));
    const run = h.handle(batch);
    await wait(() => expect(h.enricher.calls).toHaveLength(2));
    batch.running = false; // the consumer is stopping (SIGTERM)
    h.enricher.calls[1]!.gate.resolve();
    h.enricher.calls[0]!.gate.resolve();
    await run;
    expect(h.enricher.calls).toHaveLength(2);
    expect(h.ledger.commits[h.ledger.commits.length - 1]).toBe('103');
    expect(h.ledger.enrichedAcked).toEqual(new Set(['100', '101', '102', '103']));
    expect(h.ledger.violations).toEqual([]);
    await h.processor.drained();
  });

  it('exactly-once: commits only when no later micro-batch of the fetch is in flight', async () => {
    const h = harness({ mode: 'exactly-once', batching: { maxBatchSize: 2, maxInFlightBatches: 2 } });
    await h.handle(fakeBatch(newsValues(6)));
    // chunk 1 is awaited while chunk 2 runs (no commit), chunk 2 while chunk 3 runs, then chunk 3 alone.
    expect(h.ledger.commits).toEqual(['105']);
    expect(h.ledger.violations).toEqual([]);
  });

  it('without a stats sink an acknowledged enriched record completes its offset', async () => {
    const h = harness({ withStats: false });
    await h.handle(fakeBatch(newsValues(3)));
    expect(h.ledger.commits[h.ledger.commits.length - 1]).toBe('102');
    expect(h.ledger.violations).toEqual([]);
  });
});

describe('PipelineProcessor gives a batch up without committing', () => {
  it('when the partition is revoked while outputs are in flight', async () => {
    const h = harness();
    h.enricher.held = true;
    const batch = fakeBatch(newsValues(2));
    const run = h.handle(batch);
    await wait(() => expect(h.enricher.calls).toHaveLength(1));
    batch.stale = true;
    h.enricher.calls[0]!.gate.resolve();
    await run;
    expect(h.ledger.enrichedAcked.size).toBe(2);
    expect(h.ledger.commits).toEqual([]);
    expect(h.processor.counters.abandonedBatches).toBe(1);
  });

  it('when the processor is aborted between acknowledged outputs and the commit (a crash there)', async () => {
    let abort = (): void => {};
    const h = harness({ beforeCommit: () => abort() });
    abort = () => h.processor.abort();
    await h.handle(fakeBatch(newsValues(2)));
    expect(h.ledger.enrichedAcked.size).toBe(2);
    expect(h.ledger.commits).toEqual([]);
    expect(h.processor.counters.abandonedBatches).toBe(1);
    await h.handle(fakeBatch(newsValues(2), 102));
    expect(h.ledger.commits).toEqual([]); // aborted: later batches are not even started
  });

  it('when the group coordinator refuses the commit for a new generation', async () => {
    const h = harness();
    h.delivery.hold = (what) => {
      if ('commit' in what) throw Object.assign(new Error('rebalance'), { type: 'REBALANCE_IN_PROGRESS' });
    };
    await h.handle(fakeBatch(newsValues(2)));
    expect(h.ledger.commits).toEqual([]);
    expect(h.processor.counters).toMatchObject({ abandonedBatches: 1, retries: 0, committedBatches: 0 });
  });

  it('retries a failing commit until it succeeds', async () => {
    const h = harness();
    let failures = 2;
    h.delivery.hold = (what) => {
      if ('commit' in what && failures-- > 0) throw new Error('coordinator not available');
    };
    await h.handle(fakeBatch(newsValues(2)));
    expect(h.ledger.commits).toEqual(['101']);
    expect(h.processor.counters).toMatchObject({ retries: 2, committedBatches: 1, abandonedBatches: 0 });
  });
});
