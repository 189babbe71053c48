// Fault 5 (issue #8): 10× overload for 60 s. Redis — a private one, so nobody else is slowed — is made
// a slow dependency: it is paused (CLIENT PAUSE ALL) for 970 ms of every second, so `finsentry run`
// can store statistics, and therefore commit, only a small fraction of what it could. The processor's
// capacity under that throttle is measured first; then input is produced at 10× that rate for 60 s
// with records padded (an extra header, which costs no inference time) so that the backlog grows
// beyond the processor's memory allowance. The throttle keeps the drain afterwards short: at full
// speed the processor is many times faster than under the throttle. The processor must keep that
// backlog in Kafka, not in memory: its peak RSS (VmRSS from /proc of the child) stays under the stated
// bound. Then the throttle is lifted, the backlog drains, and the ledger and the windows are checked
// as in every fault test.
//
// The bound is taken over a baseline pass at full speed with records of the overload's size: a
// processor consuming 20–40 KB records at full speed holds more (fetch responses, V8's young
// generation, GC slack) than a throttled one eating 1 KB records. Measured (stop 25): after the drain,
// three more full-speed passes of 6,000 such records sat at 380–410 MiB, the drain's own peak at
// 422, the throttled baseline at 313 — so a throttled baseline failed the bound with no backlog held.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  expectCleanStop,
  expectRunning,
  expectWindowsMatch,
  faultFixture,
} from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import { waitFor } from '../helpers/stack.js';

const OVERLOAD_FACTOR = 10;
const OVERLOAD_MS = 60_000;
const MEASURE_MS = 12_000;
const SLICE_MS = 5_000;
const MiB = 1024 * 1024;
/**
 * The stated bound: peak RSS at most this much above the peak RSS of a steady full-speed pass before
 * the overload (models loaded, records of the overload's size). The padding is sized so that the backlog the overload builds is
 * larger than this (checked), so a processor that buffered the backlog in memory would break it.
 */
const RSS_ALLOWANCE_BYTES = 128 * MiB;
/**
 * Backlog aimed for, as a multiple of the allowance: large enough that, buffered in memory, it would
 * lift the throttled processor (which holds less than the full-speed baseline) above the bound.
 */
const BACKLOG_TARGET = 3;
/** Records in the full-speed baseline pass (of the overload's first slice's size). */
const BASELINE_RECORDS = 6_000;
const SLICES = OVERLOAD_MS / SLICE_MS;
/** Padding that makes one slice at `rate` records per second carry its share of the backlog target. */
const paddingFor = (rate: number): number =>
  Math.min(
    256 * 1024,
    Math.max(1024, Math.round((BACKLOG_TARGET * RSS_ALLOWANCE_BYTES) / SLICES / (rate * (SLICE_MS / 1000)))),
  );

const fx = faultFixture({ dir: 'overload', name: 'overload', privateStack: ['redis'] });

