import { describe, expect, it } from 'vitest';
import type { StatsObservation } from '../../../src/domain/observation.js';
import {
  MemoryStoryRegistry,
  nearestStory,
  withRegistryStoryIds,
  type StoryRequest,
} from '../../../src/stats/shared-stories.js';
import { storyFingerprint } from '../../../src/stats/story.js';

const MINUTE = 60_000;
const OPTIONS = { windowMs: 30 * MINUTE, maxHammingDistance: 7, ttlMs: 35 * MINUTE };
const LONG =
  'Northwind Energy said on Tuesday that output at its northern refinery fell by a third after a fire shut two units, that repairs would take until March, that it had cut its full-year guidance for refined volumes and margins, and that insurers had been notified of the damage to the plant.';

const request = (documentId: string, text: string, eventTimeMs: number): StoryRequest => ({
  documentId,
  fingerprint: storyFingerprint(text),
  eventTimeMs,
});

describe('MemoryStoryRegistry', () => {
  it('joins exact and near copies within the event-time window, before or after the first', async () => {
    const registry = new MemoryStoryRegistry(OPTIONS, () => 0);
    const ids = await registry.resolve([
      request('a', LONG, 10 * MINUTE),
      request('b', LONG.toUpperCase(), 39 * MINUTE),
      request('c', LONG.replace('fire', 'blaze'), 0),
      request('d', LONG, 40 * MINUTE),
      request('e', 'Short line', 10 * MINUTE),
      request('f', 'short line!', 11 * MINUTE),
      request('g', 'Short line two', 11 * MINUTE),
    ]);
    expect(ids).toEqual(['a', 'a', 'a', 'd', 'e', 'e', 'g']);
  });

  it('forgets entries after ttlMs of store time, whatever their event time', async () => {
    let now = 0;
    const registry = new MemoryStoryRegistry(OPTIONS, () => now);
    expect(await registry.resolve([request('a', LONG, 0)])).toEqual(['a']);
    now = OPTIONS.ttlMs - 1;
    expect(await registry.resolve([request('b', LONG, 0)])).toEqual(['a']);
    now = OPTIONS.ttlMs;
    expect(await registry.resolve([request('c', LONG, 0)])).toEqual(['c']);
  });

  it('takes the nearest story, then the earlier, then the smaller id', () => {
    const base = storyFingerprint(LONG).simHash!;
    const flip = (bits: number): [number, number] => [base[0], (base[1] ^ ((1 << bits) - 1)) >>> 0];
    const r = { documentId: 'x', fingerprint: { digest: 'd', simHash: base }, eventTimeMs: 0 };
    const entries = [
      { id: 'far', firstSeenMs: 0, simHash: flip(3) },
      { id: 'z-near', firstSeenMs: 0, simHash: flip(1) },
      { id: 'y-near', firstSeenMs: 0, simHash: flip(1) },
      { id: 'late-near', firstSeenMs: 1, simHash: flip(1) },
      { id: 'out-of-window', firstSeenMs: OPTIONS.windowMs, simHash: base },
      { id: 'too-far', firstSeenMs: 0, simHash: flip(8) },
    ];
    expect(nearestStory(entries, r, OPTIONS)?.id).toBe('y-near');
    expect(nearestStory(entries.slice(5), r, OPTIONS)).toBeNull();
  });
});

describe('withRegistryStoryIds', () => {
  const observation = (documentId: string, text: string | null): StatsObservation => ({
    documentId,
    eventTimeMs: 0,
    groups: [{ dimension: 'ticker', value: 'NWE' }],
    ...(text === null ? {} : { storyId: documentId, storyFingerprint: storyFingerprint(text) }),
    label: 'negative',
    pNeg: 0.9,
    pPos: 0.05,
    polarity: -0.85,
    confidence: 0.9,
    tokens: 40,
    unknownTokens: 0,
    truncated: false,
    entityTypes: {},
  });

  it("gives fingerprinted observations the registry's ids in order, leaves the rest and the caller's objects alone", async () => {
    const observations = [
      observation('a', LONG),
      observation('chat', null),
      observation('b', LONG.toUpperCase()),
    ];
    const resolved = await withRegistryStoryIds(observations, new MemoryStoryRegistry(OPTIONS, () => 0));
    expect(resolved.map((o) => o.storyId)).toEqual(['a', undefined, 'a']);
    expect(resolved[1]).toBe(observations[1]);
    expect(observations[2]!.storyId).toBe('b');
  });
});
