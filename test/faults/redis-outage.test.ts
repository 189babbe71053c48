// Fault 2 (issue #8): Redis stopped for 20 s mid-stream, then started again. The processor must keep
// running, pause, commit nothing whose statistics are not stored, retry with backoff and resume
// without loss once Redis is back. Redis here is a private server from scripts/stack/stack.sh (free
// port, append-only file so it keeps its data across the restart, as a production Redis with
// persistence does); stopping the shared Redis would break other tests running at the same time.
import { describe, expect, it } from 'vitest';
import {
  commitAllAndStop,
  expectRunning,
  expectWindowsMatch,
  faultFixture,
} from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import { waitFor } from '../helpers/stack.js';

const TOTAL = 12_000;
const OUTAGE_MS = 20_000;
/** In-flight calls that Redis answered just before it stopped may still commit right after. */
const SETTLE_MS = 3_000;

const fx = faultFixture({ dir: 'redis', name: 'redisout', privateStack: ['redis'] });

describe('fault: Redis outage', () => {
  it('Redis stopped for 20 s mid-stream: the processor pauses without committing, then resumes without loss', async () => {
    const { path: configPath, config } = fx.writeConfig();
    const progress = fx.progress();
    // Only `written()` is used: the high watermarks of the enriched topic (records produced).
    const outputs = fx.progress([fx.topics.enriched]);
    const traffic = fx.traffic({ prefix: 'rdo', seed: 22, stepMs: 200, corruptEvery: 400, lateEvery: 97 });
    const processor = fx.start(configPath);
    const figures = { recoverySeconds: 0, committedDuringOutage: 0, outputsDuringOutage: 0 };
    try {
      // Input keeps arriving through the outage (Kafka is fine), paced so the stream spans it.
      const streaming = traffic.stream(TOTAL, 400);
      await waitFor(async () => (await progress.committed()) >= 3_000, 300_000, 250);

      await fx.stack.down('redis');
      const stoppedAt = Date.now();
      await waitFor(
        () => processor.output.includes('dependency failed; partition paused, retrying'),
        OUTAGE_MS,
        100,
      );
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const committedAfterSettle = await progress.committed();
      const enrichedAfterSettle = await outputs.written();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + OUTAGE_MS - Date.now())));
      figures.committedDuringOutage = (await progress.committed()) - committedAfterSettle;
      // Chunks already enriched may still be produced (bounded by the in-flight window); they are
      // committed only once their statistics are stored.
      figures.outputsDuringOutage = (await outputs.written()) - enrichedAfterSettle;
      expectRunning(processor);
      // Offsets are committed only after the statistics are stored: none while Redis is down.
      expect(figures.committedDuringOutage, 'input records committed while Redis was down').toBe(0);

      const committedBefore = await progress.committed();
      await fx.stack.up('redis');
      const restartedAt = Date.now();
      await waitFor(async () => (await progress.committed()) > committedBefore, 120_000, 250);
      figures.recoverySeconds = (Date.now() - restartedAt) / 1000;

      await streaming;
      await commitAllAndStop(progress, [processor], 300_000);
    } finally {
      await processor.ensureStopped();
      await traffic.close();
      await progress.close();
      await outputs.close();
    }

    const outcome = await fx.outcome(traffic, config);
    const { report, windows } = outcome;
    printFigures({
      fault: '2 Redis stopped 20s',
      report,
      recoverySeconds: [figures.recoverySeconds],
      extra: {
        committedDuringOutage: figures.committedDuringOutage,
        outputsDuringOutage: figures.outputsDuringOutage,
        windowHashes: windows.hashes,
        windowDocuments: windows.documents,
      },
    });
    expect(ledgerProblems(report)).toEqual([]);
    expect(report.inputs).toBeGreaterThanOrEqual(TOTAL);
    expect(report.dlqInputs).toBe(traffic.corrupt.size);
    expectWindowsMatch(outcome);
  });
});
