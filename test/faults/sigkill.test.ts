// Fault 1 (issue #8): SIGKILL the processor (`finsentry run`, a real child process with real ONNX
// inference on synthesized models) three times while a 50,000-record stream arrives, restarting it
// each time. Nothing is flushed or committed on SIGKILL, so every restart re-reads from the last
// commit: outputs may be duplicated, none may be lost, and the Redis windows must equal a clean
// single pass exactly (the window store skips what it already applied, by offset).
import { describe, expect, it } from 'vitest';
import { commitAllAndStop, expectWindowsMatch, faultFixture } from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import type { ProcessorProcess } from '../helpers/processor-process.js';
import { waitFor } from '../helpers/stack.js';

const TOTAL = 50_000;
/** Kills happen once this many input records are committed: early, middle and late in the stream. */
const KILL_AT = [8_000, 20_000, 32_000];

const fx = faultFixture({ dir: 'kill', name: 'kill' });

describe('fault: SIGKILL of the processor', () => {
  it('three SIGKILLs during a 50,000-record stream lose nothing and count every document once', async () => {
    const { path: configPath, config } = fx.writeConfig();
    const progress = fx.progress();
    const traffic = fx.traffic({ prefix: 'kill', seed: 11, stepMs: 100, corruptEvery: 500, lateEvery: 211 });
    const start = (): ProcessorProcess => fx.start(configPath, `processor-${fx.processors.length + 1}`);
    const recovery: number[] = [];
    try {
      // The stream is produced faster than one processor on 2 cores consumes it, so each kill
      // finds records fetched, in flight and uncommitted.
      const streaming = traffic.stream(TOTAL, 2_000);
      let current = start();
      for (const threshold of KILL_AT) {
        await waitFor(async () => (await progress.committed()) >= threshold, 300_000, 250);
        const exit = await current.kill();
        expect(exit.signal).toBe('SIGKILL');
        const killedAt = Date.now();
        const committedAtKill = await progress.committed();
        current = start();
        // Recovery: from the kill until the restarted processor commits beyond the old commit point
        // (includes process start, model load, the group's session timeout for the dead member).
        await waitFor(async () => (await progress.committed()) > committedAtKill, 300_000, 250);
        recovery.push((Date.now() - killedAt) / 1000);
      }
      await streaming;
      await commitAllAndStop(progress, [current], 600_000);
    } finally {
      await traffic.close();
      await progress.close();
    }

    const outcome = await fx.outcome(traffic, config);
    const { report, windows } = outcome;
    printFigures({
      fault: '1 SIGKILL x3',
      report,
      recoverySeconds: recovery,
      extra: {
        sent: traffic.sent,
        windowHashes: windows.hashes,
        windowFields: windows.fields,
        windowDocuments: windows.documents,
      },
    });

    expect(report.inputs).toBeGreaterThanOrEqual(TOTAL);
    expect(ledgerProblems(report)).toEqual([]);
    expect(report.dlqInputs).toBe(traffic.corrupt.size);
    expectWindowsMatch(outcome);
    expect(fx.processors).toHaveLength(KILL_AT.length + 1);
  });
});
