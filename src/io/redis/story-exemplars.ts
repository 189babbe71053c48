import type { FinsentryConfig } from '../../config/schema.js';
import type { StatsObservation } from '../../domain/observation.js';
import { windowStoreOptions } from '../../stats/windows/rules.js';
import {
  exemplarEntries,
  mostNegative,
  windowBuckets,
  type ExemplarEntry,
  type StoryExemplar,
  type StoryExemplarOptions,
  type StoryExemplarQuery,
  type StoryExemplarStore,
  ALERT_STORY_LIMIT,
} from '../../stats/story-exemplars.js';
import { isCluster, type RedisClient } from './client.js';

/**
 * The stories behind a group's negative share, in Redis (src/stats/story-exemplars.ts, docs/alerting.md
 * "Surge"): one sorted set per (dimension, group, bucket), `P:ex:{<dim>|<group>}:<bucket start>`,
 * member = story id, score = its highest p(negative) (ZADD GT: recording twice changes nothing),
 * trimmed to the `perBucket` highest, expiring with the window counters. The keys of one group share a
 * hash tag, so one pipeline per group serves a cluster.
 */
export class RedisStoryExemplars implements StoryExemplarStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly o: StoryExemplarOptions & { keyPrefix: string; ttlSeconds: number },
  ) {}

  private key(dimension: string, group: string, bucketStartMs: number): string {
    return `${this.o.keyPrefix}:ex:{${dimension}|${group}}:${bucketStartMs}`;
  }

  async record(observations: readonly StatsObservation[]): Promise<void> {
    const byGroup = new Map<string, ExemplarEntry[]>();
    for (const e of exemplarEntries(observations, this.o)) {
      const tag = `${e.dimension}|${e.group}`;
      const list = byGroup.get(tag);
      if (list) list.push(e);
      else byGroup.set(tag, [e]);
    }
    // One round trip on a single node; on a cluster one per group (its keys share a slot).
    const calls = isCluster(this.redis) ? [...byGroup.values()] : [[...byGroup.values()].flat()];
    await Promise.all(
      calls.map(async (entries) => {
        const pipeline = this.redis.pipeline();
        const keys = new Set<string>();
        for (const e of entries) {
          const key = this.key(e.dimension, e.group, e.bucketStartMs);
          pipeline.zadd(key, 'GT', e.pNeg, e.storyId);
          keys.add(key);
        }
        for (const key of keys) {
          pipeline.zremrangebyrank(key, 0, -(this.o.perBucket + 1));
          pipeline.expire(key, this.o.ttlSeconds);
        }
        for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
      }),
    );
  }

  async topNegative(q: StoryExemplarQuery): Promise<StoryExemplar[]> {
    const buckets = windowBuckets(q, this.o.bucketMs);
    if (buckets.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const b of buckets)
      pipeline.zrevrange(this.key(q.dimension, q.group, b), 0, q.limit - 1, 'WITHSCORES');
    const lists: StoryExemplar[][] = [];
    for (const [err, reply] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      const flat = reply as string[];
      const list: StoryExemplar[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2)
        list.push({ storyId: flat[i]!, pNeg: Number(flat[i + 1]) });
      lists.push(list);
    }
    return mostNegative(lists, q.limit);
  }
}

/**
 * The exemplars of config: the groups of stats.stories.dedupDimensions (issuer, ticker), the keys of
 * the window store's prefix and TTL; null when no dimension is configured.
 */
export function storyExemplarsFromConfig(
  redis: RedisClient,
  cfg: FinsentryConfig,
): RedisStoryExemplars | null {
  const dimensions = cfg.stats.stories.dedupDimensions;
  if (dimensions.length === 0) return null;
  const { keyPrefix, ttlSeconds } = windowStoreOptions(cfg);
  return new RedisStoryExemplars(redis, {
    keyPrefix,
    ttlSeconds,
    bucketMs: cfg.stats.bucket,
    dimensions,
    perBucket: ALERT_STORY_LIMIT,
  });
}
