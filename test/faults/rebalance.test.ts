// Fault 4 (issue #8): consumer-group rebalances mid-stream with real `finsentry run` processes — a
// second and a third member join while the first consumes, then the first leaves (SIGTERM). Each
// change moves partitions while batches are in flight; a batch whose partition was revoked is given
// up uncommitted and re-read by the new owner. Nothing may be lost and every document is counted
// once in the windows however often it was delivered.
import { describe, expect, it } from 'vitest';
import {
  commitAllAndStop,
  expectCleanStop,
  expectWindowsMatch,
  faultFixture,
} from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import { waitFor } from '../helpers/stack.js';

const TOTAL = 20_000;

const fx = faultFixture({ dir: 'rebalance', name: 'rebal' });

describe('fault: consumer-group rebalances', () => {
  it('a second and a third member joining and the first leaving mid-stream lose nothing', async () => {
    const { path: configPath, config } = fx.writeConfig();
    const progress = fx.progress();
    const traffic = fx.traffic({ prefix: 'reb', seed: 44, stepMs: 120, corruptEvery: 400, lateEvery: 173 });
    const members = fx.processors;
    const recovery: number[] = [];
    /** From a membership change until the group commits beyond where it stood once the change took effect. */
    const recovered = async (changedAt: number, changed: () => boolean): Promise<void> => {
      await waitFor(changed, 180_000, 100);
      const at = await progress.committed();
      await waitFor(async () => (await progress.committed()) > at, 180_000, 250);
      recovery.push((Date.now() - changedAt) / 1000);
    };
    try {
      const streaming = traffic.stream(TOTAL, 450);
      const a = fx.start(configPath, 'member-a');
      await waitFor(async () => (await progress.committed()) >= 3_000, 300_000, 250);

      const b = fx.start(configPath, 'member-b');
      await recovered(Date.now(), () => b.joined);
      const c = fx.start(configPath, 'member-c');
      await recovered(Date.now(), () => c.joined);

      const leftAt = Date.now();
      await expectCleanStop(a);
      await recovered(leftAt, () => true);

      await streaming;
      await commitAllAndStop(progress, members, 300_000, [b, c]);
    } finally {
      await traffic.close();
      await progress.close();
    }

    const outcome = await fx.outcome(traffic, config);
    const { report, windows } = outcome;
    const perMember = Object.fromEntries(members.map((m) => [m.name, m.finalCounters()?.enriched ?? null]));
    printFigures({
      fault: '4 rebalances (b joins, c joins, a leaves)',
      report,
      recoverySeconds: recovery,
      extra: {
        enrichedPerMember: perMember,
        windowHashes: windows.hashes,
        windowDocuments: windows.documents,
      },
    });
    expect(ledgerProblems(report)).toEqual([]);
    expect(report.inputs).toBeGreaterThanOrEqual(TOTAL);
    expect(report.dlqInputs).toBe(traffic.corrupt.size);
    // Every member did work: the partitions really moved.
    for (const m of members) expect(m.finalCounters()?.enriched ?? 0, m.name).toBeGreaterThan(0);
    expectWindowsMatch(outcome);
  });
});
