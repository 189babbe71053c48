import { withStatePortOf } from '../domain/partition-state.js';
import type { StatsObservation } from '../domain/observation.js';
import type { StatsApplyResult, StatsBatch, StatsSink } from '../domain/windows.js';

/**
 * What a risk analyst opens first when a surge fires (docs/alerting.md "Surge", issue 18): the stories
 * that drove it, the most negative first, one entry per story. The window store keeps counts, not
 * documents, so the stories are kept beside it: per (dimension, group, bucket) the `perBucket` story
 * ids of negative-labelled documents with the highest p(negative), each story at its highest. A story
 * republished by several outlets is one entry (its story id, src/stats/story.ts); a document outside
 * stats.stories.kinds is its own story (its document id).
 *
 * Recording is idempotent (a story's score is a maximum), so a replayed batch changes nothing; late
 * observations are kept too (the counts refuse them, an analyst may still want the story).
 */

export interface StoryExemplar {
  storyId: string;
  pNeg: number;
}

/** One exemplar to record: a negative story seen in one group's bucket. */
export interface ExemplarEntry extends StoryExemplar {
  dimension: string;
  group: string;
  bucketStartMs: number;
}

export interface StoryExemplarQuery {
  dimension: string;
  group: string;
  windowMs: number;
  /** Window end (exclusive), event time. */
  endMs: number;
  limit: number;
}

export interface StoryExemplarStore {
  record(observations: readonly StatsObservation[]): Promise<void>;
  /** The most negative stories of a group in a window, highest p(negative) first, one per story. */
  topNegative(query: StoryExemplarQuery): Promise<StoryExemplar[]>;
}

export interface StoryExemplarOptions {
  bucketMs: number;
  /** Dimensions whose groups keep exemplars (stats.stories.dedupDimensions: issuer, ticker). */
  dimensions: readonly string[];
  /** Stories kept per group and bucket (the alert carries at most this many). */
  perBucket: number;
}

/** Stories an alert carries (labels.story_ids, the Alertmanager annotation story_ids). */
export const ALERT_STORY_LIMIT = 5;

/** The entries a batch of observations contributes: negative-labelled documents of the dimensions. */
export function exemplarEntries(
  observations: readonly StatsObservation[],
  o: Pick<StoryExemplarOptions, 'bucketMs' | 'dimensions'>,
): ExemplarEntry[] {
  const dims = new Set(o.dimensions);
  const out: ExemplarEntry[] = [];
  for (const obs of observations) {
    if (obs.label !== 'negative') continue;
    const bucketStartMs = Math.floor(obs.eventTimeMs / o.bucketMs) * o.bucketMs;
    const storyId = obs.storyId ?? obs.documentId;
    for (const g of obs.groups)
      if (dims.has(g.dimension))
        out.push({ dimension: g.dimension, group: g.value, bucketStartMs, storyId, pNeg: obs.pNeg });
  }
  return out;
}

/**
 * Highest p(negative) per story over several lists, the `limit` most negative. Ties go to the greater
 * story id, as a Redis sorted set ranks equal scores (ZREVRANGE order; trimming drops the least).
 */
export function mostNegative(lists: Iterable<Iterable<StoryExemplar>>, limit: number): StoryExemplar[] {
  const best = new Map<string, number>();
  for (const list of lists)
    for (const e of list) if (e.pNeg > (best.get(e.storyId) ?? -1)) best.set(e.storyId, e.pNeg);
  return [...best]
    .map(([storyId, pNeg]) => ({ storyId, pNeg }))
    .sort((a, b) => b.pNeg - a.pNeg || (a.storyId < b.storyId ? 1 : a.storyId > b.storyId ? -1 : 0))
    .slice(0, limit);
}

/** Bucket starts of a window [endMs − windowMs, endMs). */
export function windowBuckets(q: Pick<StoryExemplarQuery, 'windowMs' | 'endMs'>, bucketMs: number): number[] {
  const out: number[] = [];
  const first = Math.ceil((q.endMs - q.windowMs) / bucketMs) * bucketMs;
  for (let b = first; b < q.endMs; b += bucketMs) out.push(b);
  return out;
}

/** In process memory (unit tests, backtests, the in-memory alerting); buckets older than `retentionMs` are dropped. */
export class MemoryStoryExemplars implements StoryExemplarStore {
  private readonly buckets = new Map<string, Map<string, StoryExemplar[]>>();
  private newestMs = 0;

  constructor(private readonly o: StoryExemplarOptions & { retentionMs: number }) {}

  async record(observations: readonly StatsObservation[]): Promise<void> {
    for (const e of exemplarEntries(observations, this.o)) {
      const key = `${e.dimension}|${e.group}`;
      let byBucket = this.buckets.get(key);
      if (!byBucket) this.buckets.set(key, (byBucket = new Map()));
      const bucketKey = String(e.bucketStartMs);
      byBucket.set(bucketKey, mostNegative([byBucket.get(bucketKey) ?? [], [e]], this.o.perBucket));
      this.newestMs = Math.max(this.newestMs, e.bucketStartMs);
    }
    this.expire();
  }

  async topNegative(q: StoryExemplarQuery): Promise<StoryExemplar[]> {
    const byBucket = this.buckets.get(`${q.dimension}|${q.group}`);
    if (!byBucket) return [];
    const lists = windowBuckets(q, this.o.bucketMs).map((b) => byBucket.get(String(b)) ?? []);
    return mostNegative(lists, q.limit);
  }

  private expire(): void {
    const oldest = this.newestMs - this.o.retentionMs;
    for (const [key, byBucket] of this.buckets) {
      for (const b of byBucket.keys()) if (Number(b) < oldest) byBucket.delete(b);
      if (byBucket.size === 0) this.buckets.delete(key);
    }
  }
}

/**
 * A StatsSink that records the exemplars of every batch it applies, after the window store took it
 * (a failure of either fails the call, and the pipeline retries it: both are idempotent).
 */
export function withStoryExemplars(sink: StatsSink, exemplars: StoryExemplarStore): StatsSink {
  return withStatePortOf(
    {
      async apply(batches: StatsBatch[]): Promise<StatsApplyResult[]> {
        const results = await sink.apply(batches);
        await exemplars.record(batches.flatMap((b) => b.observations));
        return results;
      },
    },
    sink,
  );
}
