import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../src/alerts/default-rules.js';
import {
  PAST_WINDOWS,
  pastWindowEnds,
  pastWindowsNeeded,
  PastWindowsSource,
} from '../../../src/alerts/past-windows.js';
import type { GroupWindowStats, WindowQuery } from '../../../src/domain/windows.js';
import { emptyGroupStats } from '../../../src/stats/counters.js';
import { FOLDED_GROUP } from '../../../src/stats/windows/group-budget.js';

const MINUTE = 60_000;
const T = Date.UTC(2026, 0, 5, 12, 0);

/** A window reader that answers each query with a group named after the window's end, and the fold. */
function countingReader() {
  const queries: WindowQuery[] = [];
  return {
    queries,
    readWindow: async (q: WindowQuery): Promise<GroupWindowStats[]> => {
      queries.push(q);
      return [emptyGroupStats(q.dimension, `end-${q.endMs}`), emptyGroupStats(q.dimension, FOLDED_GROUP)];
    },
  };
}

describe('past windows (the surge rule baseline dispersion)', () => {
  it('ends on a grid of the window length, at or before the current window start, most recent first', () => {
    const ends = pastWindowEnds(T + 7 * MINUTE, 5 * MINUTE);
    expect(ends).toHaveLength(PAST_WINDOWS);
    expect(ends[0]).toBe(T); // the current window is [12:02, 12:07)
    expect(ends[11]).toBe(T - 55 * MINUTE);
    expect(pastWindowEnds(T + 5 * MINUTE, 5 * MINUTE)[0]).toBe(T); // [12:00, 12:05): its start
    expect(pastWindowEnds(12 * MINUTE, 5 * MINUTE)).toEqual([5 * MINUTE]); // nothing before the epoch
  });

  it('reads each past window once, keeps what is still needed, drops the fold', async () => {
    const reader = countingReader();
    const source = new PastWindowsSource(reader);
    const first = await source.read('issuer', 5 * MINUTE, T + 7 * MINUTE);
    expect(first.map((w) => w.map((g) => g.group))).toEqual(
      pastWindowEnds(T + 7 * MINUTE, 5 * MINUTE).map((end) => [`end-${end}`]),
    );
    expect(reader.queries).toHaveLength(PAST_WINDOWS);
    expect(reader.queries.every((q) => q.dimension === 'issuer' && q.windowMs === 5 * MINUTE)).toBe(true);
    await source.read('issuer', 5 * MINUTE, T + 8 * MINUTE); // same grid: nothing new
    expect(reader.queries).toHaveLength(PAST_WINDOWS);
    const later = await source.read('issuer', 5 * MINUTE, T + 10 * MINUTE); // one window more
    expect(reader.queries).toHaveLength(PAST_WINDOWS + 1);
    expect(reader.queries.at(-1)!.endMs).toBe(T + 5 * MINUTE);
    expect(later[0]![0]!.group).toBe(`end-${T + 5 * MINUTE}`);
    await source.read('region', 5 * MINUTE, T + 10 * MINUTE); // another dimension: its own reads
    expect(reader.queries).toHaveLength(2 * PAST_WINDOWS + 1);
  });

  it('only the surge rule needs them', () => {
    const needed = pastWindowsNeeded(defaultAlertRules());
    expect(needed).toEqual([{ key: `issuer|${5 * MINUTE}`, dimension: 'issuer', windowMs: 5 * MINUTE }]);
  });
});
