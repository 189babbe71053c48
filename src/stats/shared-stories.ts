import type { StatsObservation, StoryFingerprint } from '../domain/observation.js';
import { hammingDistance } from './story.js';

/**
 * One story index for all replicas (docs/alerting.md "Surge", "Where the story index lives").
 * Republications of a story come from different outlets, so they land on different input partitions
 * and so on different replicas; a per-process StoryIndex gives each replica its own id for the story,
 * and the window store's claims then count it once per replica. The registry gives every copy the id
 * of the story's first document, whichever replica reads it, by the rules of the per-process index:
 *
 * - a document whose normalised text has the digest of a story first seen less than `windowMs` of
 *   event time away (before or after) belongs to it;
 * - else, a document with a SimHash belongs to the nearest story within `maxHammingDistance` bits
 *   first seen less than `windowMs` away (ties: the earlier first document, then the smaller id);
 * - else it starts a story with its own document id.
 *
 * Requests are resolved in order, so copies inside one call find each other. A replayed document
 * gets the id it got before while its story is remembered. Entries live `ttlMs` of store time (wall
 * clock), which bounds the index whatever event times hostile records carry.
 */
export interface StoryRequest {
  documentId: string;
  fingerprint: StoryFingerprint;
  eventTimeMs: number;
}

export interface StoryRegistry {
  /** The story id of each request, in request order. */
  resolve(requests: readonly StoryRequest[]): Promise<string[]>;
}

export interface StoryRegistryOptions {
  windowMs: number;
  maxHammingDistance: number;
  /** How long an entry is kept (store time): the story window plus the allowed lateness. */
  ttlMs: number;
}

/** A remembered story: its id (first document), first event time and SimHash. */
export interface StoryEntry {
  id: string;
  firstSeenMs: number;
  simHash: [number, number] | null;
}

/** The nearest story among candidates, by the registry's rules (null: none within reach). */
export function nearestStory(
  candidates: Iterable<StoryEntry>,
  request: StoryRequest,
  o: Pick<StoryRegistryOptions, 'windowMs' | 'maxHammingDistance'>,
): StoryEntry | null {
  const hash = request.fingerprint.simHash;
  if (!hash) return null;
  let best: StoryEntry | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (!c.simHash || Math.abs(request.eventTimeMs - c.firstSeenMs) >= o.windowMs) continue;
    const d = hammingDistance(c.simHash, hash);
    if (d > o.maxHammingDistance) continue;
    const better =
      d < bestDistance ||
      (d === bestDistance &&
        (c.firstSeenMs < best!.firstSeenMs || (c.firstSeenMs === best!.firstSeenMs && c.id < best!.id)));
    if (better) [best, bestDistance] = [c, d];
  }
  return best;
}

/**
 * The observations with the registry's story ids (new objects for fingerprinted ones, the others as
 * they are; same order). The pipeline calls it before it writes the enriched records, so the
 * record's `story_id`, the prediction index and the window store all see the id every replica
 * agrees on (src/pipeline/chunk-flow.ts). Resolving is idempotent: a retry gets the same ids.
 */
export async function withRegistryStoryIds(
  observations: readonly StatsObservation[],
  registry: StoryRegistry,
): Promise<StatsObservation[]> {
  const shared = (o: StatsObservation) => o.storyFingerprint !== undefined && Number.isFinite(o.eventTimeMs);
  const requests: StoryRequest[] = observations.filter(shared).map((o) => ({
    documentId: o.documentId,
    fingerprint: o.storyFingerprint!,
    eventTimeMs: o.eventTimeMs,
  }));
  if (requests.length === 0) return [...observations];
  const ids = await registry.resolve(requests);
  let next = 0;
  return observations.map((o) => (shared(o) ? { ...o, storyId: ids[next++]! } : o));
}

/**
 * The registry in one process's memory, by the same rules as the Redis one
 * (src/io/redis/story-registry.ts): for tests and the parity check against Redis. `nowMs` is the
 * store clock that ages entries out after `ttlMs`.
 */
export class MemoryStoryRegistry implements StoryRegistry {
  private readonly byDigest = new Map<string, { entry: StoryEntry; expiresMs: number }>();
  private readonly stories = new Map<string, { entry: StoryEntry; expiresMs: number }>();

  constructor(
    private readonly o: StoryRegistryOptions,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async resolve(requests: readonly StoryRequest[]): Promise<string[]> {
    return requests.map((r) => this.resolveOne(r));
  }

  private resolveOne(r: StoryRequest): string {
    const now = this.nowMs();
    for (const map of [this.byDigest, this.stories])
      for (const [key, v] of map) if (v.expiresMs <= now) map.delete(key);
    const exact = this.byDigest.get(r.fingerprint.digest)?.entry;
    if (exact && Math.abs(r.eventTimeMs - exact.firstSeenMs) < this.o.windowMs) return exact.id;
    const near = nearestStory(
      [...this.stories.values()].map((v) => v.entry),
      r,
      this.o,
    );
    if (near) return near.id;
    const entry: StoryEntry = {
      id: r.documentId,
      firstSeenMs: r.eventTimeMs,
      simHash: r.fingerprint.simHash,
    };
    const expiresMs = now + this.o.ttlMs;
    this.byDigest.set(r.fingerprint.digest, { entry, expiresMs });
    if (entry.simHash) this.stories.set(entry.id, { entry, expiresMs });
    return entry.id;
  }
}
