// Fault 3 (issue #8): the Kafka broker restarted mid-stream — once gracefully (SIGTERM, controlled
// shutdown, down for a few seconds) and once crashed (SIGKILL) — while `finsentry run` consumes and
// traffic keeps being produced. The processor must reconnect and resume on its own (no exit), lose
// nothing, and the windows must equal a clean single pass. The broker is a private one started by
// scripts/stack/stack.sh on free ports: restarting the shared broker would break other tests.
import { describe, expect, it } from 'vitest';
import {
  commitAllAndStop,
  expectRunning,
  expectWindowsMatch,
  faultFixture,
} from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import { waitFor } from '../helpers/stack.js';

const TOTAL = 16_000;
/** How long the broker stays down in the graceful restart, beyond its shutdown and start-up. */
const DOWN_MS = 5_000;

const fx = faultFixture({ dir: 'broker', name: 'broker', privateStack: ['kafka'] });

describe('fault: Kafka broker restart', () => {
  it('a graceful and a crash restart of the broker mid-stream: the processor reconnects and loses nothing', async () => {
    const { stack } = fx;
    const { path: configPath, config } = fx.writeConfig();
    const progress = fx.progress();
    const traffic = fx.traffic({ prefix: 'brk', seed: 33, stepMs: 150, corruptEvery: 400, lateEvery: 131 });
    const processor = fx.start(configPath);
    const recovery: number[] = [];
    const disruption: number[] = [];
    const restart = async (how: 'graceful' | 'crash'): Promise<void> => {
      const faultAt = Date.now();
      if (how === 'graceful') {
        await stack.down('kafka');
        await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
      } else {
        await stack.crash('kafka');
      }
      await stack.up('kafka');
      const upAt = Date.now();
      const before = await waitFor(() => progress.committed(), 60_000, 250);
      // Recovery: from the broker answering again until the processor commits beyond that point.
      await waitFor(async () => (await progress.committed()) > before, 180_000, 250);
      recovery.push((Date.now() - upAt) / 1000);
      disruption.push((Date.now() - faultAt) / 1000);
      expectRunning(processor);
    };
    try {
      const streaming = traffic.stream(TOTAL, 500);
      await waitFor(async () => (await progress.committed()) >= 3_000, 300_000, 250);
      await restart('graceful');
      await waitFor(async () => (await progress.committed()) >= 9_000, 300_000, 250);
      await restart('crash');
      await streaming;
      await commitAllAndStop(progress, [processor], 300_000);
    } finally {
      await processor.ensureStopped();
      await traffic.close();
      await progress.close();
    }

    const outcome = await fx.outcome(traffic, config);
    const { ledger, report, windows } = outcome;
    printFigures({
      fault: '3 Kafka broker restarted (graceful, then SIGKILL)',
      report,
      recoverySeconds: recovery,
      extra: {
        sent: traffic.sent,
        secondsFromStopToCommitting: disruption,
        windowHashes: windows.hashes,
        windowDocuments: windows.documents,
      },
    });
    expect(ledgerProblems(report)).toEqual([]);
    // A send retried across the restart may have written a record twice: more inputs than sent ids.
    expect(report.inputIds).toBe(traffic.sent);
    expect(new Set([...ledger.dead.values()].flat().map((d) => d.key))).toEqual(traffic.corrupt);
    expectWindowsMatch(outcome);
  });
});
