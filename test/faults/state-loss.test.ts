// Faults on the window store's effectively-once state (issue 14), against `finsentry run` on real Kafka
// and Redis (shared stack: the test only touches its own topics, group and key prefix):
//   1. every partition's state hash deleted, then the whole input replayed (group reset to the start).
//      Before: counts doubled (10 → 20). Now: the lost offset is rebuilt from the counters (each counter
//      hash carries the offset that last wrote it), the replay changes nothing, the event is reported.
//   2. the input topic deleted and recreated (offsets restart at 0), new records written.
//      Before: the new records were enriched but counted 0 ("already applied"). Now: the stored record
//      fingerprints do not match, the partition is counted afresh, the event is reported.
// Figures printed: inputs, enriched, windows before/after, double counts, skipped, events, peak RSS.
import type { Admin } from 'kafkajs';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { encodeNews, news, produce } from '../helpers/avro-producer.js';
import {
  commitAllAndStop,
  expectWindowsMatch,
  faultFixture,
  type FaultFixture,
} from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import type { ProcessorProcess } from '../helpers/processor-process.js';
import { createTopic, deleteTopics, waitFor } from '../helpers/stack.js';
import { windowState } from '../helpers/window-check.js';

const PER_RUN = 200;

/** Documents counted in the `_all` dimension over every bucket and partition of a key prefix. */
async function windowDocuments(redis: Redis, prefix: string): Promise<number> {
  let n = 0;
  for (const [key, hash] of await windowState(redis, prefix))
    if (/:c:\d+:_all$/.test(key))
      for (const [field, value] of Object.entries(hash)) if (field.endsWith('|n')) n += Number(value);
  return n;
}

/** The processor's reconciliation warnings, by reason. */
function stateEvents(processor: ProcessorProcess): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of processor.output.split('\n')) {
    if (
      !line.includes('window-store state') &&
      !line.includes('offsets reused') &&
      !line.includes('cannot verify')
    )
      continue;
    const reason = /"reason":"([a-z-]+)"/.exec(line)?.[1];
    if (reason) out[reason] = (out[reason] ?? 0) + 1;
  }
  return out;
}

/** Samples the child's RSS until stopped; returns the peak in MiB. */
function rssSampler(processor: ProcessorProcess): { stop: () => number } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, processor.rssBytes() ?? 0)), 200);
  return { stop: () => (clearInterval(timer), Math.round(peak / 2 ** 20)) };
}

async function sendNews(fx: FaultFixture, tag: string, n: number): Promise<void> {
  const messages = Array.from({ length: n }, (_, i) => {
    const id = `${tag}-${i}`;
    return { key: id, value: encodeNews(news(id, { published_at: Date.now() - 60_000 })) };
  });
  await produce(fx.kafka, fx.topics.news, messages);
}

async function withAdmin<T>(fx: FaultFixture, call: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = fx.kafka.admin();
  await admin.connect();
  try {
    return await call(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Runs one processor until every input record is committed, then stops it (exit 0). */
async function runToCommit(
  fx: FaultFixture,
  configPath: string,
  name: string,
): Promise<{ processor: ProcessorProcess; seconds: number; peakMiB: number }> {
  const progress = fx.progress();
  const processor = fx.start(configPath, name);
  const rss = rssSampler(processor);
  const started = Date.now();
  try {
    await commitAllAndStop(progress, [processor], 300_000);
  } finally {
    await processor.ensureStopped();
    await progress.close();
  }
  return { processor, seconds: (Date.now() - started) / 1000, peakMiB: rss.stop() };
}

describe('fault: window-store state hash lost, then the input replayed', () => {
  const fx = faultFixture({ dir: 'state-lost', name: 'statelost' });

  it('rebuilds the offset from the counters and reports it: the replay counts nothing twice', async () => {
    const { path: configPath, config } = fx.writeConfig();
    await sendNews(fx, 'sl', PER_RUN);
    await runToCommit(fx, configPath, 'first');
    const before = await windowDocuments(fx.redis, fx.keyPrefix);

    const states = (await fx.redis.keys(`${fx.keyPrefix}:s:*:state`)).sort();
    await fx.redis.del(...states);
    await withAdmin(fx, (admin) =>
      admin.resetOffsets({ groupId: fx.groupId, topic: fx.topics.news, earliest: true }),
    );

    const replay = await runToCommit(fx, configPath, 'replay');
    const after = await windowDocuments(fx.redis, fx.keyPrefix);
    const events = stateEvents(replay.processor);

    const ledger = await fx.collectLedger();
    const report = ledger.report(() => 'enriched');
    const outcome = await fx.checkWindows(ledger, config);
    printFigures({
      fault: 'window-store state hashes deleted, input replayed from offset 0',
      report,
      recoverySeconds: [replay.seconds],
      extra: {
        statesDeleted: states.length,
        windowDocumentsBefore: before,
        windowDocumentsAfter: after,
        doubleCounts: after - before,
        events,
        peakRssMiB: replay.peakMiB,
      },
    });
    expect(ledgerProblems(report)).toEqual([]);
    expect(states.length).toBeGreaterThan(0);
    expect(before).toBe(PER_RUN);
    expect(after).toBe(before);
    expect(events['state-rebuilt']).toBe(states.length);
    expectWindowsMatch(outcome);
  });
});

describe('fault: input topic deleted and recreated (offsets restart at 0)', () => {
  const fx = faultFixture({ dir: 'topic-reuse', name: 'topicreuse' });

  it('detects the reused offsets and counts the new records, reported', async () => {
    const { path: configPath } = fx.writeConfig();
    await sendNews(fx, 'old', PER_RUN);
    await runToCommit(fx, configPath, 'first');
    const before = await windowDocuments(fx.redis, fx.keyPrefix);

    await deleteTopics([fx.topics.news]);
    await waitFor(
      async () => !(await withAdmin(fx, (a) => a.listTopics())).includes(fx.topics.news),
      60_000,
      250,
    );
    // Deletion is asynchronous on the broker: creating again may be refused until it completes.
    await waitFor(() => createTopic(fx.topics.news, 4).then(() => true), 60_000, 500);
    const committedAfterRecreate = await withAdmin(fx, (a) =>
      a.fetchOffsets({ groupId: fx.groupId, topics: [fx.topics.news] }),
    );
    await sendNews(fx, 'new', PER_RUN);

    const rerun = await runToCommit(fx, configPath, 'after-recreate');
    const after = await windowDocuments(fx.redis, fx.keyPrefix);
    const events = stateEvents(rerun.processor);
    const counted = after - before;
    console.log(
      `FAULT topic recreated: inputs=${PER_RUN} old + ${PER_RUN} new; windows ${before} → ${after} ` +
        `(new counted ${counted}, skipped ${PER_RUN - counted}); events ${JSON.stringify(events)}; ` +
        `committed after recreate ${JSON.stringify(committedAfterRecreate[0]?.partitions.map((p) => p.offset))}; ` +
        `time to commit ${rerun.seconds.toFixed(1)}s; peak RSS ${rerun.peakMiB} MiB`,
    );
    expect(before).toBe(PER_RUN);
    expect(counted).toBe(PER_RUN);
    expect(events['offset-reuse']).toBeGreaterThan(0);
  });
});