/** Pauses every Redis client for `pauseMs` of each second until stopped. */
function throttleRedis(url: string, pauseMs: number): { stop: () => Promise<void> } {
  const admin = new Redis(url);
  let running = true;
  const loop = (async () => {
    while (running) {
      await admin.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await admin.call('CLIENT', 'UNPAUSE');
      admin.disconnect();
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('fault: 10x overload', () => {
  it('input at 10x the processing rate for 60 s: the backlog stays in Kafka, RSS stays bounded, nothing is lost', async () => {
    const { path: configPath, config } = fx.writeConfig({
      batching: { maxBatchSize: 16, maxInFlightBatches: 1, maxQueuedDocuments: 2048 },
    });
    const progress = fx.progress();
    const traffic = fx.traffic({
      prefix: 'ovl',
      seed: 55,
      stepMs: 50,
      corruptEvery: 1000,
      lateEvery: 307,
      headerPaddingBytes: 1024,
    });
    const processor = fx.start(configPath);
    const rss = { baseline: 0, overloadStart: 0, peakOverload: 0, peakDrain: 0 };
    const figures = {
      capacityPerSecond: 0,
      producedPerSecond: 0,
      consumedPerSecondDuringOverload: 0,
      backlogAtEnd: 0,
      recordBytes: 0,
      drainSeconds: 0,
      baselinePadding: 0,
    };
    let sampling = true;
    // An object, so that the sampler's closure sees the phase the test body sets.
    const state: { phase: 'baseline' | 'overload' | 'drain' | 'off' } = { phase: 'off' };
    const sampler = (async () => {
      while (sampling) {
        const bytes = processor.rssBytes() ?? 0;
        if (state.phase === 'baseline') rss.baseline = Math.max(rss.baseline, bytes);
        if (state.phase === 'overload') rss.peakOverload = Math.max(rss.peakOverload, bytes);
        if (state.phase === 'drain') rss.peakDrain = Math.max(rss.peakDrain, bytes);
        await sleep(200);
      }
    })();
    let throttle: { stop: () => Promise<void> } | null = null;
    try {
      // Warm-up: a backlog, consumed at full speed until the processor is in steady state.
      await traffic.send(2_000);
      await waitFor(async () => (await progress.committed()) >= 1_500, 300_000, 250);
      // Enough backlog that the throttled processor is never idle while its capacity is measured.
      await traffic.send(2_000);
      throttle = throttleRedis(fx.stack.redisUrl, 970);
      await sleep(3_000);
      const measureFrom = await progress.committed();
      await sleep(MEASURE_MS);
      figures.capacityPerSecond = ((await progress.committed()) - measureFrom) / (MEASURE_MS / 1000);
      expect(figures.capacityPerSecond, 'the throttled processor still makes progress').toBeGreaterThan(0);
      await throttle.stop();
      throttle = null;

      // Baseline: steady state at full speed with records of the size the overload starts with.
      traffic.padding = paddingFor(Math.max(20, Math.round(OVERLOAD_FACTOR * figures.capacityPerSecond)));
      figures.baselinePadding = traffic.padding;
      state.phase = 'baseline';
      await traffic.send(BASELINE_RECORDS);
      await progress.waitForAllCommitted([processor], 600_000);
      state.phase = 'off';
      throttle = throttleRedis(fx.stack.redisUrl, 970);
      await sleep(3_000);

      // The overload: 60 s in slices of 5 s, each produced at 10x the processing rate — the capacity
      // measured above, or the rate seen so far in the overload if that is higher (the throttled
      // rate is noisy), so that input really arrives about 10x faster than it is consumed. Records
      // are padded so that the backlog reaches about BACKLOG_TARGET times the memory allowance
      // whatever the rates turn out to be (bytes per slice fixed, padding = bytes / records).
      state.phase = 'overload';
      const sentBefore = traffic.sent;
      const bytesBefore = traffic.bytesSent;
      const committedBefore = await progress.committed();
      rss.overloadStart = processor.rssBytes() ?? 0;
      const overloadStart = Date.now();
      for (let slice = 1; slice <= SLICES; slice++) {
        const elapsedSeconds = (Date.now() - overloadStart) / 1000;
        const consumedSoFar =
          slice === 1 ? 0 : ((await progress.committed()) - committedBefore) / elapsedSeconds;
        const rate = Math.max(
          20,
          Math.round(OVERLOAD_FACTOR * Math.max(figures.capacityPerSecond, consumedSoFar)),
        );
        traffic.padding = paddingFor(rate);
        const sliceEnd = overloadStart + slice * SLICE_MS;
        await traffic.stream(
          Math.ceil((rate * (sliceEnd - Date.now())) / 1000),
          rate,
          () => Date.now() >= sliceEnd,
        );
      }
      const overloadSeconds = (Date.now() - overloadStart) / 1000;
      figures.producedPerSecond = (traffic.sent - sentBefore) / overloadSeconds;
      figures.consumedPerSecondDuringOverload =
        ((await progress.committed()) - committedBefore) / overloadSeconds;
      figures.backlogAtEnd = (await progress.written()) - (await progress.committed());
      figures.recordBytes = (traffic.bytesSent - bytesBefore) / (traffic.sent - sentBefore);
      expectRunning(processor);

      // Drain at full speed.
      state.phase = 'drain';
      await throttle.stop();
      throttle = null;
      const drainStart = Date.now();
      await progress.waitForAllCommitted([processor], 600_000);
      figures.drainSeconds = (Date.now() - drainStart) / 1000;
      state.phase = 'off';
      await expectCleanStop(processor);
    } finally {
      sampling = false;
      await sampler;
      await throttle?.stop();
      await processor.ensureStopped();
      await traffic.close();
      await progress.close();
    }

    const outcome = await fx.outcome(traffic, config);
    const { report, windows } = outcome;
    const backlogBytes = figures.backlogAtEnd * figures.recordBytes;
    const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
    printFigures({
      fault: '5 10x overload for 60s',
      report,
      recoverySeconds: [figures.drainSeconds],
      extra: {
        capacityPerSecondThrottled: Math.round(figures.capacityPerSecond),
        producedPerSecond: Math.round(figures.producedPerSecond),
        consumedPerSecondDuringOverload: Math.round(figures.consumedPerSecondDuringOverload),
        overloadFactor: Number(
          (figures.producedPerSecond / Math.max(1, figures.consumedPerSecondDuringOverload)).toFixed(1),
        ),
        backlogRecordsAtEnd: figures.backlogAtEnd,
        recordBytes: Math.round(figures.recordBytes),
        backlogAtEnd: mib(backlogBytes),
        rssBaseline: mib(rss.baseline),
        baselinePaddingBytes: figures.baselinePadding,
        rssOverloadStart: mib(rss.overloadStart),
        rssPeakOverload: mib(rss.peakOverload),
        rssPeakDrain: mib(rss.peakDrain),
        rssBound: mib(rss.baseline + RSS_ALLOWANCE_BYTES),
        windowHashes: windows.hashes,
      },
    });
    expect(ledgerProblems(report)).toEqual([]);
    expect(report.dlqInputs).toBe(traffic.corrupt.size);
    // The overload was real: a backlog larger than the memory allowance piled up in Kafka …
    expect(backlogBytes).toBeGreaterThan(RSS_ALLOWANCE_BYTES);
    expect(rss.overloadStart + backlogBytes).toBeGreaterThan(rss.baseline + RSS_ALLOWANCE_BYTES);
    // … and the processor's memory did not follow it.
    expect(rss.baseline).toBeGreaterThan(0);
    expect(rss.peakOverload).toBeLessThanOrEqual(rss.baseline + RSS_ALLOWANCE_BYTES);
    expect(rss.peakDrain).toBeLessThanOrEqual(rss.baseline + RSS_ALLOWANCE_BYTES);
    expectWindowsMatch(outcome);
  });
});
