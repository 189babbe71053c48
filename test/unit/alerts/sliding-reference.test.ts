import { describe, expect, it } from 'vitest';
import { slidingReference } from '../../../src/alerts/sliding-reference.js';
import { SENTIMENT_LABELS } from '../../../src/domain/enrichment.js';
import type { StatsObservation } from '../../../src/domain/observation.js';
import type { WindowReader } from '../../../src/domain/windows.js';
import { MemoryWindowStore } from '../../../src/stats/windows/memory-store.js';
import { rng } from '../../helpers/fault-traffic.js';

/**
 * The running 24 h reference of rules with their own referenceWindow (src/alerts/sliding-reference.ts)
 * equals a fresh read of the same window at every step: issuers that come and go (Zipf-skewed),
 * labels with confusion counts, polarity sums, steps of one and several buckets, a jump back.
 */

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 0, 0, 0);

function traffic(seed: number, minutes: number): StatsObservation[] {
  const rand = rng(seed);
  const out: StatsObservation[] = [];
  for (let m = 0; m < minutes; m++)
    for (let k = 0; k < 12; k++) {
      const issuer = `i${Math.floor(1 / (0.02 + rand()))}`; // skewed: i1 common, i40 rare
      const pNeg = rand();
      out.push({
        documentId: `d${m}-${k}`,
        offset: String(out.length + 1),
        eventTimeMs: T0 + m * MINUTE + Math.floor(rand() * MINUTE),
        groups: [{ dimension: 'issuer', value: issuer }],
        label: SENTIMENT_LABELS[Math.floor(rand() * 3)]!,
        pNeg,
        pPos: (1 - pNeg) / 2,
        polarity: (1 - pNeg) / 2 - pNeg,
        confidence: rand(),
        tokens: Math.floor(rand() * 300),
        unknownTokens: 0,
        truncated: false,
        entityTypes: rand() < 0.3 ? { ORG: 1 } : {},
      });
    }
  return out;
}

describe('sliding reference', () => {
  it('equals a fresh read of the trailing window at every step', async () => {
    const store = new MemoryWindowStore({
      bucketMs: MINUTE,
      allowedLatenessMs: 5 * MINUTE,
      ttlSeconds: 86_400,
      dimensions: ['issuer'],
      expiry: 'event',
    });
    const observations = traffic(3, 240);
    await store.apply([
      { partitionKey: 'news.raw:0', lastOffset: String(observations.length), observations, labels: [] },
    ]);
    const reads: number[] = [];
    const counting: WindowReader = {
      watermark: () => store.watermark(),
      readSeries: (q) => store.readSeries(q),
      lateCount: () => store.lateCount(),
      readWindow: (q) => {
        reads.push(q.windowMs);
        return store.readWindow(q);
      },
    };
    const referenceMs = 60 * MINUTE;
    const sliding = slidingReference(counting, referenceMs, 1000);
    const ends = [70, 71, 72, 75, 75, 76, 90, 91, 100, 130, 131, 200, 150, 151, 239].map(
      (m) => T0 + m * MINUTE,
    );
    for (const end of ends) {
      const fresh = await store.readWindow({
        dimension: 'issuer',
        windowMs: referenceMs,
        endMs: end - 5 * MINUTE,
      });
      expect(fresh.length).toBeGreaterThan(10);
      expect(await sliding.read('issuer', 5 * MINUTE, end)).toEqual(fresh);
    }
    // Read whole only at the start, after jumps of more than 15 minutes and going back (5 times);
    // steps of one bucket read two one-bucket windows, not the whole hour again.
    expect(reads.filter((w) => w === referenceMs).length).toBe(5);
    expect(reads.filter((w) => w === MINUTE).length).toBeGreaterThan(6);
  });
});
