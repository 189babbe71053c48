// The window-store state reconciliation rules (src/domain/partition-state.ts): lost state rebuilt from
// the counters or resumed at the committed offset, a recreated topic detected by record fingerprints,
// an unverifiable replay reported.
import { describe, expect, it } from 'vitest';
import {
  decidePartitionState,
  recordFingerprint,
  type StateFacts,
  type StoredPartitionState,
} from '../../../src/domain/partition-state.js';

const rec = (offset: number, text = `doc-${offset}`) => ({
  offset: String(offset),
  timestamp: String(1_700_000_000_000 + offset),
  key: Buffer.from(`k${offset}`),
  value: Buffer.from(text),
});
const range = (from: number, to: number, tag = '') =>
  Array.from({ length: to - from + 1 }, (_, i) => rec(from + i, `doc-${from + i}${tag}`));
const NONE: StoredPartitionState = { exists: false, offset: null, fingerprint: null, first: null };

function facts(
  stored: StoredPartitionState,
  records: ReturnType<typeof range>,
  over: { counted?: string | null; committed?: string | null; hw?: string } = {},
): StateFacts & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    stored,
    records,
    highWatermark: over.hw ?? String(Number(records[records.length - 1]!.offset) + 1),
    countedState: () => (
      asked.push('counted'),
      Promise.resolve(over.counted ? { offset: over.counted, watermarkMs: '1700000000041' } : null)
    ),
    committedOffset: () => (asked.push('committed'), Promise.resolve(over.committed ?? null)),
  };
}

const stateAt = (
  offset: number,
  records: ReturnType<typeof range>,
  first = records[0]!,
): StoredPartitionState => {
  const at = records.find((r) => r.offset === String(offset));
  return {
    exists: true,
    offset: String(offset),
    fingerprint: at ? recordFingerprint(at) : 'ffffffffffffffff',
    first: { offset: first.offset, fingerprint: recordFingerprint(first) },
  };
};

describe('partition state reconciliation', () => {
  it('creates the state of a partition never seen, with the first record as marker', async () => {
    const f = facts(NONE, range(0, 9));
    expect(await decidePartitionState(f)).toEqual({
      action: 'init',
      first: { offset: '0', fingerprint: recordFingerprint(rec(0)) },
    });
  });

  it('rebuilds a lost offset from the counters, without asking Kafka', async () => {
    const f = facts(NONE, range(0, 9), { counted: '41', committed: '30' });
    const d = await decidePartitionState(f);
    expect(d).toMatchObject({
      action: 'reseed',
      offset: '41',
      watermarkMs: '1700000000041',
      reason: 'state-rebuilt',
    });
    expect(f.asked).toEqual(['counted']);
  });

  it('resumes at the committed offset when no counter survived', async () => {
    expect(await decidePartitionState(facts(NONE, range(30, 39), { committed: '30' }))).toMatchObject({
      action: 'reseed',
      offset: '29',
      reason: 'state-lost',
    });
    expect(await decidePartitionState(facts(NONE, range(0, 9), { committed: '0' }))).toMatchObject({
      action: 'reseed',
      offset: null,
      reason: 'state-lost',
    });
  });

  it('detects a recreated topic: stored offset past the log end, or a marker record that changed', async () => {
    const old = range(0, 49);
    const reborn = range(0, 19, '-new');
    expect(await decidePartitionState(facts(stateAt(49, old), reborn))).toMatchObject({
      action: 'reseed',
      offset: null,
      reason: 'offset-reuse',
    });
    const longer = range(0, 59, '-new');
    expect(await decidePartitionState(facts(stateAt(49, old), longer))).toMatchObject({
      action: 'reseed',
      reason: 'offset-reuse',
    });
    // Only the first-record marker in the batch (the batch ends before the stored offset).
    expect(
      await decidePartitionState(facts(stateAt(49, old), range(0, 9, '-new'), { hw: '80' })),
    ).toMatchObject({ action: 'reseed', reason: 'offset-reuse' });
  });

  it('keeps the state of a replay of the same log', async () => {
    const log = range(0, 49);
    expect(await decidePartitionState(facts(stateAt(49, log), log))).toEqual({ action: 'keep' });
    expect(await decidePartitionState(facts(stateAt(45, log), range(30, 49)))).toEqual({ action: 'keep' });
  });

  it('reports a replay it cannot verify when the group has no committed offset', async () => {
    const log = range(0, 199);
    const state = stateAt(150, log);
    const batch = range(60, 99);
    expect(await decidePartitionState(facts(state, batch, { hw: '200' }))).toMatchObject({
      action: 'report',
      reason: 'offset-unverified',
    });
    expect(await decidePartitionState(facts(state, batch, { hw: '200', committed: '60' }))).toEqual({
      action: 'keep',
    });
  });

  it('fingerprints differ when timestamp, key or value differ', () => {
    const base = rec(5);
    const fps = new Set(
      [base, { ...base, timestamp: '1' }, { ...base, key: null }, { ...base, value: Buffer.from('x') }].map(
        recordFingerprint,
      ),
    );
    expect(fps.size).toBe(4);
  });
});
